import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Api } from "../api";
import type { TokenStore } from "../api";
import { SessionProvider } from "../session";
import type { Me, Review } from "../types";
import { ReviewsPage, editSchema, reviewTitle } from "./ReviewsPage";

const reviewer: Me = {
  kind: "user",
  api_key: null,
  user: { id: "u", email: "r@acme.example", name: "Rita", role: "reviewer" },
  tenant: { id: "t", slug: "acme", name: "Acme" },
  roles: ["reviewer", "viewer"],
  scopes: ["runs:read", "reviews:read", "reviews:decide"],
};
const viewer: Me = { ...reviewer, roles: ["viewer"], scopes: ["runs:read", "reviews:read"] };

const base: Review = {
  id: "rv1",
  run_id: "run-1234567890",
  step_key: "approve",
  attempt: 1,
  kind: "review",
  status: "pending",
  subject: { to: "ada@example.com", subject: "Hello", body: "Dear Ada,\nhi." },
  instructions: "Check the email.",
  input_schema: null,
  reviewers: ["reviewer"],
  allow_edit: true,
  decision: null,
  data: null,
  comment: null,
  decided_by: null,
  decided_at: null,
  created_at: "2026-01-01T00:00:00Z",
};

const store: TokenStore = { get: () => ({ access_token: "a" }), set: () => {} };

function serve(me: Me, reviews: Review[]) {
  const decisions: unknown[] = [];
  const fetcher = async (input: string, init?: RequestInit) => {
    let body: unknown = {};
    if (input === "/api/v1/me") body = me;
    else if (input.startsWith("/api/v1/reviews?")) body = { items: reviews };
    else if (input.endsWith("/decision")) {
      decisions.push(JSON.parse(String(init?.body)));
      body = { ...reviews[0], status: "approved" };
    }
    return new Response(JSON.stringify(body), { status: 200, headers: { "Content-Type": "application/json" } });
  };
  render(
    <SessionProvider api={new Api(store, fetcher)}>
      <ReviewsPage />
    </SessionProvider>,
  );
  return decisions;
}

beforeEach(() => window.history.replaceState(null, "", "/reviews"));
afterEach(cleanup);

describe("ReviewsPage", () => {
  it("shows an email readably and approves it with the comment", async () => {
    const decisions = serve(reviewer, [base]);
    const email = await screen.findByTestId("email");
    expect(email.textContent).toContain("ada@example.com");
    expect(email.textContent).toContain("Dear Ada,");
    fireEvent.change(screen.getByLabelText("Comment (optional)"), { target: { value: "fine" } });
    fireEvent.click(screen.getByRole("button", { name: "Approve" }));
    await vi.waitFor(() => expect(decisions).toEqual([{ decision: "approve", data: null, comment: "fine" }]));
  });

  it("edits the subject's fields, then approves the edited email", async () => {
    const decisions = serve(reviewer, [base]);
    fireEvent.click(await screen.findByRole("button", { name: "Edit and approve…" }));
    expect(screen.getByRole("heading", { level: 2 }).textContent).toBe("Email to ada@example.com");
    // The draft's fields stay required and untyped: no "(optional) string" on an address.
    expect(["To", "Subject", "Body"].map((name) => screen.getByText(name, { selector: "label" }).textContent)).toEqual(["To *", "Subject *", "Body *"]);
    fireEvent.change(screen.getByLabelText(/^Subject/), { target: { value: "Hello, Ada" } });
    fireEvent.click(screen.getByRole("button", { name: "Approve with these edits" }));
    await vi.waitFor(() =>
      expect(decisions).toEqual([
        { decision: "edit", data: { to: "ada@example.com", subject: "Hello, Ada", body: "Dear Ada,\nhi." }, comment: null },
      ]),
    );
  });

  it("gives an input step the form of its schema", async () => {
    const input: Review = {
      ...base,
      kind: "input",
      subject: null,
      input_schema: { type: "object", properties: { budget: { type: "number" }, notes: { type: "string" } }, required: ["budget"] },
    };
    const decisions = serve(reviewer, [input]);
    fireEvent.change(await screen.findByLabelText(/^Budget/), { target: { value: "1200.5" } });
    fireEvent.click(screen.getByRole("button", { name: "Submit" }));
    await vi.waitFor(() => expect(decisions).toEqual([{ decision: "submit", data: { budget: 1200.5 }, comment: null }]));
  });

  it("lets a viewer read but not decide, and says when nothing waits", async () => {
    serve(viewer, [base]);
    expect(await screen.findByText("Your role may not decide this one.")).toBeTruthy();
    expect(screen.queryByRole("button", { name: "Approve" })).toBeNull();
    cleanup();
    serve(reviewer, []);
    expect(await screen.findByText(/Nothing is waiting for a person/)).toBeTruthy();
  });

  it("builds an edit form from the subject's fields", () => {
    expect(editSchema({ to: "a", n: 2, ok: true, tags: ["x"] })).toEqual({
      type: "object",
      properties: { to: { type: "string" }, n: { type: "number" }, ok: { type: "boolean" }, tags: { type: "array" } },
      required: ["to"],
    });
    expect(editSchema({ to: "", subject: "Hi" }).required).toEqual(["subject"]);
  });

  it("titles a review by what it asks", () => {
    expect(reviewTitle(base)).toBe("Email to ada@example.com");
    expect(reviewTitle({ ...base, subject: { amount: 12 } })).toBe("Decision on step “approve”");
    expect(reviewTitle({ ...base, kind: "input", step_key: "collect" })).toBe("Information for step “collect”");
  });
});
