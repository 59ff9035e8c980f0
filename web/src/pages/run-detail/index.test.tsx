import { cleanup, fireEvent, render, screen, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { Api } from "../../api";
import type { TokenStore } from "../../api";
import type { ReactNode } from "react";
import { SessionProvider, useSession } from "../../session";
import type { Me, RunDetail, RunSummary, WorkflowDetail } from "../../types";
import { RunDetailPage } from "./index";

const scopes = {
  operator: ["runs:read", "workflows:read", "runs:write"],
  viewer: ["runs:read", "workflows:read"],
};

function me(role: "operator" | "viewer"): Me {
  return {
    kind: "user",
    api_key: null,
    user: { id: "u", email: `${role}@acme.example`, name: role, role },
    tenant: { id: "t", slug: "acme", name: "Acme" },
    roles: [role],
    scopes: scopes[role],
  };
}

const step = (key: string, status: string, kind = "agent") => ({
  key,
  kind,
  status,
  attempt: 1,
  parent_key: null,
  item_index: null,
  result: status === "succeeded" ? { ok: key } : null,
  error: null,
  started_at: null,
  finished_at: null,
  overridden_by: null,
  override_reason: null,
});

const RUN_ID = "01a238ff-0c1d-7e2f-8a3b-4c5d6e7f8a9b";

const run: RunDetail = {
  id: RUN_ID,
  label: "Ada",
  inputs_preview: { name: "Ada" },
  workflow_id: "outreach",
  workflow_version: "1",
  status: "running",
  created_by: "ada",
  parent_run_id: null,
  created_at: "2026-01-01T00:00:00Z",
  started_at: "2026-01-01T00:00:01Z",
  finished_at: null,
  duration_s: null,
  llm_calls: 0,
  tokens: 0,
  cost_usd: "0",
  error: null,
  content_hash: "sha256:x",
  private_to: null,
  inputs: { name: "Ada" },
  ctx: {},
  outputs: null,
  steps: [step("score", "succeeded"), step("draft", "running")],
  reviews: [],
};

const workflow = {
  id: "v1",
  workflow_id: "outreach",
  version: "1",
  steps: [
    { id: "score", kind: "agent", needs: [] },
    { id: "draft", kind: "agent", needs: ["score"] },
  ],
  spec: { steps: [{ id: "score", kind: "agent", capability: "lead.score", args: { name: "{{ inputs.name }}" } }, { id: "draft", kind: "agent", needs: ["score"], args: {} }] },
} as unknown as WorkflowDetail;

function SignedIn({ children }: { children: ReactNode }) {
  return useSession().me ? <>{children}</> : null;
}

const store: TokenStore = { get: () => ({ access_token: "a" }), set: () => {} };
const json = (body: unknown) => new Response(JSON.stringify(body), { status: 200, headers: { "Content-Type": "application/json" } });

function open(role: "operator" | "viewer", frames: string, runId = RUN_ID, runs: RunSummary[] = [], shown: RunDetail = run) {
  const posts: { path: string; body: unknown }[] = [];
  const listed: string[] = [];
  let reads = 0;
  const fetcher = async (input: string, init?: RequestInit) => {
    if (input === "/api/v1/me") return json(me(role));
    if (input.endsWith("/events")) {
      return new Response(
        new ReadableStream({
          start(controller) {
            controller.enqueue(new TextEncoder().encode(frames));
          },
        }),
        { status: 200, headers: { "Content-Type": "text/event-stream" } },
      );
    }
    if (init?.method === "POST") {
      posts.push({ path: input, body: JSON.parse(String(init.body)) });
      return json(shown);
    }
    if (input === `/api/v1/runs/${RUN_ID}`) {
      reads++;
      return json(shown);
    }
    if (input.startsWith("/api/v1/runs?")) {
      listed.push(input);
      const short = new URL(input, "http://dashboard").searchParams.get("id") ?? "";
      return json({ items: runs.filter((item) => item.id.startsWith(short) || item.id.endsWith(short)), next_cursor: null });
    }
    if (input.endsWith("/attempts")) return json({ items: [] });
    if (input.endsWith("/llm-calls")) return json({ items: [], tokens: 0, cost_usd: "0" });
    if (input.startsWith("/api/v1/workflows/outreach/versions/1")) return json(workflow);
    return new Response("{}", { status: 404 });
  };
  render(
    <SessionProvider api={new Api(store, fetcher)}>
      <SignedIn>
        <RunDetailPage runId={runId} />
      </SignedIn>
    </SessionProvider>,
  );
  return { posts, listed, reads: () => reads };
}

afterEach(cleanup);

describe("RunDetailPage", () => {
  it("colours the graph from the stream and shows the model text as it streams", async () => {
    open(
      "operator",
      'event: llm.delta\ndata: {"type":"llm.delta","step_key":"draft","data":{"call_id":"c","index":0,"text":"Dear Ada"}}\n\n',
    );
    const draft = await screen.findByRole("button", { name: /^draft, agent step/ });
    expect(draft.getAttribute("data-state")).toBe("running");
    expect((await screen.findByTestId("stream")).textContent).toContain("Dear Ada");
  });

  it("turns a step green when the stream says it completed, and reads the run again", async () => {
    const page = open("operator", 'id: 5\nevent: step.completed\ndata: {"type":"step.completed","seq":5,"step_key":"draft","data":{"attempt":1,"duration_ms":5}}\n\n');
    await vi.waitFor(() => expect(screen.getByRole("button", { name: /^draft, agent step, succeeded/ })).toBeTruthy());
    await vi.waitFor(() => expect(page.reads()).toBeGreaterThan(1));
  });

  it("lets an operator cancel with a reason and override a step; a viewer sees neither", async () => {
    const page = open("operator", "");
    fireEvent.click(await screen.findByRole("button", { name: "Cancel run…" }));
    fireEvent.change(screen.getByLabelText("Reason"), { target: { value: "wrong lead" } });
    fireEvent.click(screen.getByRole("button", { name: "Cancel run" }));
    await vi.waitFor(() => expect(page.posts).toEqual([{ path: `/api/v1/runs/${RUN_ID}/cancel`, body: { reason: "wrong lead" } }]));

    const panel = screen.getByTestId("step-panel");
    fireEvent.click(within(panel).getByRole("button", { name: "Override this step…" }));
    fireEvent.change(within(panel).getByLabelText(/^Output of draft/), { target: { value: '{"subject": "Hi"}' } });
    fireEvent.change(within(panel).getByLabelText("Reason"), { target: { value: "written by hand" } });
    fireEvent.click(within(panel).getByRole("button", { name: "Set output and continue" }));
    await vi.waitFor(() => expect(page.posts[1]).toEqual({ path: `/api/v1/runs/${RUN_ID}/steps/draft/override`, body: { output: { subject: "Hi" }, reason: "written by hand" } }));

    cleanup();
    open("viewer", "");
    await screen.findByRole("button", { name: /^draft, agent step/ });
    expect(screen.queryByRole("button", { name: "Cancel run…" })).toBeNull();
    expect(screen.queryByRole("button", { name: "Override this step…" })).toBeNull();
  });

  it("says when a run is private to the user it belongs to", async () => {
    open("viewer", "");
    await screen.findByRole("button", { name: /^draft, agent step/ });
    expect(screen.queryByTestId("run-private")).toBeNull();

    cleanup();
    open("viewer", "", RUN_ID, [], { ...run, private_to: "u-ada" });
    expect((await screen.findByTestId("run-private")).textContent).toBe("Private: its user and the tenant's admins see it");
  });

  it("names the run by its label and its id's random end", async () => {
    open("viewer", "");
    const heading = await screen.findByRole("heading", { level: 1 });
    await vi.waitFor(() => expect(heading.textContent).toBe("Ada 4c5d6e7f8a9b running"));
    expect(within(heading).getByTitle(RUN_ID).textContent).toBe("4c5d6e7f8a9b");
  });
});

describe("RunDetailPage with a short id", () => {
  const summary = (id: string, label: string): RunSummary => ({ ...run, id, label });
  const twin = "01a238ff-0c1d-7e2f-8a3b-99996e7f8a9b";

  it("opens the one run whose id ends (or starts) with it, replacing the address", async () => {
    window.history.replaceState(null, "", "/runs/6e7f8a9b");
    const page = open("viewer", "", "4c5d6e7f8a9b", [summary(RUN_ID, "Ada"), summary(twin, "Bo")]);
    await vi.waitFor(() => expect(window.location.pathname).toBe(`/runs/${RUN_ID}`));
    expect(page.listed).toEqual(["/api/v1/runs?id=4c5d6e7f8a9b&limit=10"]);
  });

  it("lists the runs a short id matches when it matches several", async () => {
    window.history.replaceState(null, "", "/runs/6e7f8a9b");
    open("viewer", "", "6e7f8a9b", [summary(RUN_ID, "Ada"), summary(twin, "Bo")]);
    expect((await screen.findByRole("alert")).textContent).toBe("6e7f8a9b matches 2 runs; choose one, or give more characters of its id.");
    const list = screen.getByRole("list", { name: "Runs whose id matches" });
    expect(within(list).getAllByRole("link").map((link) => [link.getAttribute("aria-label"), link.getAttribute("href")])).toEqual([
      ["Run Ada (4c5d6e7f8a9b)", `/runs/${RUN_ID}`],
      ["Run Bo (99996e7f8a9b)", `/runs/${twin}`],
    ]);
    expect(window.location.pathname).toBe("/runs/6e7f8a9b");
  });

  it("says not found for an id no run has, and what a short id is for one that is not", async () => {
    const page = open("viewer", "", "abcdef", [summary(RUN_ID, "Ada")]);
    expect((await screen.findByRole("alert")).textContent).toBe("Not foundNo run's id starts or ends with abcdef. Search the runs");
    cleanup();
    open("viewer", "", "abc", [summary(RUN_ID, "Ada")]);
    expect((await screen.findByRole("alert")).textContent).toBe(
      'A short run id is 6 or more of an id\'s first or last characters (hex digits and "-"), such as the end the runs list and the CLI show. Search the runs for “abc”',
    );
    cleanup();
    open("viewer", "", "not-a-run", [summary(RUN_ID, "Ada")]);
    expect((await screen.findByRole("link", { name: "Search the runs for “not-a-run”" })).getAttribute("href")).toBe("/runs?q=not-a-run");
    expect(page.listed).toEqual(["/api/v1/runs?id=abcdef&limit=10"]);
  });
});
