import { cleanup, fireEvent, render, screen, within } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Api } from "../../api";
import type { TokenStore } from "../../api";
import { SessionProvider, useSession } from "../../session";
import type { ApiKey, Invitation, Me, Page, UserDetail } from "../../types";
import { AdminPage } from "./index";

const admin: Me = {
  kind: "user",
  api_key: null,
  user: { id: "u0", email: "admin@acme.example", name: "Ada", role: "admin" },
  tenant: { id: "t", slug: "acme", name: "Acme" },
  roles: ["admin"],
  scopes: ["runs:read", "admin"],
};

const user = (n: number): UserDetail => ({
  id: `u${n}`,
  email: `user${n}@acme.example`,
  name: `User ${n}`,
  role: "viewer",
  active: true,
  created_at: "2026-01-01T00:00:00Z",
  last_login_at: null,
});
const key = (n: number): ApiKey => ({
  id: `k${n}`,
  name: `key ${n}`,
  prefix: `bf_key${n}`,
  scopes: ["runs:read"],
  created_by: "admin@acme.example",
  created_at: "2026-01-01T00:00:00Z",
  expires_at: null,
  last_used_at: null,
  revoked_at: null,
});
const invitation = (n: number): Invitation => ({
  id: `i${n}`,
  email: `invitee${n}@acme.example`,
  role: "viewer",
  status: "pending",
  created_by: "admin@acme.example",
  created_at: "2026-01-01T00:00:00Z",
  expires_at: "2026-01-08T00:00:00Z",
  accepted_at: null,
  revoked_at: null,
});

const store: TokenStore = { get: () => ({ access_token: "a" }), set: () => {} };

/** The page once `/me` has answered, as the app's router shows it. */
function SignedIn() {
  const { me } = useSession();
  return me ? <AdminPage /> : null;
}

/** Each list in two pages: the first gives the cursor "p2", which gives the last page. */
function serve(lists: Record<string, [unknown[], unknown[]]>) {
  const asked: string[] = [];
  const patched: unknown[] = [];
  const fetcher = async (input: string, init?: RequestInit) => {
    asked.push(input);
    const url = new URL(input, "http://batonflow.test");
    const pages = lists[url.pathname];
    let body: unknown = {};
    if (url.pathname === "/api/v1/me") body = admin;
    else if (init?.method === "PATCH") patched.push(JSON.parse(String(init.body)));
    else if (pages) {
      const [first, second] = pages;
      const cursor = url.searchParams.get("cursor");
      const page: Page<unknown> = cursor === "p2" ? { items: second, next_cursor: null } : { items: first, next_cursor: "p2" };
      body = page;
    }
    return new Response(JSON.stringify(body), { status: 200, headers: { "Content-Type": "application/json" } });
  };
  render(
    <SessionProvider api={new Api(store, fetcher)}>
      <SignedIn />
    </SessionProvider>,
  );
  return { asked, patched };
}

const LISTS: Record<string, [unknown[], unknown[]]> = {
  "/api/v1/users": [[user(1), user(2)], [user(3)]],
  "/api/v1/api-keys": [[key(1), key(2)], [key(3)]],
  "/api/v1/invitations": [[invitation(1), invitation(2)], [invitation(3)]],
};

function section(title: string): HTMLElement {
  return screen.getByRole("heading", { name: title }).closest("section") as HTMLElement;
}

function rows(title: string): string[] {
  return within(section(title))
    .getAllByRole("row")
    .slice(1)
    .map((row) => row.querySelector("td")?.textContent ?? "");
}

beforeEach(() => window.history.replaceState(null, "", "/admin"));
afterEach(cleanup);

describe("AdminPage", () => {
  it("appends the next page of each list under it, until the last", async () => {
    const { asked } = serve(LISTS);
    await screen.findByText("user2@acme.example");
    await screen.findByText("key 2");
    await screen.findByText("invitee2@acme.example");
    expect([rows("Users"), rows("API keys"), rows("Invitations")]).toEqual([
      ["User 1", "User 2"],
      ["key 1", "key 2"],
      ["invitee1@acme.example", "invitee2@acme.example"],
    ]);
    const lists: [string, string, string][] = [
      ["Users", "users", "user3@acme.example"],
      ["API keys", "API keys", "key 3"],
      ["Invitations", "invitations", "invitee3@acme.example"],
    ];
    for (const [title, what, last] of lists) {
      const more = within(section(title)).getByRole("button", { name: `Load more ${what}` });
      expect([more.tagName, more.getAttribute("type"), more.textContent]).toEqual(["BUTTON", "button", "Load more"]);
      fireEvent.click(more);
      await within(section(title)).findByText(last);
      expect(within(section(title)).queryByRole("button", { name: `Load more ${what}` })).toBeNull();
    }
    expect([rows("Users"), rows("API keys"), rows("Invitations")]).toEqual([
      ["User 1", "User 2", "User 3"],
      ["key 1", "key 2", "key 3"],
      ["invitee1@acme.example", "invitee2@acme.example", "invitee3@acme.example"],
    ]);
    expect(asked.filter((path) => path !== "/api/v1/me").sort()).toEqual([
      "/api/v1/api-keys?cursor=p2&limit=50",
      "/api/v1/api-keys?limit=50",
      "/api/v1/invitations?cursor=p2&limit=50",
      "/api/v1/invitations?limit=50",
      "/api/v1/users?cursor=p2&limit=50",
      "/api/v1/users?limit=50",
    ]);
  });

  it("keeps the loaded pages in view after a change on a later one", async () => {
    const { asked, patched } = serve(LISTS);
    fireEvent.click(await screen.findByRole("button", { name: "Load more users" }));
    fireEvent.change(await screen.findByLabelText("Role of user3@acme.example"), { target: { value: "operator" } });
    await vi.waitFor(() => expect(patched).toEqual([{ role: "operator" }]));
    await vi.waitFor(() => expect(asked.filter((path) => path.startsWith("/api/v1/users?")).length).toBe(4));
    expect(asked.filter((path) => path.startsWith("/api/v1/users?"))).toEqual([
      "/api/v1/users?limit=50",
      "/api/v1/users?cursor=p2&limit=50",
      "/api/v1/users?limit=50",
      "/api/v1/users?cursor=p2&limit=50",
    ]);
    await vi.waitFor(() => expect(rows("Users")).toEqual(["User 1", "User 2", "User 3"]));
  });

  it("shows no pager when everything fits on one page", async () => {
    serve({ "/api/v1/users": [[user(1)], []], "/api/v1/api-keys": [[], []], "/api/v1/invitations": [[], []] });
    await screen.findByText("user1@acme.example");
    expect(screen.getAllByRole("button", { name: /^Load more/ }).map((button) => button.getAttribute("aria-label"))).toEqual([
      "Load more users",
    ]);
  });
});
