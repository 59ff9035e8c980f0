"""What an operator's action does to a run, decided as data: cancel, retry, override, and the
decision on a review or an input step.

Each function takes a `Transition` holding the run (and, for a cancel, its loaded sub-workflow
runs), checks the action is allowed, and moves the rows; the caller then `advance`s the run
through the checkpointer, as after any other transition. Who may act, and whether a review is
still open, is the service's to check before (`runs/service.py`, `runs/reviews.py`).
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

from batonflow.errors import Conflict, InvalidInput, NotFound
from batonflow.runs.run import RunStatus, StepStatus
from batonflow.runs.state import ClosedReviews, RunRow
from batonflow.workflows.moves import release
from batonflow.workflows.spec import ReviewStep
from batonflow.workflows.transitions import Transition

Decision = Literal["approve", "edit", "reject", "submit"]
DECIDED = {"approve": "approved", "edit": "edited", "reject": "rejected", "submit": "submitted"}


class Review(Protocol):
    """What a decision needs of the stored review it closes."""

    @property
    def id(self) -> str: ...
    @property
    def step_key(self) -> str: ...
    @property
    def attempt(self) -> int: ...
    @property
    def subject(self) -> Any: ...


OPEN = frozenset({StepStatus.PENDING, StepStatus.READY, StepStatus.RUNNING, StepStatus.WAITING})


def cancel(t: Transition, run: RunRow, by: str, reason: str) -> None:
    """Cancel the run, its open steps and reviews, and its unfinished sub-workflow runs (those
    of them that are loaded in `t`)."""
    if run.status.terminal:
        raise Conflict(
            f"run {run.id} is already {run.status}; "
            "only queued, running or waiting runs can be cancelled"
        )
    t.cancel_steps(run, OPEN, by)
    t.set_run_status(run, RunStatus.CANCELLED, by=by, reason=reason)
    for child in list(t.runs.values()):
        if child.parent_run_id == run.id and not child.status.terminal:
            cancel(t, child, by, f"parent run {run.id} was cancelled")


def dismiss(t: Transition, run: RunRow, by: str, reason: str) -> None:
    """Take a dead run off the dead-letter list: it becomes cancelled, keeping its error, its
    failed step and its attempts. Its steps are all settled already."""
    if run.status is not RunStatus.DEAD:
        raise Conflict(
            f"run {run.id} is {run.status}; only dead runs can be dismissed "
            "(cancel a queued, running or waiting run instead)"
        )
    t.set_run_status(
        run, RunStatus.CANCELLED, by=by, reason=f"dismissed: {reason}" if reason else "dismissed"
    )


def retry(t: Transition, run: RunRow, by: str) -> None:
    """Run a failed or dead run again from its failed step; finished steps are kept."""
    if run.status not in (RunStatus.FAILED, RunStatus.DEAD):
        raise Conflict(f"run {run.id} is {run.status}; only failed or dead runs can be retried")
    again = []
    for step in t.steps[run.id].values():
        if step.parent_key is not None:
            continue
        if step.status in (StepStatus.FAILED, StepStatus.CANCELLED):
            if step.status is StepStatus.FAILED:
                step.attempt += 1  # the failed attempt ended; the retry is a new one
                again.append(step.key)
            t.move(step, StepStatus.PENDING)
            step.exhausted = False
            step.error = None
            step.lost = 0
            step.finished_at = None
    run.error = None
    t.set_run_status(run, RunStatus.RUNNING, reason=f"retried by {by}")
    t.emit(run, "run.retried", by=by, steps=sorted(again))


def override(t: Transition, run: RunRow, key: str, output: Any, by: str, reason: str) -> None:
    """Set an unfinished step's output by hand, record who and why, and resume the run."""
    if not reason.strip():
        raise InvalidInput("an override needs a reason; say why the output is set by hand")
    step = t.steps[run.id].get(key)
    if step is None or step.parent_key is not None:
        raise NotFound(f"run {run.id} has no step '{key}'")
    if run.status in (RunStatus.SUCCEEDED, RunStatus.CANCELLED):
        raise Conflict(f"run {run.id} is {run.status}; its steps can no longer be overridden")
    if step.status in (StepStatus.SUCCEEDED, StepStatus.SKIPPED):
        raise Conflict(
            f"step '{key}' already {step.status}; only unfinished steps can be overridden"
        )
    t.move(step, StepStatus.SUCCEEDED)
    step.error = None
    step.exhausted = False
    release(step)
    step.finished_at = t.now
    step.overridden_by = by
    step.override_reason = reason
    t.set_result(step, output)
    t.changes.closed_reviews.append(ClosedReviews(run.tenant_id, run.id, key, "overridden", by))
    t.emit(run, "step.overridden", step.key, by=by, reason=reason)
    run.error = None
    if run.status is not RunStatus.RUNNING:
        t.set_run_status(run, RunStatus.RUNNING, reason=f"step {key} overridden by {by}")


def check_waits(t: Transition, run: RunRow, review: Review) -> None:
    """A decision applies only while the review's step still waits on that very review."""
    step = t.steps[run.id][review.step_key]
    if (
        step.status is not StepStatus.WAITING
        or step.attempt != review.attempt
        or run.status.terminal
    ):
        raise Conflict(
            f"run {run.id} no longer waits on review {review.id} (the run is {run.status})"
        )


def decide(
    t: Transition,
    run: RunRow,
    review: Review,
    decision: Decision,
    by: str,
    data: Any = None,
    comment: str | None = None,
) -> None:
    """Settle the step that waits on `review` (which the caller has just closed): `submit`
    and `approve`/`edit` succeed it, `reject` fails it unless the step says
    `on_reject: continue`. `review` has the stored review's `id`, `step_key`, `attempt` and
    `subject`."""
    check_waits(t, run, review)
    step = t.steps[run.id][review.step_key]
    if run.status is RunStatus.WAITING:
        reason = f"review {review.id} {DECIDED[decision]} by {by}"
        t.set_run_status(run, RunStatus.RUNNING, reason=reason)
    t.emit(run, "review.decided", step.key, review_id=review.id, decision=decision, by=by)
    step_spec = t.specs[run.workflow_version_pk].by_id[step.key]
    rejected = decision == "reject"
    if decision == "submit":
        t.succeed(run, step, data, by, {}, record=False)
    elif rejected and isinstance(step_spec, ReviewStep) and step_spec.on_reject == "fail":
        error = {
            "code": "review_rejected",
            "message": f"{by} rejected the review" + (f": {comment}" if comment else ""),
            "details": {"review_id": review.id},
        }
        t.fail(run, step, step_spec.retry, error, retryable=False)
    else:
        result = {
            "approved": not rejected,
            "decision": decision,
            "subject": data if decision == "edit" else review.subject,
            "by": by,
            "comment": comment,
        }
        t.succeed(run, step, result, by, {}, record=False)
