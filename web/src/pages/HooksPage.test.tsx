import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Api } from "../api";
import type { TokenStore } from "../api";
import { SessionProvider } from "../session";
import type { Hook, HookSecret, Me } from "../types";
import { HooksPage, curlExample } from "./HooksPage";

const operator: Me = {
  kind: "user",
  api_key: null,
  user: { id: "u", email: "o@acme.example", name: "Otto", role: "operator" },
  tenant: { id: "t", slug: "acme", name: "Acme" },
  roles: ["operator", "viewer"],
  scopes: ["runs:read", "triggers:read", "triggers:write"],
};
const viewer: Me = { ...operator, roles: ["viewer"], scopes: ["runs:read", "triggers:read"] };
const hook: Hook = {
  id: "hk_abc",
  path: "/api/v1/hooks/hk_abc",
  name: "crm",
  workflow_id: "outreach",
  version: null,
  created_by: "otto",
  created_at: "2026-12-01T00:00:00Z",
  rotated_at: "2026-12-01T00:00:00Z",
};
const secret: HookSecret = { ...hook, secret: "whsec_new", signature_header: "X-Batonflow-Signature", delivery_header: "X-Batonflow-Delivery" }; // pragma: allowlist secret (test data)
const store: TokenStore = { get: () => ({ access_token: "a", refresh_token: "r" }), set: () => {} };

function serve(me: Me) {
  const sent: { method: string; path: string }[] = [];
  const fetcher = async (input: string, init?: RequestInit) => {
    const method = init?.method ?? "GET";
    if (method !== "GET") sent.push({ method, path: input });
    let body: unknown = {};
    if (input === "/api/v1/me") body = me;
    else if (input === "/api/v1/hooks" && method === "GET") body = { items: [hook] };
    else if (method === "POST") body = secret;
    else if (method === "DELETE") return new Response(null, { status: 204 });
    return new Response(JSON.stringify(body), { status: 200, headers: { "Content-Type": "application/json" } });
  };
  render(
    <SessionProvider api={new Api(store, fetcher)}>
      <HooksPage />
    </SessionProvider>,
  );
  return sent;
}

beforeEach(() => window.history.replaceState(null, "", "/hooks"));
afterEach(cleanup);

describe("HooksPage", () => {
  it("lists hooks without secrets and shows a rotated secret once, with an example", async () => {
    const sent = serve(operator);
    expect(await screen.findByText("POST /api/v1/hooks/hk_abc")).toBeTruthy();
    expect(screen.queryByText("whsec_new")).toBeNull();
    fireEvent.click(screen.getByRole("button", { name: "Rotate secret" }));
    const shown = await screen.findByRole("status", { name: "New secret" });
    expect(shown.textContent).toContain("whsec_new");
    expect(screen.getByLabelText("Example delivery").textContent).toContain("-hmac 'whsec_new'");
    fireEvent.click(screen.getByRole("button", { name: "Done" }));
    expect(screen.queryByText("whsec_new")).toBeNull();
    fireEvent.click(screen.getByRole("button", { name: "Delete" }));
    await vi.waitFor(() =>
      expect(sent).toEqual([
        { method: "POST", path: "/api/v1/hooks/hk_abc/rotate" },
        { method: "DELETE", path: "/api/v1/hooks/hk_abc" },
      ]),
    );
  });

  it("creates a hook for a workflow", async () => {
    const sent = serve(operator);
    fireEvent.change(await screen.findByLabelText("Name"), { target: { value: "crm" } });
    fireEvent.change(screen.getByLabelText("Workflow"), { target: { value: "outreach" } });
    fireEvent.click(screen.getByRole("button", { name: "Create hook" }));
    expect(await screen.findByText("Secret for crm")).toBeTruthy();
    expect(sent).toEqual([{ method: "POST", path: "/api/v1/hooks" }]);
  });

  it("lets a viewer see hooks but not change them", async () => {
    serve(viewer);
    expect(await screen.findByText("crm")).toBeTruthy();
    expect(screen.queryByRole("button", { name: "Rotate secret" })).toBeNull();
    expect(screen.queryByRole("button", { name: "Create hook" })).toBeNull();
  });

  it("signs the example the way the server checks", () => {
    expect(curlExample("https://flow.example", secret)).toBe(
      [
        `BODY='{"example": "input"}'`,
        `SIG="sha256=$(printf '%s' "$BODY" | openssl dgst -sha256 -hmac 'whsec_new' -hex | sed 's/^.* //')"`,
        `curl -X POST 'https://flow.example/api/v1/hooks/hk_abc' -H 'Content-Type: application/json' \\`,
        `  -H "X-Batonflow-Signature: $SIG" -H "X-Batonflow-Delivery: $(uuidgen)" -d "$BODY"`,
      ].join("\n"),
    );
  });
});
