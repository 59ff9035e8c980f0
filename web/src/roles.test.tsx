import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Api } from "./api";
import type { TokenStore } from "./api";
import { App } from "./App";
import { can, canDecide, homePath, mainRole, navFor } from "./roles";
import { SessionProvider } from "./session";
import type { Me, Role } from "./types";

const READ = ["runs:read", "workflows:read", "reviews:read", "prompts:read", "agents:read", "usage:read", "events:read", "kb:read", "triggers:read"];
const SCOPES: Record<Role, string[]> = {
  viewer: READ,
  reviewer: [...READ, "reviews:decide"],
  operator: [...READ, "runs:write", "workflows:write", "prompts:write"],
  admin: [...READ, "runs:write", "workflows:write", "prompts:write", "reviews:decide", "admin"],
};
const ROLES_OF: Record<Role, Role[]> = {
  viewer: ["viewer"],
  reviewer: ["reviewer", "viewer"],
  operator: ["operator", "viewer"],
  admin: ["admin", "operator", "reviewer", "viewer"],
};

function me(role: Role): Me {
  return {
    kind: "user",
    api_key: null,
    user: { id: "u1", email: `${role}@acme.example`, name: `Ada ${role}`, role },
    tenant: { id: "t1", slug: "acme", name: "Acme" },
    roles: ROLES_OF[role],
    scopes: SCOPES[role],
  };
}

describe("role gating", () => {
  it("maps actions to scopes", () => {
    expect(can(me("viewer"), "runs.view")).toBe(true);
    expect(can(me("viewer"), "runs.start")).toBe(false);
    expect(can(me("operator"), "runs.retry")).toBe(true);
    expect(can(me("operator"), "reviews.decide")).toBe(false);
    expect(can(me("viewer"), "workflows.view")).toBe(true);
    expect(can(me("viewer"), "workflows.write")).toBe(false);
    expect(can(me("operator"), "workflows.write")).toBe(true);
    expect(can(me("reviewer"), "reviews.decide")).toBe(true);
    expect(can(null, "runs.view")).toBe(false);
    expect(navFor(me("viewer")).map((item) => item.label)).toEqual(["Runs", "Workflows", "Reviews", "Dead letters", "Prompts", "Knowledge", "Schedules", "Hooks", "Usage"]);
    expect(navFor(me("admin")).map((item) => item.label)).toContain("Admin");
    expect(mainRole(me("admin"))).toBe("admin");
  });

  it("lands reviewers on their queue and everyone else on Runs", () => {
    expect((["viewer", "reviewer", "operator", "admin"] as const).map((role) => homePath(me(role)))).toEqual(["/runs", "/reviews", "/runs", "/runs"]);
    expect(homePath({ roles: [], scopes: ["reviews:read"] })).toBe("/reviews");
  });

  it("lets only the roles a review names decide it", () => {
    const review = { reviewers: ["reviewer"] };
    expect(canDecide(me("reviewer"), review)).toBe(true);
    expect(canDecide(me("admin"), review)).toBe(true);
    expect(canDecide(me("viewer"), review)).toBe(false);
    expect(canDecide({ scopes: ["reviews:decide"], roles: ["operator"] }, review)).toBe(false);
    expect(canDecide(me("reviewer"), { reviewers: [] })).toBe(true);
  });
});

function review(id: string) {
  return {
    id,
    run_id: "run-1",
    step_key: "approve",
    attempt: 1,
    kind: "review",
    status: "pending",
    subject: { amount: 3 },
    instructions: "",
    input_schema: null,
    reviewers: [],
    allow_edit: false,
    decision: null,
    data: null,
    comment: null,
    decided_by: null,
    decided_at: null,
    created_at: "2026-01-01T00:00:00Z",
  };
}

