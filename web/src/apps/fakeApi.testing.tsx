// An app's page tests: the dashboard rendered whole (App, signed in, one app enabled) against a
// fetch that answers like the API, route by route, and keeps every request the pages sent.
import { configure, render } from "@testing-library/react";
import { Api } from "../api";
import type { TokenStore } from "../api";
import { App } from "../App";
import { SessionProvider } from "../session";
import type { AppList, Me } from "../types";

export const operator: Me = {
  kind: "user",
  api_key: null,
  user: { id: "u1", email: "ada@acme.example", name: "Ada", role: "operator" },
  tenant: { id: "t1", slug: "acme", name: "Acme" },
  roles: ["operator", "viewer"],
  scopes: ["runs:read", "runs:write"],
};

export const viewer: Me = { ...operator, roles: ["viewer"], scopes: ["runs:read"] };

export const admin: Me = { ...operator, roles: ["admin"], scopes: ["runs:read", "runs:write", "admin"] };

/** The enabled app, as `GET /api/v1/apps` lists it. */
export type EnabledApp = AppList["items"][number];

export interface Sent {
  method: string;
  path: string;
  body: unknown;
  type: string | null;
}

/** An answer: a status and a JSON body (or `undefined` for none). */
export type Answer = [number, unknown];
/** Answers by "METHOD path" (the path with its query); a list answers in turn, then repeats its last. */
export type Routes = Record<string, Answer | Answer[]>;

export function json(status: number, body: unknown): Response {
  return new Response(body === undefined ? null : JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json" },
  });
}

export function serveApp(app: EnabledApp, path: string, routes: Routes, me: Me = operator): Sent[] {
  // The whole dashboard loads first (session, apps): give a busy machine time to render it.
  configure({ asyncUtilTimeout: 5000 });
  window.history.pushState(null, "", path);
  const sent: Sent[] = [];
  const calls: Record<string, number> = {};
  const store: TokenStore = { get: () => ({ access_token: "a" }), set: () => {} };
  const fetcher = async (input: string, init?: RequestInit) => {
    const method = init?.method ?? "GET";
    const type = new Headers(init?.headers).get("Content-Type");
    if (method !== "GET") {
      const body = type === "application/json" && typeof init?.body === "string" ? JSON.parse(init.body) : init?.body;
      sent.push({ method, path: input, body, type });
    }
    if (input === "/api/v1/me") return json(200, me);
    if (input === "/api/v1/apps") return json(200, { items: [app] });
    const key = `${method} ${input}`;
    const found = routes[key];
    if (found === undefined) return json(404, { error: { code: "not_found", message: `no route ${key}`, details: {} } });
    const turn = calls[key] ?? 0;
    calls[key] = turn + 1;
    const answer = Array.isArray(found[0]) ? (found as Answer[])[Math.min(turn, found.length - 1)] : (found as Answer);
    const [status, body] = answer as Answer;
    return json(status, body);
  };
  render(
    <SessionProvider api={new Api(store, fetcher)}>
      <App />
    </SessionProvider>,
  );
  return sent;
}
