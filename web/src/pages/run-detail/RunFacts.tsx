// The run at a glance: its workflow, who started it and when (and whether it is private to one
// user, as an app's runs may be), how long it took, what it cost,
// its error, who cancelled it or set a step by hand and why, and the decisions it waits for.
import { When } from "../../components/When";
import { formatCount, formatDuration, formatTime, formatUsd, secondsBetween } from "../../format";
import { Link } from "../../router";
import type { RunDetail } from "../../types";

export function RunFacts({ run, cost, cancelled }: { run: RunDetail; cost: string | null | undefined; cancelled: { by: string; reason: string } | null }) {
  const overridden = run.steps.filter((step) => step.overridden_by);
  return (
    <>
      <dl className="facts summary">
        <dt>Workflow</dt>
        <dd>
          <Link to={`/runs?workflow=${encodeURIComponent(run.workflow_id)}`}>{run.workflow_id}</Link> v{run.workflow_version}
        </dd>
        <dt>Started by</dt>
        <dd>{run.created_by}</dd>
        {run.private_to ? (
          <>
            <dt>Visibility</dt>
            <dd data-testid="run-private">Private: its user and the tenant's admins see it</dd>
          </>
        ) : null}
        <dt>Started</dt>
        <dd>
          <When iso={run.started_at ?? run.created_at} /> <span className="muted">({formatTime(run.started_at ?? run.created_at)})</span>
        </dd>
        <dt>Duration</dt>
        <dd>{formatDuration(run.duration_s ?? secondsBetween(run.started_at, run.finished_at))}</dd>
        <dt>Cost</dt>
        <dd data-testid="run-cost">{formatUsd(cost ?? run.cost_usd)}</dd>
        <dt>Tokens</dt>
        <dd>
          {formatCount(run.tokens)} in {formatCount(run.llm_calls)} model calls
        </dd>
      </dl>
      {run.error ? (
        <div className="state state-error" role="alert">
          <strong>{run.error.code}</strong>
          <p>{run.error.message}</p>
        </div>
      ) : null}
      {run.status === "cancelled" && cancelled ? (
        <p className="notice" data-testid="run-cancelled">
          Cancelled by {cancelled.by}
          {cancelled.reason ? `: ${cancelled.reason}` : " (no reason given)"}
        </p>
      ) : null}
      {overridden.length > 0 ? (
        <ul className="notice overrides" aria-label="Steps set by hand">
          {overridden.map((step) => (
            <li key={step.key}>
              Step <span className="mono">{step.key}</span> set by hand by {step.overridden_by}: {step.override_reason}
            </li>
          ))}
        </ul>
      ) : null}
      {run.reviews.length > 0 ? (
        <p className="notice">
          This run waits for {run.reviews.length === 1 ? "a decision" : `${run.reviews.length} decisions`} on{" "}
          {run.reviews.map((r) => r.step_key).join(", ")}. <Link to="/reviews">Open the review queue</Link>.
        </p>
      ) : null}
    </>
  );
}
