import { describe, expect, it } from "vitest";
import { Api, ApiError, query } from "./api";
import type { TokenStore, Tokens } from "./api";

function memoryStore(tokens: Tokens | null): TokenStore & { value: () => Tokens | null } {
  let current = tokens;
  return { get: () => current, set: (next) => (current = next), value: () => current };
}

const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });

describe("Api", () => {
  it("refreshes once on 401, stores the rotated pair and repeats the request", async () => {
    const store = memoryStore({ access_token: "old", refresh_token: "r1" });
    const calls: string[] = [];
    let refreshes = 0;
    const api = new Api(store, async (input, init) => {
      const auth = new Headers(init?.headers).get("Authorization");
      calls.push(`${input} ${auth ?? ""}`);
      if (input === "/api/v1/auth/refresh") {
        refreshes++;
        expect(JSON.parse(String(init?.body))).toEqual({ refresh_token: "r1" });
        await new Promise((resolve) => setTimeout(resolve, 5));
        return json(200, { access_token: "new", refresh_token: "r2", expires_in: 900, user: {}, tenant: {} });
      }
      return auth === "Bearer new" ? json(200, { ok: input }) : json(401, { error: { code: "unauthenticated", message: "expired" } });
    });
    const [a, b] = await Promise.all([api.get("/api/v1/runs"), api.get("/api/v1/me")]);
    expect(a).toEqual({ ok: "/api/v1/runs" });
    expect(b).toEqual({ ok: "/api/v1/me" });
    expect(refreshes).toBe(1);
    expect(store.value()).toEqual({ access_token: "new", refresh_token: "r2" });
  });

  it("signs out when the refresh token is refused", async () => {
    const store = memoryStore({ access_token: "old", refresh_token: "used" });
    let signedOut = false;
    const api = new Api(store, async (input) =>
      input === "/api/v1/auth/refresh" ? json(401, { error: { code: "unauthenticated", message: "reused" } }) : json(401, { error: { code: "unauthenticated", message: "expired" } }),
    );
    api.onSignedOut = () => (signedOut = true);
    await expect(api.get("/api/v1/me")).rejects.toMatchObject({ status: 401, code: "unauthenticated" });
    expect(signedOut).toBe(true);
    expect(store.value()).toBeNull();
  });

  it("turns the error envelope into an ApiError", async () => {
    const api = new Api(memoryStore({ access_token: "t", refresh_token: "r" }), async () =>
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
