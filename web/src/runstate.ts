// What a run's events say about its steps, between two reads of the run: the graph colours
// follow the stream at once, and the next read of the run confirms them.
import type { RunDetail, RunEvent, RunStatus } from "./types";

export interface LiveState {
  runStatus: RunStatus | null;
  steps: Record<string, string>;
  /** Streaming model text by step key, while the step generates. */
  streams: Record<string, { callId: string; retry: number; text: string }>;
}

export function initialLive(run: RunDetail | undefined): LiveState {
  const steps: Record<string, string> = {};
  for (const step of run?.steps ?? []) {
    if (step.parent_key === null) steps[step.key] = step.status;
  }
  return { runStatus: run?.status ?? null, steps, streams: {} };
}

const RUN_EVENTS: Record<string, RunStatus> = {
  "run.queued": "queued",
  "run.started": "running",
  "run.resumed": "running",
  "run.retried": "queued",
  "run.waiting": "waiting",
  "run.succeeded": "succeeded",
  "run.failed": "failed",
  "run.dead": "dead",
  "run.cancelled": "cancelled",
};

function topKey(key: string): string {
  const bracket = key.indexOf("[");
  return bracket === -1 ? key : key.slice(0, bracket);
}

export function applyEvent(state: LiveState, event: RunEvent): LiveState {
  const runStatus = RUN_EVENTS[event.type];
  if (runStatus) return { ...state, runStatus };
  const key = event.step_key ? topKey(event.step_key) : null;
  if (!key) return state;
  const data = event.data ?? {};
  const setStep = (status: string, clearStream = false): LiveState => {
    const streams = { ...state.streams };
    if (clearStream) delete streams[key];
    return { ...state, steps: { ...state.steps, [key]: status }, streams };
  };
  switch (event.type) {
    case "step.started":
      return setStep("running");
    case "step.completed":
    case "step.overridden":
      return event.step_key === key ? setStep("succeeded", true) : state;
    case "step.failed":
      // A map item's failure is its own; the map step ends with its own event. A failure with
      // no retry coming (exhausted, or not retryable: no `retry_in`) is final.
      if (event.step_key !== key) return state;
      return setStep(data.exhausted === true || data.retry_in === null ? "failed" : "ready", true);
    case "step.skipped":
      return setStep("skipped", true);
    case "step.waiting":
      return setStep("waiting");
    case "step.lease_expired":
      return setStep("ready", true);
    case "llm.delta": {
      const callId = String(data.call_id ?? "");
      const retry = Number(data.retry ?? 0);
      const text = String(data.text ?? "");
      const old = state.streams[key];
      const fresh = !old || old.callId !== callId || old.retry !== retry;
      return {
        ...state,
        steps: state.steps[key] === "running" ? state.steps : { ...state.steps, [key]: "running" },
        streams: { ...state.streams, [key]: { callId, retry, text: fresh ? text : old.text + text } },
      };
    }
    default:
      return state;
  }
}

export const FINISHED_RUN = new Set<RunStatus>(["succeeded", "failed", "dead", "cancelled"]);
