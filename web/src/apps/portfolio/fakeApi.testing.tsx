// The portfolio pages' tests: the dashboard with the portfolio app enabled (../fakeApi.testing.tsx).
import type { EnabledApp, Routes, Sent } from "../fakeApi.testing";
import { operator, serveApp } from "../fakeApi.testing";
import type { Me } from "../../types";

export { json, operator, viewer } from "../fakeApi.testing";
export type { Answer, Routes, Sent } from "../fakeApi.testing";

const portfolioApp: EnabledApp = {
  name: "portfolio",
  title: "Portfolio",
  description: "Analytics on pricing packs",
  api: "/api/v1/portfolio",
  pages: [
    { key: "portfolios", title: "Portfolios", path: "/apps/portfolio/portfolios" },
    { key: "packs", title: "Pricing packs", path: "/apps/portfolio/packs" },
  ],
  workflows: [],
};

export function serve(path: string, routes: Routes, me: Me = operator): Sent[] {
  return serveApp(portfolioApp, path, routes, me);
}
