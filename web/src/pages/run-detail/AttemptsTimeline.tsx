// Every attempt of a run's steps, in order, as bars on one time axis from the run's start. An
// attempt that handed its step to a person (or a sub-workflow) says how that ended once it has.
import { formatMs } from "../../format";
import type { Attempt, AttemptList, RunDetail } from "../../types";
import { ErrorBox, Loading } from "../../ui";
import type { Loaded } from "../../ui";
import { decidedLabel } from "./review";

/** The status an attempt is shown with: a `waiting` attempt whose step has since moved on reads
 * as what ended the wait (a review's decision, a sub-workflow's end, a cancel). */
export function attemptOutcome(attempt: Attempt, run: RunDetail): { status: string; label: string } {
  const step = run.steps.find((s) => s.key === attempt.step_key);
  if (attempt.status !== "waiting" || !step || step.attempt !== attempt.attempt || step.status === "waiting") {
    return { status: attempt.status, label: attempt.status };
  }
  const result = step.result as Record<string, unknown> | null;
  if (step.kind === "review" && result && typeof result.decision === "string") {
    return { status: step.status, label: `waited, then ${decidedLabel(result.decision)} by ${String(result.by ?? "")}` };
  }
  if (step.overridden_by) return { status: step.status, label: `waited, then set by hand by ${step.overridden_by}` };
  return { status: step.status, label: `waited, then ${step.kind === "input" && step.status === "succeeded" ? "submitted" : step.status}` };
}

function Timeline({ attempts, run }: { attempts: Attempt[]; run: RunDetail }) {
  if (attempts.length === 0) return <p className="muted">No finished attempts yet.</p>;
  const start = Math.min(...attempts.map((a) => Date.parse(a.started_at)), Date.parse(run.started_at ?? run.created_at));
  const end = Math.max(...attempts.map((a) => Date.parse(a.finished_at)), start + 1);
  const span = end - start;
  return (
    <ol className="timeline" aria-label="Attempts, in order">
      {attempts.map((attempt) => {
        const left = ((Date.parse(attempt.started_at) - start) / span) * 100;
        const width = Math.max(0.8, (attempt.duration_ms / span) * 100);
        const shown = attemptOutcome(attempt, run);
        return (
          <li key={`${attempt.step_key}-${attempt.attempt}-${attempt.dispatch}`} className={`attempt state-${shown.status}`}>
            <span className="attempt-label">
              <strong>{attempt.step_key}</strong> attempt {attempt.attempt}
              {attempt.dispatch > 1 ? ` (picked up again ${attempt.dispatch === 2 ? "once" : `${attempt.dispatch - 1} times`} after a worker stopped)` : ""} · {shown.label} ·{" "}
              {formatMs(attempt.duration_ms)}
            </span>
            <span className="attempt-track" aria-hidden="true">
              <span className="attempt-bar" style={{ left: `${Math.min(left, 99)}%`, width: `${Math.min(width, 100 - Math.min(left, 99))}%` }} />
            </span>
            {attempt.error ? <span className="inline-error">{attempt.error.message}</span> : null}
          </li>
        );
      })}
    </ol>
  );
}

export function AttemptsTimeline({ attempts, run }: { attempts: Loaded<AttemptList>; run: RunDetail }) {
  return (
    <section aria-labelledby="timeline-title">
      <h2 id="timeline-title">Attempts</h2>
      {attempts.data ? <Timeline attempts={attempts.data.items} run={run} /> : attempts.error ? <ErrorBox error={attempts.error} /> : <Loading />}
    </section>
  );
}
