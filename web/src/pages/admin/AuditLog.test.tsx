import { cleanup, fireEvent, render, screen, within } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Api } from "../../api";
import type { TokenStore } from "../../api";
import { dayBoundary } from "../../format";
import { SessionProvider, useSession } from "../../session";
import type { AuditEntry, Me, Page } from "../../types";
import { AdminPage } from "./index";

const auditor: Me = {
  kind: "user",
  api_key: null,
  user: { id: "u0", email: "admin@acme.example", name: "Ada", role: "admin" },
  tenant: { id: "t", slug: "acme", name: "Acme" },
  roles: ["admin"],
  scopes: ["runs:read", "audit:read", "admin"],
};

const entry = (n: number, action = "auth.sign_in"): AuditEntry => ({
  id: `e${n}`,
  created_at: `2026-12-0${n}T10:00:00Z`,
  actor_kind: "user",
  actor_id: "u0",
  actor: "admin@acme.example",
  action,
  target_kind: "user",
  target_id: `u${n}`,
  client_address: "203.0.113.7",
  details: n === 1 ? { role: { from: "viewer", to: "reviewer" } } : {},
});

const store: TokenStore = { get: () => ({ access_token: "a" }), set: () => {} };

function SignedIn() {
  const { me } = useSession();
  return me ? <AdminPage /> : null;
}

function serve(me: Me = auditor) {
  const asked: string[] = [];
  const fetcher = async (input: string) => {
    asked.push(input);
    const url = new URL(input, "http://batonflow.test");
    let body: unknown = { items: [], next_cursor: null };
    if (url.pathname === "/api/v1/me") body = me;
    else if (url.pathname === "/api/v1/audit/actions")
      body = [
        { action: "auth.sign_in", description: "a user signed in" },
        { action: "user.update", description: "an admin changed a user" },
      ];
    else if (url.pathname === "/api/v1/audit/export")
      return new Response('{"id":"e1"}\n', {
        status: 200,
        headers: { "Content-Type": "application/x-ndjson", "Content-Disposition": 'attachment; filename="batonflow-audit-20261203T100000Z.jsonl"' },
      });
    else if (url.pathname === "/api/v1/audit") {
      const page: Page<AuditEntry> =
        url.searchParams.get("cursor") === "p2"
          ? { items: [entry(1, "user.update")], next_cursor: null }
          : { items: [entry(3), entry(2)], next_cursor: "p2" };
      body = url.searchParams.get("action") === "user.update" ? { items: [entry(1, "user.update")], next_cursor: null } : page;
    }
    return new Response(JSON.stringify(body), { status: 200, headers: { "Content-Type": "application/json" } });
  };
  render(
    <SessionProvider api={new Api(store, fetcher)}>
      <SignedIn />
    </SessionProvider>,
  );
  return asked;
}

function auditRows(): string[][] {
  const section = screen.getByRole("heading", { name: "Audit log" }).closest("section") as HTMLElement;
  return within(section)
    .getAllByRole("row")
    .slice(1)
    .map((row) => Array.from(row.querySelectorAll("td")).map((cell) => cell.textContent ?? ""));
}

beforeEach(() => window.history.replaceState(null, "", "/admin"));
afterEach(() => {
  cleanup();
  vi.restoreAllMocks();
});

describe("the audit log on the admin page", () => {
  it("lists entries newest first, appends older ones, and filters by action and days", async () => {
    const asked = serve();
    await vi.waitFor(() => expect(auditRows().length).toBe(2), { timeout: 5000 });
    expect(auditRows().map((row) => [row[1], row[2], row[3], row[4]])).toEqual([
      ["admin@acme.example (user)", "auth.sign_in", "user u3", "203.0.113.7"],
      ["admin@acme.example (user)", "auth.sign_in", "user u2", "203.0.113.7"],
    ]);
    fireEvent.click(screen.getByRole("button", { name: "Load more audit entries" }));
    await vi.waitFor(() => expect(auditRows().length).toBe(3), { timeout: 5000 });
    expect(auditRows()[2]?.[5]).toBe('{"role":{"from":"viewer","to":"reviewer"}}');

    await screen.findByRole("option", { name: "user.update" });
    fireEvent.change(screen.getByLabelText("Action"), { target: { value: "user.update" } });
    fireEvent.change(screen.getByLabelText("From (day)"), { target: { value: "2026-12-01" } });
    fireEvent.change(screen.getByLabelText("Actor (email, key or id)"), { target: { value: " admin@acme.example " } });
    fireEvent.click(screen.getByRole("button", { name: "Apply" }));
    await vi.waitFor(() => expect(auditRows().map((row) => row[2])).toEqual(["user.update"]));
    const since = dayBoundary("2026-12-01") as string;
    expect(asked.filter((path) => path.startsWith("/api/v1/audit?"))).toEqual([
      "/api/v1/audit?limit=50",
      "/api/v1/audit?cursor=p2&limit=50",
      `/api/v1/audit?actor=admin%40acme.example&action=user.update&since=${encodeURIComponent(since)}&limit=50`,
    ]);
  });

  it("exports the filtered log as a download named by the API", async () => {
    const asked = serve();
    await vi.waitFor(() => expect(auditRows().length).toBe(2), { timeout: 5000 });
    const created: Blob[] = [];
    const clicked: string[] = [];
    vi.spyOn(URL, "createObjectURL").mockImplementation((blob) => (created.push(blob as Blob), "blob:audit"));
    vi.spyOn(URL, "revokeObjectURL").mockImplementation(() => {});
    vi.spyOn(HTMLAnchorElement.prototype, "click").mockImplementation(function (this: HTMLAnchorElement) {
      clicked.push(`${this.download} ${this.getAttribute("href")}`);
    });
    fireEvent.click(screen.getByRole("button", { name: "Export JSON Lines" }));
    await vi.waitFor(() => expect(clicked).toEqual(["batonflow-audit-20261203T100000Z.jsonl blob:audit"]));
    expect(await created[0]?.text()).toBe('{"id":"e1"}\n');
    expect(asked.filter((path) => path.startsWith("/api/v1/audit/export"))).toEqual(["/api/v1/audit/export?format=jsonl"]);
  });

  it("is not shown to an admin key without audit:read", async () => {
    const asked = serve({ ...auditor, scopes: ["runs:read", "admin"] });
    await screen.findByRole("heading", { name: "Users" });
    expect(screen.queryByRole("heading", { name: "Audit log" })).toBeNull();
    expect(asked.some((path) => path.startsWith("/api/v1/audit"))).toBe(false);
  });
});
