// The pages of the apps built into this dashboard, by app name then page key. The server says
// which apps are enabled (GET /api/v1/apps); only their pages are routed and listed.
import type { ComponentType } from "react";
import { pages as demo } from "./demo";
import { pages as portfolio } from "./portfolio";
import { pages as sales } from "./sales";
import { pages as scoping } from "./scoping";

export type AppPages = Record<string, ComponentType>;

export const APP_PAGES: Record<string, AppPages> = {
  demo,
  portfolio,
  sales,
  scoping,
};

/** The component for `/apps/<app>/<key>`, if that app is built in and enabled. */
export function appPage(enabled: string[], app: string, key: string): ComponentType | null {
  if (!enabled.includes(app)) return null;
  return APP_PAGES[app]?.[key] ?? null;
}
