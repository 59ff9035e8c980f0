import { describe, expect, it } from "vitest";
import { Api, ApiError, query } from "./api";
import type { SessionHint, TokenStore, Tokens } from "./api";

function memoryStore(tokens: Tokens | null): TokenStore & { value: () => Tokens | null } {
  let current = tokens;
  return { get: () => current, set: (next) => (current = next), value: () => current };
}

function memoryHint(signedIn: boolean): SessionHint & { value: () => boolean } {
  let current = signedIn;
  return { get: () => current, set: (next) => (current = next), value: () => current };
}

const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
const SESSION = { access_token: "new", refresh_token: null, token_type: "bearer", expires_in: 900, user: {}, tenant: {} };

describe("Api", () => {
  it("refreshes once on 401 from the cookie, keeps the new access token and repeats the request", async () => {
    const store = memoryStore({ access_token: "old" });
    const calls: string[] = [];
    let refreshes = 0;
    const api = new Api(
      store,
      async (input, init) => {
        const auth = new Headers(init?.headers).get("Authorization");
        calls.push(`${input} ${auth ?? ""}`);
        if (input === "/api/v1/auth/refresh") {
          refreshes++;
          // No token in the request: the browser sends the HttpOnly cookie.
          expect(init).toEqual({ method: "POST", credentials: "same-origin" });
          await new Promise((resolve) => setTimeout(resolve, 5));
          return json(200, SESSION);
        }
        return auth === "Bearer new" ? json(200, { ok: input }) : json(401, { error: { code: "unauthenticated", message: "expired" } });
      },
      memoryHint(true),
    );
    const [a, b] = await Promise.all([api.get("/api/v1/runs"), api.get("/api/v1/me")]);
    expect(a).toEqual({ ok: "/api/v1/runs" });
    expect(b).toEqual({ ok: "/api/v1/me" });
    expect(refreshes).toBe(1);
    expect(store.value()).toEqual({ access_token: "new" });
  });

  it("after a reload, refreshes from the cookie before the first request", async () => {
    const store = memoryStore(null);
    const hint = memoryHint(true);
    const calls: string[] = [];
    const api = new Api(
      store,
      async (input, init) => {
        calls.push(`${input} ${new Headers(init?.headers).get("Authorization") ?? ""}`.trim());
        return input === "/api/v1/auth/refresh" ? json(200, SESSION) : json(200, { ok: true });
      },
      hint,
    );
    expect(api.signedIn).toBe(true);
    await api.get("/api/v1/me");
    expect(calls).toEqual(["/api/v1/auth/refresh", "/api/v1/me Bearer new"]);
  });

  it("does not refresh for a visitor who never signed in", async () => {
    const calls: string[] = [];
    const api = new Api(memoryStore(null), async (input) => (calls.push(input), json(401, { error: { code: "unauthenticated", message: "no" } })), memoryHint(false));
    expect(api.signedIn).toBe(false);
    await expect(api.get("/api/v1/me")).rejects.toMatchObject({ status: 401 });
    expect(calls).toEqual(["/api/v1/me"]);
  });

  it("signs out when the refresh cookie is refused", async () => {
    const store = memoryStore({ access_token: "old" });
    const hint = memoryHint(true);
    let signedOut = false;
    const api = new Api(
      store,
      async (input) =>
        input === "/api/v1/auth/refresh" ? json(401, { error: { code: "unauthenticated", message: "reused" } }) : json(401, { error: { code: "unauthenticated", message: "expired" } }),
      hint,
    );
    api.onSignedOut = () => (signedOut = true);
    await expect(api.get("/api/v1/me")).rejects.toMatchObject({ status: 401, code: "unauthenticated" });
    expect(signedOut).toBe(true);
    expect(store.value()).toBeNull();
    expect(hint.value()).toBe(false);
  });

  it("keeps no refresh token anywhere a script can read: sign-in keeps the access token in memory", async () => {
    window.localStorage.clear();
    const store = memoryStore(null);
    const api = new Api(store, async () => json(200, { ...SESSION, refresh_token: "r-from-body" }));
    await api.login("ada@acme.example", "correct horse battery staple");
    expect(store.value()).toEqual({ access_token: "new" });
    expect({ ...window.localStorage }).toEqual({ "batonflow.signed-in": "1" });
    expect(JSON.stringify({ ...window.localStorage, ...window.sessionStorage })).not.toContain("r-from-body");
  });

  it("signs out through the cookie and forgets the session", async () => {
    const store = memoryStore({ access_token: "a" });
    const hint = memoryHint(true);
    const sent: [string, RequestInit | undefined][] = [];
    const api = new Api(store, async (input, init) => (sent.push([input, init]), new Response(null, { status: 204 })), hint);
    await api.logout();
    expect(sent).toEqual([["/api/v1/auth/logout", { method: "POST", credentials: "same-origin" }]]);
    expect(store.value()).toBeNull();
    expect(hint.value()).toBe(false);
    expect(api.signedIn).toBe(false);
  });

  it("turns the error envelope into an ApiError", async () => {
    const api = new Api(memoryStore({ access_token: "t" }), async () =>
      json(409, { error: { code: "conflict", message: "already decided", details: { review: "x" } } }),
    );
    const error = await api.post("/api/v1/reviews/x/decision", { decision: "approve" }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 409, code: "conflict", message: "already decided", details: { review: "x" } });
  });

  it("builds query strings without empty values", () => {
    expect(query({ status: "dead", workflow_id: "", cursor: undefined, limit: 25, tag: ["a", "b"] })).toBe("?status=dead&limit=25&tag=a&tag=b");
    expect(query({})).toBe("");
  });
});
