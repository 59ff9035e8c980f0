// The chosen step: its state and timing, the model's text while it streams, what the workflow
// gives it beside what that resolved to, a person's decision on it, its output or error, its
// items (for a fan-out), its model calls, its events, and the override.
import { useState } from "react";
import { When } from "../../components/When";
import { formatDuration, secondsBetween } from "../../format";
import { can } from "../../roles";
import { FINISHED_RUN } from "../../runstate";
import type { LiveState } from "../../runstate";
import { Link } from "../../router";
import { useMe } from "../../session";
import type { Attempt, LlmCall, RunDetail, StepState, WorkflowDetail } from "../../types";
import { Json, StatusBadge } from "../../ui";
import { cancellation } from "./events";
import type { RunEvents } from "./events";
import { EventsList, ofStep } from "./EventsList";
import { CallsTable } from "./ModelCalls";
import { OverrideForm } from "./OverrideForm";
import { ReviewDecision } from "./ReviewDecision";
import { reviewOutcome } from "./review";
import { resolvedArgs, specStep, stepInputs } from "./stepDefinition";
import { Tabs } from "./Tabs";

export function StepPanel({ run, step, workflow, calls, attempts, events, stream, state, onChanged }: {
  run: RunDetail;
  step: string;
  workflow: WorkflowDetail | undefined;
  calls: LlmCall[];
  attempts: Attempt[];
  events: RunEvents;
  stream: LiveState["streams"][string] | undefined;
  state: string;
  onChanged: () => void;
}) {
  const me = useMe();
  const [overriding, setOverriding] = useState(false);
  const rows: StepState[] = run.steps.filter((s) => s.key === step || s.parent_key === step);
  const main = rows.find((s) => s.key === step);
  const definition = specStep(workflow, step);
  const mine = calls.filter((call) => call.step_key === step || call.step_key?.startsWith(`${step}[`));
  const review = run.reviews.find((r) => r.step_key === step);
  const done = state === "succeeded" || state === "skipped";
  const resolved = resolvedArgs(attempts, step);
  const decided = reviewOutcome(main, attempts);
  const cancelled = main?.status === "cancelled" ? cancellation(events.items) : null;
  const details = () => (
    <>
      <dl className="facts">
        <dt>Kind</dt>
        <dd>{main?.kind ?? String(definition?.kind ?? "—")}</dd>
        <dt>Attempt</dt>
        <dd>{main?.attempt ?? "—"}</dd>
        <dt>Started</dt>
        <dd>
          <When iso={main?.started_at} />
        </dd>
        <dt>Took</dt>
        <dd>{formatDuration(secondsBetween(main?.started_at, main?.finished_at))}</dd>
        {main?.overridden_by ? (
          <>
            <dt>Overridden by</dt>
            <dd>
              {main.overridden_by}: {main.override_reason}
            </dd>
          </>
        ) : null}
        {cancelled ? (
          <>
            <dt>Cancelled by</dt>
            <dd data-testid="step-cancelled">
              {cancelled.by}
              {cancelled.reason ? `: ${cancelled.reason}` : ""}
            </dd>
          </>
        ) : null}
      </dl>
      {review ? (
        <p className="notice">
          Waiting for a person: <Link to="/reviews">open the review queue</Link>.
        </p>
      ) : null}
      {stream ? (
        <div className="stream" aria-live="polite" data-testid="stream">
          <h3>Model output, as it streams</h3>
          <pre className="json streaming">{stream.text}</pre>
        </div>
      ) : null}
      <div className="resolved">
        <div>
          <h3>Inputs (as the workflow gives them)</h3>
          <Json value={stepInputs(definition)} label="Step inputs" />
        </div>
        <div>
          <h3>{resolved ? `Resolved for attempt ${resolved.attempt}` : "Resolved"}</h3>
          {resolved ? <Json value={resolved.args} label="Resolved inputs" /> : <p className="muted">Not resolved yet: the step has not run.</p>}
        </div>
      </div>
      {decided ? <ReviewDecision outcome={decided} /> : null}
      <h3>Output</h3>
      <Json value={main?.result ?? null} label="Step output" />
      {main?.error ? (
        <>
          <h3>Error</h3>
          <div className="state state-error">
            <strong>{main.error.code}</strong>
            <p>{main.error.message}</p>
          </div>
        </>
      ) : null}
      {rows.length > 1 ? (
        <>
          <h3>Items</h3>
          <ul className="items">
            {rows
              .filter((s) => s.key !== step)
              .map((s) => (
                <li key={s.key}>
                  <span className="mono">{s.key}</span> <StatusBadge status={s.status} />
                  {s.error ? <span className="inline-error"> {s.error.message}</span> : null}
                </li>
              ))}
          </ul>
        </>
      ) : null}
      <h3>Model calls</h3>
      <CallsTable calls={mine} />
      {can(me, "runs.override") && !done && !FINISHED_RUN.has(run.status) ? (
        overriding ? (
          <OverrideForm
            runId={run.id}
            stepKey={step}
            onDone={() => {
              setOverriding(false);
              onChanged();
            }}
          />
        ) : (
          <button type="button" onClick={() => setOverriding(true)}>
            Override this step…
          </button>
        )
      ) : null}
    </>
  );
  const count = events.items ? ofStep(events.items, step).length : null;
  return (
    <section className="card step-panel" aria-labelledby="step-title" data-testid="step-panel">
      <h2 id="step-title">
        Step <span className="mono">{step}</span> <StatusBadge status={state} />
      </h2>
      <Tabs
        key={step}
        label={`Step ${step}`}
        tabs={[
          { id: "details", label: "Details", panel: details },
          { id: "events", label: count === null ? "Events" : `Events (${count})`, panel: () => <EventsList events={events} step={step} /> },
        ]}
      />
    </section>
  );
}
