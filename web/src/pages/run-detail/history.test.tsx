import { cleanup, fireEvent, render, screen, within } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import type { ReactNode } from "react";
import { Api } from "../../api";
import type { TokenStore } from "../../api";
import { SessionProvider, useSession } from "../../session";
import type { Attempt, Me, RunDetail, StepState, WorkflowDetail } from "../../types";
import type { StoredRunEvent } from "./events";
import { RunDetailPage } from "./index";

const me: Me = {
  kind: "user",
  api_key: null,
  user: { id: "u", email: "operator@acme.example", name: "operator", role: "operator" },
  tenant: { id: "t", slug: "acme", name: "Acme" },
  roles: ["operator"],
  scopes: ["runs:read", "workflows:read", "runs:write", "events:read"],
};

function step(key: string, status: string, fields: Partial<StepState> = {}): StepState {
  return {
    key,
    kind: "agent",
    status,
    attempt: 1,
    parent_key: null,
    item_index: null,
    result: null,
    error: null,
    started_at: "2026-01-01T00:00:01Z",
    finished_at: "2026-01-01T00:00:02Z",
    overridden_by: null,
    override_reason: null,
    ...fields,
  };
}

function attempt(step_key: string, status: string, args: unknown, fields: Partial<Attempt> = {}): Attempt {
  return {
    step_key,
    attempt: 1,
    dispatch: 1,
    status,
    worker: "w1",
    idempotency_key: `01a23e0f-596e-7a77-a65b-052c2aa6afa3:${step_key}:1`,
    started_at: "2026-01-01T00:00:01Z",
    finished_at: "2026-01-01T00:00:02Z",
    duration_ms: 1000,
    error: null,
    args,
    ...fields,
  };
}

function event(seq: number, type: string, step_key: string | null, data: Record<string, unknown> = {}): StoredRunEvent {
  return { id: seq, type, version: 1, run_id: "01a23e0f-596e-7a77-a65b-052c2aa6afa3", seq, step_key, data, created_at: "2026-01-01T00:00:03Z" };
}

function runOf(fields: Partial<RunDetail>): RunDetail {
  return {
    id: "01a23e0f-596e-7a77-a65b-052c2aa6afa3",
    label: "ada@example.com",
    inputs_preview: { email: "ada@example.com" },
    workflow_id: "outreach",
    workflow_version: "1",
    status: "succeeded",
    created_by: "ada",
    parent_run_id: null,
    created_at: "2026-01-01T00:00:00Z",
    started_at: "2026-01-01T00:00:01Z",
    finished_at: "2026-01-01T00:00:09Z",
    duration_s: 8,
    llm_calls: 0,
    tokens: 0,
    cost_usd: "0",
    error: null,
    content_hash: "sha256:x",
    private_to: null,
    inputs: { name: "Ada" },
    ctx: {},
    outputs: null,
    steps: [],
    reviews: [],
    ...fields,
  };
}

const workflow = {
  id: "v1",
  workflow_id: "outreach",
  version: "1",
  steps: [
    { id: "draft", kind: "agent", needs: [] },
    { id: "approve", kind: "review", needs: ["draft"] },
    { id: "send", kind: "tool", needs: ["approve"] },
  ],
  spec: {
    steps: [
      { id: "draft", kind: "agent", capability: "email.draft", args: { name: "{{ inputs.name }}" } },
      { id: "approve", kind: "review", needs: ["draft"], subject: "{{ state.draft }}" },
      { id: "send", kind: "tool", tool: "email.send", needs: ["approve"], args: { body: "{{ state.approve.subject.body }}" } },
    ],
  },
} as unknown as WorkflowDetail;

function SignedIn({ children }: { children: ReactNode }) {
  return useSession().me ? <>{children}</> : null;
}

const store: TokenStore = { get: () => ({ access_token: "a" }), set: () => {} };
const json = (body: unknown) => new Response(JSON.stringify(body), { status: 200, headers: { "Content-Type": "application/json" } });

function open(run: RunDetail, attempts: Attempt[], events: StoredRunEvent[]) {
  const fetcher = async (input: string) => {
    if (input === "/api/v1/me") return json(me);
    if (input.endsWith("/events")) return new Response("", { status: 200, headers: { "Content-Type": "text/event-stream" } });
    if (input.includes("/events/history")) {
      const after = Number(new URL(input, "http://x").searchParams.get("after"));
      return json({ items: events.filter((e) => e.seq > after), next_after: null });
    }
    if (input === "/api/v1/runs/01a23e0f-596e-7a77-a65b-052c2aa6afa3") return json(run);
    if (input.endsWith("/attempts")) return json({ items: attempts });
    if (input.endsWith("/llm-calls")) return json({ items: [], tokens: 0, cost_usd: "0" });
    if (input.startsWith("/api/v1/workflows/outreach/versions/1")) return json(workflow);
    return new Response("{}", { status: 404 });
  };
  render(
    <SessionProvider api={new Api(store, fetcher)}>
      <SignedIn>
        <RunDetailPage runId="01a23e0f-596e-7a77-a65b-052c2aa6afa3" />
      </SignedIn>
    </SessionProvider>,
  );
}

