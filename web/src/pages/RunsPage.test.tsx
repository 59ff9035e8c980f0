import { cleanup, fireEvent, render, screen, within } from "@testing-library/react";
import type { ReactNode } from "react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Api } from "../api";
import type { TokenStore } from "../api";
import { formatTime } from "../format";
import { SessionProvider, useSession } from "../session";
import type { Me, RunSummary } from "../types";
import { RunsPage } from "./RunsPage";

const viewer: Me = {
  kind: "user",
  api_key: null,
  user: { id: "u", email: "v@acme.example", name: "Vera", role: "viewer" },
  tenant: { id: "t", slug: "acme", name: "Acme" },
  roles: ["viewer"],
  scopes: ["runs:read", "workflows:read", "events:read"],
};

const STARTED = new Date(Date.now() - 3 * 60_000).toISOString();

const summary = (id: string, label: string, inputs: Record<string, string>, status: RunSummary["status"] = "succeeded"): RunSummary => ({
  id,
  label,
  inputs_preview: inputs,
  workflow_id: "outreach",
  workflow_version: "1",
  status,
  created_by: "ada",
  parent_run_id: null,
  created_at: STARTED,
  started_at: STARTED,
  finished_at: null,
  duration_s: 4.2,
  llm_calls: 1,
  tokens: 10,
  cost_usd: "0.0042",
  error: null,
});

const acme = summary("01a238ff-0c1d-7e2f-8a3b-4c5d6e7f8a9b", "Acme Corp · ada@acme.example", { company: "Acme Corp", email: "ada@acme.example" });
const globex = summary("01a238ff-0c1d-7e2f-8a3b-99996e7f8a9b", "Globex · bo@globex.example", { company: "Globex", email: "bo@globex.example" }, "running");

const store: TokenStore = { get: () => ({ access_token: "a" }), set: () => {} };
const json = (body: unknown) => new Response(JSON.stringify(body), { status: 200, headers: { "Content-Type": "application/json" } });

/** The runs page against a fetch that lists `pages` in turn (then repeats the last) and holds
 * the tenant's event stream open after sending `frames`. */
function serve(pages: RunSummary[][], frames = "") {
  const listed: string[] = [];
  const fetcher = async (input: string) => {
    if (input === "/api/v1/me") return json(viewer);
    if (input === "/api/v1/workflows") return json({ items: [] });
    if (input === "/api/v1/events") {
      return new Response(
        new ReadableStream({
          start(controller) {
            controller.enqueue(new TextEncoder().encode(frames));
          },
        }),
        { status: 200, headers: { "Content-Type": "text/event-stream" } },
      );
    }
    if (input.startsWith("/api/v1/runs?")) {
      listed.push(input);
      return json({ items: pages[Math.min(listed.length, pages.length) - 1], next_cursor: null });
    }
    return new Response("{}", { status: 404 });
  };
  render(
    <SessionProvider api={new Api(store, fetcher)}>
      <SignedIn>
        <RunsPage />
      </SignedIn>
    </SessionProvider>,
  );
  return listed;
}

function SignedIn({ children }: { children: ReactNode }) {
  return useSession().me ? <>{children}</> : null;
}

beforeEach(() => window.history.replaceState(null, "", "/runs"));
afterEach(cleanup);

describe("RunsPage", () => {
  it("tells runs apart by their label, their id's random end and their inputs", async () => {
    serve([[globex, acme]]);
    const table = await screen.findByRole("table", { name: "Runs, newest first" });
    const rows = within(table).getAllByRole("row").slice(1);
    expect(rows.map((row) => within(row).getAllByRole("cell").slice(0, 3).map((cell) => cell.textContent))).toEqual([
      ["Globex · bo@globex.example99996e7f8a9b", "company: Globexemail: bo@globex.example", "running"],
      ["Acme Corp · ada@acme.example4c5d6e7f8a9b", "company: Acme Corpemail: ada@acme.example", "succeeded"],
    ]);
    const link = within(rows[1]!).getByRole("link", { name: "Run Acme Corp · ada@acme.example (4c5d6e7f8a9b)" });
    expect([link.getAttribute("href"), link.getAttribute("title")]).toEqual([`/runs/${acme.id}`, acme.id]);
    const started = within(rows[1]!).getByText("3 min ago");
    expect([started.tagName, started.getAttribute("title"), started.getAttribute("datetime")]).toEqual(["TIME", formatTime(STARTED), STARTED]);
    expect(formatTime(STARTED)).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \S+$/);
  });

  it("searches on the server as one types, and says when nothing matches", async () => {
    const listed = serve([[globex, acme], []]);
    await screen.findByRole("table", { name: "Runs, newest first" });
    fireEvent.change(screen.getByRole("searchbox", { name: "Search" }), { target: { value: " ACME  " } });
    await vi.waitFor(() => expect(listed).toEqual(["/api/v1/runs?limit=25", "/api/v1/runs?q=ACME&limit=25"]));
    expect(window.location.search).toBe("?q=ACME");
    expect((await screen.findByText(/No runs match/)).textContent?.trim()).toBe("No runs match “ACME”.");
    fireEvent.click(screen.getByRole("button", { name: "Clear filters" }));
    await vi.waitFor(() => expect(listed.at(-1)).toBe("/api/v1/runs?limit=25"));
    expect((screen.getByRole("searchbox", { name: "Search" }) as HTMLInputElement).value).toBe("");
  });

  it("reads the list again when the tenant's stream says a run moved", async () => {
    const finished = { ...globex, status: "succeeded" as const };
    const listed = serve([[globex, acme], [finished, acme]], 'id: 4\nevent: run.succeeded\ndata: {"type":"run.succeeded","run_id":"x","data":{}}\n\n');
    await vi.waitFor(() => expect(screen.getByRole("status").textContent).toBe("Live"));
    await vi.waitFor(() => expect(listed).toEqual(["/api/v1/runs?limit=25", "/api/v1/runs?limit=25"]), { timeout: 4000 });
    const table = screen.getByRole("table", { name: "Runs, newest first" });
    await vi.waitFor(() => expect(within(table).getAllByText("succeeded")).toHaveLength(2));
  });
});
