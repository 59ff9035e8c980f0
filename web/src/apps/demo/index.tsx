// The demo app's dashboard pages, by the keys its `App.pages` declares (src/batonflow/apps/demo).
import type { AppPages } from "../pages";
import { OutboxPage } from "./OutboxPage";

export const pages: AppPages = {
  outbox: OutboxPage,
};
