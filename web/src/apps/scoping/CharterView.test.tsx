import { cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { Api } from "../../api";
import type { TokenStore } from "../../api";
import { App } from "../../App";
import { SessionProvider } from "../../session";
import type { Me } from "../../types";
import { operator } from "../fakeApi.testing";
import { scoping } from "./app.testing";
import type { CharterDiff, CharterOut, CharterVersions } from "./types";

// Signed in as a stakeholder the owner named: Fin decides on version 2.
const fin: Me = {
  ...operator,
  user: { id: "u2", email: "fin@acme.example", name: "Fin", role: "operator" },
};

const PATH = "/api/v1/scoping/sessions/s1/charter";
const versions: CharterVersions = {
  items: [1, 2].map((version) => ({
    version,
    model: "openai:gpt-4.1-mini",
    prompts: { "scoping.charter": 1 },
    run_id: `r${version}`,
    created_by: "u1",
    created_at: `2026-12-0${version}T10:00:00Z`,
  })),
};
const newest = {
  ...versions.items[1],
  charter: { title: "Invoice automation", problem_statement: "Invoices are keyed by hand (v2)", qa_log: [] },
  signoffs: [
    {
      user_id: "u3",
      name: "Ops",
      role: "operations",
      decision: "changes_requested",
      comment: "Add the ERP cut-over",
      requested_at: "2026-12-02T11:00:00Z",
      decided_at: "2026-12-02T12:00:00Z",
    },
    {
      user_id: "u2",
      name: "Fin",
      role: "sponsor",
      decision: "pending",
      comment: "",
      requested_at: "2026-12-02T11:00:00Z",
      decided_at: null,
    },
  ],
} as unknown as CharterOut;
const diff: CharterDiff = {
  from_version: 1,
  to_version: 2,
  changed: ["problem_statement"],
  diff: "--- version 1\n+++ version 2\n-Invoices are keyed by hand (v1)\n+Invoices are keyed by hand (v2)\n",
};

const store: TokenStore = { get: () => ({ access_token: "a" }), set: () => {} };

function open() {
  window.history.pushState(null, "", "/apps/scoping/sessions?session=s1&view=charter");
  const sent: { url: string; body: unknown }[] = [];
  const fetcher = async (input: string, init?: RequestInit) => {
    if (init?.method === "POST") sent.push({ url: input, body: JSON.parse(String(init.body)) });
    const json = (body: unknown) =>
      new Response(JSON.stringify(body), { status: 200, headers: { "Content-Type": "application/json" } });
    if (input === "/api/v1/me") return json(fin);
    if (input === "/api/v1/apps") return json({ items: [scoping] });
    if (input === `${PATH}/versions`) return json(versions);
    if (input === `${PATH}?format=md`) {
      return new Response("# Project charter: Invoice automation (version 2)\n", { status: 200 });
    }
    if (input === `${PATH}/diff?from=1&to=2`) return json(diff);
    if (input.startsWith(PATH)) return json(newest);
    return json({ items: [], next_cursor: null });
  };
  render(
    <SessionProvider api={new Api(store, fetcher)}>
      <App />
    </SessionProvider>,
  );
  return sent;
}

describe("the charter view", () => {
  afterEach(() => {
    cleanup();
    window.history.pushState(null, "", "/");
  });

  it("shows the text, the diff between two versions, and lets a named stakeholder sign off", async () => {
    const sent = open();

    const text = await screen.findByLabelText("Charter text", {}, { timeout: 5000 });
    expect(text.textContent).toBe("# Project charter: Invoice automation (version 2)\n");
    expect(screen.getByText(/Version 2, written by openai:gpt-4\.1-mini \(scoping\.charter v1\)/)).toBeTruthy();

    fireEvent.change(screen.getByLabelText("Compare with"), { target: { value: "1" } });
    const changes = await screen.findByLabelText("Changes");
    expect(within(changes).getByRole("heading").textContent).toBe("Changes from version 1 to 2");
    expect(within(changes).getByText("Changed: problem_statement")).toBeTruthy();
    expect(within(changes).getByText(/\+Invoices are keyed by hand \(v2\)/)).toBeTruthy();

    const signoff = screen.getByLabelText("Sign-off");
    expect(within(signoff).getAllByRole("listitem").map((item) => item.textContent)).toEqual([
      "Ops (operations) changes_requested Add the ERP cut-over",
      "Fin (sponsor) pending ",
    ]);
    fireEvent.change(within(signoff).getByLabelText("Comment"), { target: { value: "Go ahead" } });
    fireEvent.click(within(signoff).getByRole("button", { name: "Approve" }));
    await waitFor(() =>
      expect(sent).toEqual([{ url: `${PATH}/signoff?version=2`, body: { decision: "approved", comment: "Go ahead" } }]),
    );
  }, 30_000);
});
