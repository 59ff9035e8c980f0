// The sales pages' tests: the dashboard with the sales app enabled (../fakeApi.testing.tsx).
import type { EnabledApp, Routes, Sent } from "../fakeApi.testing";
import { operator, serveApp } from "../fakeApi.testing";
import type { Me } from "../../types";

export { json, operator, viewer, admin } from "../fakeApi.testing";
export type { Answer, Routes, Sent } from "../fakeApi.testing";

const salesApp: EnabledApp = {
  name: "sales",
  title: "Sales",
  description: "Leads to cash",
  api: "/api/v1/sales",
  pages: [
    { key: "leads", title: "Leads", path: "/apps/sales/leads" },
    { key: "board", title: "Pipeline board", path: "/apps/sales/board" },
    { key: "deals", title: "Deals", path: "/apps/sales/deals" },
    { key: "products", title: "Products", path: "/apps/sales/products" },
    { key: "emails", title: "Emails", path: "/apps/sales/emails" },
    { key: "invoices", title: "Invoices", path: "/apps/sales/invoices" },
    { key: "contracts", title: "Contracts", path: "/apps/sales/contracts" },
    { key: "settings", title: "Settings", path: "/apps/sales/settings" },
  ],
  workflows: [],
};

export function serve(path: string, routes: Routes, me: Me = operator): Sent[] {
  return serveApp(salesApp, path, routes, me);
}