afterEach(cleanup);

const draft = { to: "ada@example.com", body: "Dear Ada, a long first draft." };
const edited = { to: "ada@example.com", body: "Hi Ada." };

describe("RunDetailPage, what happened", () => {
  it("opens a failed run on its failed step, with its resolved arguments beside the templates", async () => {
    const failed = { code: "step_failed", message: "the mail server refused it", details: {} };
    open(
      runOf({
        status: "failed",
        error: { ...failed, step: "send" } as RunDetail["error"],
        steps: [step("draft", "succeeded", { result: draft }), step("approve", "succeeded", { kind: "review", result: { approved: true, decision: "approve", subject: draft, by: "rita", comment: null } }), step("send", "failed", { kind: "tool", error: failed })],
      }),
      [attempt("draft", "succeeded", { name: "Ada" }), attempt("approve", "waiting", { subject: draft }), attempt("send", "failed", { body: draft.body }, { error: failed })],
      [],
    );
    const panel = await screen.findByTestId("step-panel");
    expect(within(panel).getByRole("heading", { level: 2 }).textContent).toContain("Step send");
    expect((await within(panel).findByLabelText("Step inputs")).textContent).toContain("{{ state.approve.subject.body }}");
    expect(JSON.parse(within(panel).getByLabelText("Resolved inputs").textContent ?? "")).toEqual({ body: draft.body });
    expect(within(panel).getByText("Resolved for attempt 1")).toBeTruthy();
  });

  it("shows an edited review's text as used downstream, the original marked, and the decision in the timeline", async () => {
    open(
      runOf({
        steps: [
          step("draft", "succeeded", { result: draft }),
          step("approve", "succeeded", { kind: "review", result: { approved: true, decision: "edit", subject: edited, by: "rita", comment: "shorter" } }),
          step("send", "succeeded", { kind: "tool", result: { message_id: "m1" } }),
        ],
      }),
      [attempt("draft", "succeeded", { name: "Ada" }), attempt("approve", "waiting", { subject: draft }), attempt("send", "succeeded", { body: edited.body })],
      [],
    );
    fireEvent.click(await screen.findByRole("button", { name: /^approve, review step/ }));
    const decision = await screen.findByTestId("review-decision");
    expect(decision.textContent).toContain("edited and approved by rita: “shorter”");
    expect(within(decision).getByLabelText("Used downstream").textContent).toBe("toada@example.combodyHi Ada.");
    const original = within(decision).getByLabelText("Original, replaced by the edit");
    expect(original.closest("del")).not.toBeNull();
    expect(original.textContent).toBe("toada@example.combodyDear Ada, a long first draft.");

    const timeline = await screen.findByRole("list", { name: "Attempts, in order" });
    const rows = within(timeline).getAllByRole("listitem").map((li) => li.querySelector(".attempt-label")?.textContent);
    expect(rows).toEqual(["draft attempt 1 · succeeded · 1 s", "approve attempt 1 · waited, then edited and approved by rita · 1 s", "send attempt 1 · succeeded · 1 s"]);
  });

  it("shows who cancelled the run and why, on the run and its step, and the events of each", async () => {
    const events = [
      event(1, "run.queued", null, { workflow_id: "outreach", workflow_version: "1" }),
      event(2, "run.started", null),
      event(3, "step.started", "draft", { attempt: 1, dispatch: 1, worker: "w1", idempotency_key: "01a23e0f-596e-7a77-a65b-052c2aa6afa3:draft:1" }),
      event(4, "run.cancelled", null, { by: "rita", reason: "wrong lead" }),
    ];
    open(runOf({ status: "cancelled", steps: [step("draft", "cancelled"), step("approve", "cancelled", { kind: "review" }), step("send", "cancelled", { kind: "tool" })] }), [], events);
    expect((await screen.findByTestId("run-cancelled")).textContent).toBe("Cancelled by rita: wrong lead");
    const panel = await screen.findByTestId("step-panel");
    expect((await within(panel).findByTestId("step-cancelled")).textContent).toBe("rita: wrong lead");

    fireEvent.click(screen.getByRole("tab", { name: "Events (4)" }));
    const all = await screen.findByTestId("run-events");
    expect(within(all).getAllByRole("listitem").map((li) => li.querySelector("strong")?.textContent)).toEqual(["run.queued", "run.started", "step.started", "run.cancelled"]);

    fireEvent.click(within(panel).getByRole("tab", { name: "Events (1)" }));
    const mine = within(panel).getByTestId("step-events");
    expect(within(mine).getAllByRole("listitem").map((li) => li.querySelector("strong")?.textContent)).toEqual(["step.started"]);
  });
});
