"""Every move of a run and its steps after what happened to its attempts, decided as data.

A `Transition` holds the loaded rows of some runs, the time `now`, a random source, and the specs
of their workflow versions. Its methods apply what happened — a queued run starting (`start`),
attempts that finished (`apply`), a lease that expired (`reap`), a step being claimed (`claim`) —
and `advance` lets `engine.plan` promote, skip and settle a run. The operator's actions (cancel,
retry, override, review decisions) are in `workflows/actions.py`. Rows are moved in place through
`Moves` (checked against the transition tables of `runs/run.py`) and everything else decided is
recorded in `changes` for the store to persist. No I/O here: where a decision needs more data
(the results that make a run's outputs, a finished child's parent run), the caller loads it and
calls again (`Checkpointer.settle`).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from batonflow.errors import TemplateError
from batonflow.runs.run import AttemptStatus, RunStatus, StepStatus
from batonflow.runs.state import Changes, RunRow, StepRow
from batonflow.workflows import engine
from batonflow.workflows.attempts import Claim, Outcome
from batonflow.workflows.moves import IN_FLIGHT, Moves, error_info, new_step_row, release
from batonflow.workflows.spec import RetryPolicy, WorkflowSpec


class Settle(Enum):
    """What `advance` left for its caller."""

    DONE = "done"  # nothing more: the run moved (or not) and needs no data
    OUTPUTS = "outputs"  # every step is done: `finish` with the run's results


class Transition(Moves):
    def __init__(
        self,
        runs: dict[str, RunRow],
        steps: dict[str, dict[str, StepRow]],
        now: datetime,
        specs: Mapping[str, WorkflowSpec],
        *,
        worker: str = "engine",
        lease: timedelta = timedelta(seconds=30),
        max_lost: int = 3,
        rand: Callable[[], float] = random.random,
        changes: Changes | None = None,
    ) -> None:
        super().__init__(runs, steps, now, changes)
        self.specs = specs
        self.worker = worker
        self.lease = lease
        self.max_lost = max_lost
        self.rand = rand

    # -- attempts finishing, leases lost ------------------------------------

    def apply(self, outcome: Outcome) -> bool:
        """Apply a finished attempt; false (and nothing changed) when it is stale: its step
        moved on (another dispatch holds it) or its run is not running."""
        run = self.runs.get(outcome.run_id)
        if run is None or run.status is not RunStatus.RUNNING:
            return False
        if outcome.parent_dispatch is not None:
            return self._apply_item(run, outcome)
        step = self.steps[run.id].get(outcome.key)
        if (
            step is None
            or step.status is not StepStatus.RUNNING
            or step.dispatch != outcome.dispatch
        ):
            return False
        self.emit_reported(run, outcome)
        status = outcome.status
        if status == "succeeded":
            self.record_outcome(step, AttemptStatus.SUCCEEDED, outcome)
            self.succeed(run, step, outcome.result, outcome.worker, outcome.meta, record=False)
        elif status == "skipped":
            release(step)
            self.move(step, StepStatus.SKIPPED)
            step.finished_at = self.now
            self.set_result(step, None)
            reason = outcome.meta.get("reason", "when was false")
            self.emit(run, "step.skipped", step.key, reason=reason)
        elif status == "released":
            # A worker shutting down hands the attempt back: the same attempt runs again.
            self.record_attempt(step, AttemptStatus.CANCELLED, outcome.worker, outcome.error)
            release(step)
            self.move(step, StepStatus.READY)
            step.available_at = self.now
        elif status == "failed":
            assert outcome.error is not None
            self.record_outcome(step, AttemptStatus.FAILED, outcome)
            self.fail(run, step, self.policy(run, step.key), outcome.error, outcome.retryable)
        else:
            self._wait(run, step, outcome)
        return True

    def _apply_item(self, run: RunRow, outcome: Outcome) -> bool:
        parent_key = outcome.key.split("[", 1)[0]
        steps = self.steps[run.id]
        parent = steps.get(parent_key)
        if (
            parent is None
            or parent.status is not StepStatus.RUNNING
            or parent.dispatch != outcome.parent_dispatch
        ):
            return False
        self.emit_reported(run, outcome)
        item = steps.get(outcome.key)
        if item is None:
            assert outcome.child_steps, "a new map item arrives with its row"
            self.changes.new_steps.append(outcome.child_steps[0])
            item = steps[outcome.key] = new_step_row(outcome.child_steps[0])
        elif item.status is not StepStatus.RUNNING:
            self.move(item, StepStatus.RUNNING)  # the item's next attempt
        item.dispatch = outcome.dispatch
        item.attempt = int(outcome.meta.get("attempt", 1))
        item.started_at = outcome.meta.get("started_at", self.now)
        duration = round((self.now - item.started_at).total_seconds() * 1000, 3)
        if outcome.status == "succeeded":
            self.record_outcome(item, AttemptStatus.SUCCEEDED, outcome)
            self.move(item, StepStatus.SUCCEEDED)
            item.error = None
            self.set_result(item, outcome.result)
            self.emit(run, "step.completed", item.key, attempt=item.attempt, duration_ms=duration)
        else:
            assert outcome.error is not None
            self.record_outcome(item, AttemptStatus.FAILED, outcome)
            self.move(item, StepStatus.FAILED)
            item.error = outcome.error
            self.emit(
                run,
                "step.failed",
                item.key,
                attempt=item.attempt,
                error=outcome.error,
                retry_in=None,
                exhausted=False,
            )
        item.finished_at = self.now
        return True

    def succeed(
        self,
        run: RunRow,
        step: StepRow,
        result: Any,
        worker: str,
        meta: Mapping[str, Any],
        *,
        record: bool = True,
    ) -> None:
        if record:
            self.record_attempt(step, AttemptStatus.SUCCEEDED, worker)
        now = self.now
        duration = round((now - (step.started_at or now)).total_seconds() * 1000, 3)
        release(step)
        self.move(step, StepStatus.SUCCEEDED)
        step.error = None
        step.finished_at = now
        self.set_result(step, result)
        self.emit(
            run,
            "step.completed",
            step.key,
            attempt=step.attempt,
            duration_ms=duration,
            agent=meta.get("agent"),
            capability=meta.get("capability"),
        )

    def fail(
        self,
        run: RunRow,
        step: StepRow,
        policy: RetryPolicy,
        error: dict[str, Any],
        retryable: bool,
    ) -> None:
        """A failed attempt: ready again after the policy's backoff, else failed (`exhausted`
        when a retryable failure ran out of attempts, which makes the run dead)."""
        delay = engine.retry_delay(policy, step.attempt, error["code"], retryable, self.rand())
        release(step)
        step.error = error
        if delay is not None:
            self.emit(
                run,
                "step.failed",
                step.key,
                attempt=step.attempt,
                error=error,
                retry_in=round(delay, 3),
                exhausted=False,
            )
            self.move(step, StepStatus.READY)
            step.attempt += 1
            step.lost = 0
            step.available_at = self.now + timedelta(seconds=delay)
        else:
            exhausted = retryable and step.attempt >= policy.max_attempts
            step.exhausted = exhausted
            self.move(step, StepStatus.FAILED)
            step.finished_at = self.now
            self.emit(
                run,
                "step.failed",
                step.key,
                attempt=step.attempt,
                error=error,
                retry_in=None,
                exhausted=exhausted,
            )

    def _wait(self, run: RunRow, step: StepRow, outcome: Outcome) -> None:
        self.record_outcome(step, AttemptStatus.WAITING, outcome)
        release(step)
        self.move(step, StepStatus.WAITING)
        if outcome.review is not None:
            review = {**outcome.review, "created_at": self.now}
            self.changes.reviews.append(review)
            self.emit(run, "step.waiting", step.key, kind=review["kind"], review_id=review["id"])
            self.emit(
                run,
                "review.requested",
                step.key,
                review_id=review["id"],
                kind=review["kind"],
                reviewers=review["reviewers"],
            )
        elif outcome.child_run is not None:
            values = {**outcome.child_run, "created_at": self.now, "updated_at": self.now}
            values["private_to"] = run.private_to  # as private as the run that starts it
            child = self.queue(values, list(outcome.child_steps))
            self.emit(run, "step.waiting", step.key, kind="workflow", child_run_id=child.id)

    def reap(self, run_id: str, key: str) -> bool:
        """A running step whose lease expired goes back to the queue, its attempt recorded as
        lost; after `max_lost` losses in a row it fails. True when the step moved."""
        step = self.steps.get(run_id, {}).get(key)
        if step is None or step.status is not StepStatus.RUNNING:
            return False
        if step.lease_expires_at is None or step.lease_expires_at >= self.now:
            return False
        run = self.runs[run_id]
        worker = step.lease_owner or "unknown"
        lost = {"code": "lease_expired", "message": "lease expired"}
        self.record_attempt(step, AttemptStatus.LOST, worker, lost)
        self.emit(
            run,
            "step.lease_expired",
            step.key,
            attempt=step.attempt,
            dispatch=step.dispatch,
            worker=worker,
        )
        step.lost += 1
        release(step)
        if step.lost >= self.max_lost:
            error = {
                "code": "lease_lost",
                "message": f"the attempt lost its worker {step.lost} times in a row",
                "details": {},
            }
            self.fail(run, step, self.policy(run, step.key), error, retryable=True)
        else:
            self.move(step, StepStatus.READY)
            step.available_at = self.now
        return True

    # -- planning and claiming -------------------------------------------------------------

    def advance(self, run: RunRow) -> Settle:
        """Let the engine promote, skip and settle the run after its steps changed."""
        if run.status is not RunStatus.RUNNING:
            return Settle.DONE
        spec = self.specs[run.workflow_version_pk]
        steps = self.steps[run.id]
        views = {
            key: engine.StepView(s.status, s.exhausted, on_person=s.kind != "workflow")
            for key, s in steps.items()
            if s.parent_key is None
        }
        plan = engine.plan(spec, views)
        for key in plan.skipped:
            step = steps[key]
            self.move(step, StepStatus.SKIPPED)
            step.finished_at = self.now
            self.emit(run, "step.skipped", key, reason="a step it needs was skipped")
        for key in plan.ready:
            step = steps[key]
            self.move(step, StepStatus.READY)
            step.attempt = max(step.attempt, 1)
            step.available_at = self.now
        if plan.run_status is run.status:
            return Settle.DONE
        if plan.run_status in (RunStatus.FAILED, RunStatus.DEAD):
            assert plan.failed_step is not None
            error = steps[plan.failed_step].error or {"code": "step_failed", "message": "failed"}
            self.cancel_steps(run, IN_FLIGHT, "run failed")
            run.error = {**error, "step": plan.failed_step}
            self.set_run_status(
                run, plan.run_status, step=plan.failed_step, error=error_info(error)
            )
        elif plan.run_status is RunStatus.SUCCEEDED:
            return Settle.OUTPUTS
        elif plan.run_status is RunStatus.WAITING:
            self.set_run_status(run, RunStatus.WAITING, steps=list(plan.waiting))
        return Settle.DONE

    def finish(self, run: RunRow, results: Mapping[str, Any]) -> None:
        """Settle a run whose steps are all done, from its top-level steps' results."""
        spec = self.specs[run.workflow_version_pk]
        try:
            run.outputs = engine.outputs(spec, run.inputs, results, run.ctx)
        except TemplateError as exc:
            error = {"code": exc.code, "message": exc.message, "details": {}}
            run.error = {**error, "step": "outputs"}
            self.set_run_status(run, RunStatus.FAILED, step="outputs", error=error)
        else:
            self.set_run_status(run, RunStatus.SUCCEEDED, outputs=run.outputs)

    def finish_child(self, child: RunRow) -> RunRow | None:
        """A finished sub-workflow run settles the parent's step that waits on it (the parent
        must be loaded); returns the parent when it should `advance`."""
        assert child.parent_run_id is not None
        assert child.parent_step_key is not None
        parent = self.runs.get(child.parent_run_id)
        if parent is None:
            return None
        step = self.steps[parent.id].get(child.parent_step_key)
        if (
            step is None
            or step.status is not StepStatus.WAITING
            or step.attempt != child.parent_attempt
        ):
            return None
        if parent.status is RunStatus.WAITING:
            reason = f"sub-workflow run {child.id} finished"
            self.set_run_status(parent, RunStatus.RUNNING, reason=reason)
        if parent.status is not RunStatus.RUNNING:
            return None
        if child.status is RunStatus.SUCCEEDED:
            self.succeed(parent, step, child.outputs, self.worker, {}, record=False)
        else:
            error = {
                "code": "subworkflow_failed",
                "message": f"sub-workflow run {child.id} ended {child.status}",
                "details": {"child_run_id": child.id, "child_error": child.error},
            }
            self.fail(parent, step, self.policy(parent, step.key), error, retryable=False)
        return parent

    def claimable(self, step: StepRow) -> bool:
        return (
            step.status is StepStatus.READY
            and self.runs[step.run_id].status is RunStatus.RUNNING
            and (step.available_at is None or step.available_at <= self.now)
        )

    def claim(self, step: StepRow) -> Claim:
        """Lease a ready step to this worker for a new dispatch of its attempt."""
        run = self.runs[step.run_id]
        now = self.now
        self.move(step, StepStatus.RUNNING)
        step.dispatch += 1
        step.attempt = max(step.attempt, 1)
        step.lease_owner = self.worker
        step.lease_expires_at = now + self.lease
        step.started_at = now
        step.finished_at = None
        self.emit(
            run,
            "step.started",
            step.key,
            attempt=step.attempt,
            dispatch=step.dispatch,
            worker=self.worker,
            idempotency_key=f"{run.id}:{step.key}:{step.attempt}",
        )
        return Claim(
            run_id=run.id,
            key=step.key,
            tenant_id=run.tenant_id,
            kind=step.kind,
            attempt=step.attempt,
            dispatch=step.dispatch,
            workflow_version_pk=run.workflow_version_pk,
            inputs=run.inputs,
            ctx=run.ctx,
            private_to=run.private_to,
        )

    def policy(self, run: RunRow, key: str) -> RetryPolicy:
        return self.specs[run.workflow_version_pk].by_id[key].retry
