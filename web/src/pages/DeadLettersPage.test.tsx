import { cleanup, fireEvent, render, screen, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { Api } from "../api";
import type { TokenStore } from "../api";
import type { components } from "../openapi";
import { SessionProvider } from "../session";
import type { Me } from "../types";
import { DeadLettersPage } from "./DeadLettersPage";

const operator: Me = {
  kind: "user",
  api_key: null,
  user: { id: "u", email: "o@acme.example", name: "Otto", role: "operator" },
  tenant: { id: "t", slug: "acme", name: "Acme" },
  roles: ["operator"],
  scopes: ["runs:read", "runs:write"],
};
const viewer: Me = { ...operator, roles: ["viewer"], scopes: ["runs:read"] };

const itemError = { code: "invalid_args", message: "symbol: String should have at least 1 character", details: {} };
const letter: components["schemas"]["DeadLetter"] = {
  run_id: "0199aaaa-bbbb-cccc-dddd-eeeeffff0001",
  workflow_id: "market-report",
  workflow_version: "2",
  started_at: "2026-01-01T00:00:00Z",
  finished_at: "2026-01-01T00:01:00Z",
  error: {
    code: "step_failed",
    message: "1 of 2 map items failed",
    details: { failed_items: [{ index: 1, item: "", attempts: 3, error: itemError }], items: 2 },
    step: "quotes",
  },
  failed_step: "quotes",
  attempts: 3,
  last_attempt: {
    step_key: "quotes",
    attempt: 3,
    dispatch: 3,
    status: "failed",
    worker: "w1",
    idempotency_key: "x:quotes:3",
    started_at: "2026-01-01T00:00:50Z",
    finished_at: "2026-01-01T00:01:00Z",
    duration_ms: 10000,
    error: { code: "step_failed", message: "the quote service timed out", details: {} },
    args: { over: ["ACME", ""] },
  },
};

const store: TokenStore = { get: () => ({ access_token: "a" }), set: () => {} };

function serve(me: Me) {
  const posts: { path: string; body: unknown }[] = [];
  let items = [letter];
  const fetcher = async (input: string, init?: RequestInit) => {
    let body: unknown = {};
    if (input === "/api/v1/me") body = me;
    else if (input.startsWith("/api/v1/dead-letters")) body = { items };
    else if (init?.method === "POST") {
      posts.push({ path: input, body: init.body ? JSON.parse(String(init.body)) : null });
      items = [];
    }
    return new Response(JSON.stringify(body), { status: 200, headers: { "Content-Type": "application/json" } });
  };
  render(
    <SessionProvider api={new Api(store, fetcher)}>
      <DeadLettersPage />
    </SessionProvider>,
  );
  return posts;
}

afterEach(cleanup);

describe("DeadLettersPage", () => {
  it("shows the failed step, its attempts, the last attempt's result and each failed item", async () => {
    serve(operator);
    const card = await screen.findByTestId("dead-letter");
    expect(card.textContent).toContain("Step quotes failed after 3 attempts.");
    expect(card.textContent).toMatch(/Last attempt \(#3, .+ ago\)/);
    expect(card.querySelector('time[datetime="2026-01-01T00:01:00Z"]')?.getAttribute("title")).toMatch(/^2026-01-01/);
    expect(card.textContent).toContain("step_failed: the quote service timed out");
    const items = within(card).getByRole("list", { name: "Failed items" });
    expect(items.textContent).toBe('item 1 "", 3 attempts: invalid_args: symbol: String should have at least 1 character');
  });

  it("lets an operator dismiss a run with a reason, which takes it off the list", async () => {
    const posts = serve(operator);
    fireEvent.click(await screen.findByRole("button", { name: "Dismiss…" }));
    fireEvent.change(screen.getByLabelText("Why not retry it?"), { target: { value: "supplier gone" } });
    fireEvent.click(screen.getByRole("button", { name: "Dismiss" }));
    await vi.waitFor(() => expect(posts).toEqual([{ path: `/api/v1/runs/${letter.run_id}/dismiss`, body: { reason: "supplier gone" } }]));
    expect(await screen.findByText(/^No dead runs/)).toBeTruthy();
  });

  it("offers a viewer neither retry nor dismiss", async () => {
    serve(viewer);
    await screen.findByTestId("dead-letter");
    expect(screen.queryByRole("button", { name: "Retry" })).toBeNull();
    expect(screen.queryByRole("button", { name: "Dismiss…" })).toBeNull();
  });
});
