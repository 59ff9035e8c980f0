import { cleanup, render, screen, within } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { Api } from "../../api";
import type { TokenStore } from "../../api";
import { App } from "../../App";
import { SessionProvider } from "../../session";
import type { AppList, Me, OutboxEmail } from "../../types";

const operator: Me = {
  kind: "user",
  api_key: null,
  user: { id: "u1", email: "op@acme.example", name: "Olga", role: "operator" },
  tenant: { id: "t1", slug: "acme", name: "Acme" },
  roles: ["operator", "viewer"],
  scopes: ["runs:read", "runs:write", "reviews:read"],
};

const demo: AppList["items"][number] = {
  name: "demo",
  title: "Demo",
  description: "Example agents and workflows",
  api: "/api/v1/demo",
  pages: [{ key: "outbox", title: "Outbox", path: "/apps/demo/outbox" }],
  workflows: ["outreach.yaml"],
};

const sent: OutboxEmail = {
  key: "run-1:send:1",
  run_id: "01a2-run-0000-0000-1234abcd",
  to: "ada@example.com",
  subject: "Analytical + Batonflow",
  body: "Hello Ada,\n\nA guided pilot.",
  sent_at: "2026-12-01T10:00:00Z",
};

const store: TokenStore = { get: () => ({ access_token: "a" }), set: () => {} };

function open(path: string, apps: AppList["items"]) {
  window.history.pushState(null, "", path);
  const asked: string[] = [];
  const fetcher = async (input: string) => {
    asked.push(input);
    let body: unknown = { items: [], next_cursor: null };
    if (input === "/api/v1/me") body = operator;
    else if (input === "/api/v1/apps") body = { items: apps };
    else if (input === "/api/v1/demo/outbox") body = { items: [sent] };
    return new Response(JSON.stringify(body), { status: 200, headers: { "Content-Type": "application/json" } });
  };
  render(
    <SessionProvider api={new Api(store, fetcher)}>
      <App />
    </SessionProvider>,
  );
  return asked;
}

describe("app pages", () => {
  afterEach(() => {
    cleanup();
    window.history.pushState(null, "", "/");
  });

  it("lists an enabled app's page in the navigation and shows it", async () => {
    open("/apps/demo/outbox", [demo]);

    const nav = await screen.findByRole("navigation", { name: "Pages" });
    const link = await within(nav).findByRole("link", { name: "Outbox" });
    expect(link.getAttribute("href")).toBe("/apps/demo/outbox");
    expect(link.getAttribute("aria-current")).toBe("page");
    expect(await screen.findByRole("heading", { level: 1, name: "Outbox" })).toBeTruthy();
    expect(await screen.findByText("Analytical + Batonflow")).toBeTruthy();
    expect(screen.getByText("to ada@example.com")).toBeTruthy();
    expect(screen.getByText(/A guided pilot\./)).toBeTruthy();
  });

  it("has no page and no link for an app the server does not enable", async () => {
    const asked = open("/apps/demo/outbox", []);

    expect(await screen.findByRole("heading", { level: 1, name: "Not found" })).toBeTruthy();
    const nav = screen.getByRole("navigation", { name: "Pages" });
    expect(within(nav).queryByRole("link", { name: "Outbox" })).toBeNull();
    expect(asked).not.toContain("/api/v1/demo/outbox");
  });
});
