import { cleanup, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import type { Attempt, RunDetail } from "../../types";
import { AttemptsTimeline } from "./AttemptsTimeline";

afterEach(cleanup);

function attempt(step_key: string, number: number, dispatch: number, status: string): Attempt {
  return {
    step_key,
    attempt: number,
    dispatch,
    status,
    duration_ms: 1500,
    error: null,
    started_at: "2026-01-01T00:00:01Z",
    finished_at: "2026-01-01T00:00:02.500Z",
    idempotency_key: `${step_key}-${number}-${dispatch}`,
    worker: "w1",
  } as Attempt;
}

describe("AttemptsTimeline", () => {
  it("names attempts in words, and says when a worker's stop had one picked up again", () => {
    const run = { started_at: "2026-01-01T00:00:00Z", created_at: "2026-01-01T00:00:00Z", steps: [] as RunDetail["steps"] } as RunDetail;
    const items = [attempt("score", 1, 1, "succeeded"), attempt("send", 2, 2, "succeeded"), attempt("send", 3, 4, "failed")];
    render(<AttemptsTimeline attempts={{ data: { items }, error: null, loading: false, reload: async () => {}, setData: () => {} }} run={run} />);
    const labels = screen.getAllByRole("listitem").map((item) => item.querySelector(".attempt-label")?.textContent?.replace(/\s+/g, " "));
    expect(labels.map((label) => label?.replace(/ · [^·]+$/, ""))).toEqual([
      "score attempt 1 · succeeded",
      "send attempt 2 (picked up again once after a worker stopped) · succeeded",
      "send attempt 3 (picked up again 3 times after a worker stopped) · failed",
    ]);
  });
});
