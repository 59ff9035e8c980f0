// A person's decision on a review step: who decided what, with their comment; after an edit, the
// text the run used downstream and, marked as replaced, the original the person was shown.
import { Json } from "../../ui";
import { decidedLabel } from "./review";
import type { ReviewOutcome } from "./review";

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
          <Json value={outcome.used} label="Used downstream" />
        </>
      ) : null}
      {outcome.edited ? (
        <div className="replaced">
          <h4>Original (replaced by the edit)</h4>
          <del className="original">
            <Json value={outcome.original} label="Original, replaced by the edit" />
          </del>
        </div>
      ) : null}
    </div>
  );
}
