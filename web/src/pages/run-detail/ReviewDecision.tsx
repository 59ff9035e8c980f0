// A person's decision on a review step: who decided what, with their comment; after an edit, the
// text the run used downstream and, marked as replaced, the original the person was shown.
import { Fragment } from "react";
import { Json } from "../../ui";
import { decidedLabel } from "./review";
import type { ReviewOutcome } from "./review";

/** A flat subject (an email: to, subject, body) as its fields with the text written out; any
 * other value as JSON. */
function Subject({ value, label }: { value: unknown; label: string }) {
  const flat = value !== null && typeof value === "object" && !Array.isArray(value) && Object.values(value).every((v) => v === null || typeof v !== "object");
  if (!flat) return <Json value={value} label={label} />;
  return (
    <dl className="facts subject" aria-label={label}>
      {Object.entries(value as Record<string, unknown>).map(([key, field]) => (
        <Fragment key={key}>
          <dt>{key}</dt>
          <dd>{field === null ? "—" : String(field)}</dd>
        </Fragment>
      ))}
    </dl>
  );
}

export function ReviewDecision({ outcome }: { outcome: ReviewOutcome }) {
  return (
    <div className="decision" data-testid="review-decision">
      <h3>Decision</h3>
      <p>
        <strong>{decidedLabel(outcome.decision)}</strong> by {outcome.by}
        {outcome.comment ? <>: “{outcome.comment}”</> : null}
      </p>
      {outcome.decision !== "reject" ? (
        <>
          <h4>{outcome.edited ? "Used downstream (edited)" : "Used downstream"}</h4>
          <Subject value={outcome.used} label="Used downstream" />
        </>
      ) : null}
      {outcome.edited ? (
        <div className="replaced">
          <h4>Original (replaced by the edit)</h4>
          <del className="original">
            <Subject value={outcome.original} label="Original, replaced by the edit" />
          </del>
        </div>
      ) : null}
    </div>
  );
}
