// What the signed-in principal may do, from its scopes (src/batonflow/auth/scopes.py). The UI
// hides what the role may not use; the API enforces the same rules whatever the UI shows.
import { userDetailRoleValues } from "./openapi";
import type { Me, Review, Role } from "./types";

/** The roles a user may have, in the API's order. */
export const ROLES: readonly Role[] = userDetailRoleValues;

export const ACTION_SCOPES = {
  "runs.view": "runs:read",
  "runs.start": "runs:write",
  "runs.cancel": "runs:write",
  "runs.retry": "runs:write",
  "runs.override": "runs:write",
  "runs.dismiss": "runs:write",
  "workflows.view": "workflows:read",
  "workflows.write": "workflows:write",
  "reviews.view": "reviews:read",
  "reviews.decide": "reviews:decide",
  "prompts.view": "prompts:read",
  "prompts.create": "prompts:write",
  "usage.view": "usage:read",
  "kb.view": "kb:read",
  "kb.write": "kb:write",
  "triggers.view": "triggers:read",
  "triggers.write": "triggers:write",
  "admin": "admin",
} as const;

export type Action = keyof typeof ACTION_SCOPES;

export function can(me: Pick<Me, "scopes"> | null | undefined, action: Action): boolean {
  return !!me && me.scopes.includes(ACTION_SCOPES[action]);
}

/** May `me` decide this review: the scope, and one of the roles the step names. */
export function canDecide(me: Pick<Me, "scopes" | "roles"> | null | undefined, review: Pick<Review, "reviewers">): boolean {
  if (!can(me, "reviews.decide") || !me) return false;
  return review.reviewers.length === 0 || review.reviewers.some((role) => (me.roles as string[]).includes(role));
}

export interface NavItem {
  path: string;
  label: string;
  action: Action;
}

export const NAV: NavItem[] = [
  { path: "/runs", label: "Runs", action: "runs.view" },
  { path: "/workflows", label: "Workflows", action: "workflows.view" },
  { path: "/reviews", label: "Reviews", action: "reviews.view" },
  { path: "/dead-letters", label: "Dead letters", action: "runs.view" },
  { path: "/prompts", label: "Prompts", action: "prompts.view" },
  { path: "/knowledge", label: "Knowledge", action: "kb.view" },
  { path: "/schedules", label: "Schedules", action: "triggers.view" },
  { path: "/hooks", label: "Hooks", action: "triggers.view" },
  { path: "/usage", label: "Usage", action: "usage.view" },
  { path: "/admin", label: "Admin", action: "admin" },
];

export function navFor(me: Pick<Me, "scopes"> | null | undefined): NavItem[] {
  return NAV.filter((item) => can(me, item.action));
}

/** Where signing in lands: a reviewer (who starts nothing) on the review queue, others on Runs. */
export function homePath(me: Pick<Me, "roles" | "scopes">): string {
  const role = mainRole(me);
  if ((role === "reviewer" || !can(me, "runs.view")) && can(me, "reviews.view")) return "/reviews";
  return "/runs";
}

/** The most capable role, to show beside the user's name. */
export function mainRole(me: Pick<Me, "roles">): string {
  for (const role of ["admin", "operator", "reviewer", "viewer"] as const) {
    if (me.roles.includes(role)) return role;
  }
  return "no role";
}