describe("the shell by role", () => {
  const store: TokenStore = { get: () => ({ access_token: "a" }), set: () => {} };
  const answer = (role: Role) => async (input: string) => {
    const body =
      input === "/api/v1/me"
        ? me(role)
        : input.startsWith("/api/v1/runs")
          ? { items: [], next_cursor: null }
          : input.startsWith("/api/v1/workflows")
            ? { items: [] }
            : input.startsWith("/api/v1/reviews")
              ? { items: [review("rv1"), review("rv2")] }
              : {};
    return new Response(JSON.stringify(body), { status: 200, headers: { "Content-Type": "application/json" } });
  };
  beforeEach(() => window.history.replaceState(null, "", "/runs"));
  afterEach(cleanup);

  it("shows a viewer who they are and hides what they may not do", async () => {
    render(
      <SessionProvider api={new Api(store, answer("viewer"))}>
        <App />
      </SessionProvider>,
    );
    expect(await screen.findByText("No runs yet.")).toBeTruthy();
    expect(screen.getByTestId("whoami").textContent).toContain("Ada viewer");
    expect(screen.getByTestId("whoami").textContent).toContain("Acme");
    expect(screen.getByTestId("whoami").textContent).toContain("viewer");
    expect(screen.queryByRole("link", { name: "Admin" })).toBeNull();
    expect(screen.queryByRole("button", { name: "Start run" })).toBeNull();
  });

  it("gives an admin the admin page and the start button", async () => {
    render(
      <SessionProvider api={new Api(store, answer("admin"))}>
        <App />
      </SessionProvider>,
    );
    expect(await screen.findByText(/No runs yet/)).toBeTruthy();
    expect(screen.getByRole("link", { name: "Admin" })).toBeTruthy();
    expect(screen.getByRole("button", { name: "Start run" })).toBeTruthy();
  });

  it("lands a reviewer on Reviews with the waiting count in the navigation", async () => {
    window.history.replaceState(null, "", "/");
    render(
      <SessionProvider api={new Api(store, answer("reviewer"))}>
        <App />
      </SessionProvider>,
    );
    expect(await screen.findByRole("heading", { name: "Reviews", level: 1 })).toBeTruthy();
    expect(window.location.pathname).toBe("/reviews");
    const link = await screen.findByRole("link", { name: "Reviews, 2 waiting" });
    expect(link.getAttribute("aria-current")).toBe("page");
    expect(link.textContent).toBe("Reviews2");
  });

  it("opens pages and the shortcuts list from the keyboard", async () => {
    render(
      <SessionProvider api={new Api(store, answer("admin"))}>
        <App />
      </SessionProvider>,
    );
    expect(await screen.findByText(/No runs yet/)).toBeTruthy();
    fireEvent.keyDown(document.body, { key: "g" });
    fireEvent.keyDown(document.body, { key: "v" });
    expect(await screen.findByRole("heading", { name: "Reviews", level: 1 })).toBeTruthy();
    expect(window.location.pathname).toBe("/reviews");
    fireEvent.keyDown(document.body, { key: "?" });
    const dialog = screen.getByRole("dialog", { name: "Keyboard shortcuts" });
    expect(dialog.textContent).toContain("Go to Runs");
    expect(dialog.textContent).toContain("Approve the focused review");
    fireEvent.keyDown(document.body, { key: "Escape" });
    expect(screen.queryByRole("dialog")).toBeNull();
    // Keys typed into a field are text, not shortcuts.
    const field = document.body.appendChild(document.createElement("input"));
    fireEvent.keyDown(field, { key: "?" });
    expect(screen.queryByRole("dialog")).toBeNull();
    field.remove();
  });

  it("asks a signed-out visitor to sign in", async () => {
    const signedOut: TokenStore = { get: () => null, set: () => {} };
    render(
      <SessionProvider api={new Api(signedOut, answer("admin"))}>
        <App />
      </SessionProvider>,
    );
    expect(await screen.findByRole("heading", { name: "Sign in to Batonflow" })).toBeTruthy();
  });
});
