import { describe, expect, it } from "vitest";
import { applyEvent, initialLive } from "./runstate";
import type { RunDetail } from "./types";

const run = {
  status: "running",
  steps: [
    { key: "score", status: "succeeded", parent_key: null },
    { key: "draft", status: "pending", parent_key: null },
    { key: "fan[0]", status: "pending", parent_key: "fan" },
  ],
} as unknown as RunDetail;

describe("applyEvent", () => {
  it("colours steps from the stream and gathers streaming text per call", () => {
    let state = initialLive(run);
    expect(state.steps).toEqual({ score: "succeeded", draft: "pending" });
    state = applyEvent(state, { type: "step.started", step_key: "draft", data: {} });
    state = applyEvent(state, { type: "llm.delta", step_key: "draft", data: { call_id: "c1", index: 0, text: "Hel" } });
    state = applyEvent(state, { type: "llm.delta", step_key: "draft", data: { call_id: "c1", index: 1, text: "lo" } });
    expect(state.streams.draft?.text).toBe("Hello");
    state = applyEvent(state, { type: "llm.delta", step_key: "draft", data: { call_id: "c1", retry: 1, index: 0, text: "Hi" } });
    expect(state.streams.draft?.text).toBe("Hi");
    state = applyEvent(state, { type: "step.completed", step_key: "draft", data: {} });
    expect(state.steps.draft).toBe("succeeded");
    expect(state.streams.draft).toBeUndefined();
    state = applyEvent(state, { type: "step.failed", step_key: "send", data: { exhausted: false, retry_in: 0.5 } });
    expect(state.steps.send).toBe("ready");
    // Not retryable (invalid arguments): final at once, though not exhausted.
    expect(applyEvent(state, { type: "step.failed", step_key: "send", data: { exhausted: false, retry_in: null } }).steps.send).toBe("failed");
    state = applyEvent(state, { type: "step.failed", step_key: "send", data: { exhausted: true } });
    expect(state.steps.send).toBe("failed");
    state = applyEvent(state, { type: "run.dead", data: {} });
    expect(state.runStatus).toBe("dead");
  });

  it("a map item's events mark its parent step running, not finished", () => {
    let state = initialLive(run);
    state = applyEvent(state, { type: "step.started", step_key: "fan[0]", data: {} });
    state = applyEvent(state, { type: "step.completed", step_key: "fan[0]", data: {} });
    expect(state.steps.fan).toBe("running");
    state = applyEvent(state, { type: "step.failed", step_key: "fan[1]", data: { exhausted: false, retry_in: null } });
    expect(state.steps.fan).toBe("running");
  });
});
