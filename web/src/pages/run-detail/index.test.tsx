import { cleanup, fireEvent, render, screen, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { Api } from "../../api";
import type { TokenStore } from "../../api";
import type { ReactNode } from "react";
import { SessionProvider, useSession } from "../../session";
import type { Me, RunDetail, WorkflowDetail } from "../../types";
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

const run: RunDetail = {
  id: "run-1",
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

function open(role: "operator" | "viewer", frames: string) {
  const posts: { path: string; body: unknown }[] = [];
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
      return json(run);
    }
    if (input === "/api/v1/runs/run-1") {
      reads++;
      return json(run);
    }
    if (input.endsWith("/attempts")) return json({ items: [] });
    if (input.endsWith("/llm-calls")) return json({ items: [], tokens: 0, cost_usd: "0" });
    if (input.startsWith("/api/v1/workflows/outreach/versions/1")) return json(workflow);
    return new Response("{}", { status: 404 });
  };
  render(
    <SessionProvider api={new Api(store, fetcher)}>
      <SignedIn>
        <RunDetailPage runId="run-1" />
      </SignedIn>
    </SessionProvider>,
  );
  return { posts, reads: () => reads };
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
    await vi.waitFor(() => expect(page.posts).toEqual([{ path: "/api/v1/runs/run-1/cancel", body: { reason: "wrong lead" } }]));

    const panel = screen.getByTestId("step-panel");
    fireEvent.click(within(panel).getByRole("button", { name: "Override this step…" }));
    fireEvent.change(within(panel).getByLabelText(/^Output of draft/), { target: { value: '{"subject": "Hi"}' } });
    fireEvent.change(within(panel).getByLabelText("Reason"), { target: { value: "written by hand" } });
    fireEvent.click(within(panel).getByRole("button", { name: "Set output and continue" }));
    await vi.waitFor(() => expect(page.posts[1]).toEqual({ path: "/api/v1/runs/run-1/steps/draft/override", body: { output: { subject: "Hi" }, reason: "written by hand" } }));

    cleanup();
    open("viewer", "");
    await screen.findByRole("button", { name: /^draft, agent step/ });
    expect(screen.queryByRole("button", { name: "Cancel run…" })).toBeNull();
    expect(screen.queryByRole("button", { name: "Override this step…" })).toBeNull();
  });
});
