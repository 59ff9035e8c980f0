// The scoping app as `GET /api/v1/apps` lists it, for the app's page tests.
import type { EnabledApp } from "../fakeApi.testing";

export const scoping: EnabledApp = {
  name: "scoping",
  title: "Scoping",
  description: "Guided sessions",
  api: "/api/v1/scoping",
  pages: [{ key: "sessions", title: "Scoping sessions", path: "/apps/scoping/sessions" }],
  workflows: [],
};
