"""The primitive moves of a run's rows, each checked and recorded.

`Moves` holds the loaded rows of some runs and the time `now`. A step moves only as
`STEP_TRANSITIONS` allows and a run only as `RUN_TRANSITIONS` allows (else `IllegalTransition`);
every move, event, attempt record, new run or step and review to close is recorded in `changes`
for the store to persist. The decisions that use these moves are in `workflows/transitions.py`
(what happened to attempts) and `workflows/actions.py` (what an operator did).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from datetime import datetime
from typing import Any

from batonflow.errors import IllegalTransition
from batonflow.events.contracts import event
from batonflow.runs.run import (
    STEP_TRANSITIONS,
    AttemptStatus,
    RunStatus,
    StepStatus,
    check_run_transition,
    check_step_transition,
)
from batonflow.runs.state import Changes, ClosedReviews, RunRow, StepRow
from batonflow.workflows.attempts import Outcome

_RUN_EVENTS = {
    RunStatus.WAITING: "run.waiting",
    RunStatus.SUCCEEDED: "run.succeeded",
    RunStatus.FAILED: "run.failed",
    RunStatus.DEAD: "run.dead",
    RunStatus.CANCELLED: "run.cancelled",
}
_RUN_FIELDS = tuple(f.name for f in fields(RunRow))
_STEP_FIELDS = tuple(f.name for f in fields(StepRow))


def new_run_row(values: Mapping[str, Any]) -> RunRow:
    """The row of a run about to be inserted, from its column values."""
    run = RunRow(*[values[name] for name in _RUN_FIELDS])
    run.status = RunStatus(run.status)
    return run


def new_step_row(values: Mapping[str, Any]) -> StepRow:
    """The row of a step about to be inserted (a new run's, or a map item's)."""
    step = StepRow(*[values.get(name) for name in _STEP_FIELDS])  # type: ignore[arg-type]
    step.status = StepStatus(step.status)
    return step


IN_FLIGHT = frozenset({StepStatus.READY, StepStatus.RUNNING, StepStatus.WAITING})


class Moves:
    def __init__(
        self,
        runs: dict[str, RunRow],
        steps: dict[str, dict[str, StepRow]],
        now: datetime,
        changes: Changes | None = None,
    ) -> None:
        self.runs = runs
        self.steps = steps
        self.now = now
        self.changes = changes if changes is not None else Changes()

    def move(self, step: StepRow, status: StepStatus) -> None:
        """Move a step, as `STEP_TRANSITIONS` allows, and mark it to be written."""
        if status not in STEP_TRANSITIONS[step.status]:
            check_step_transition(step.key, step.status, status)
        step.status = status
        self.changes.steps.add((step.run_id, step.key))

    def emit(self, run: RunRow, type_: str, step_key: str | None = None, **data: Any) -> None:
        self.changes.events.append(event(type_, run.id, run.tenant_id, step_key, **data))
        self.changes.runs.add(run.id)

    def set_result(self, step: StepRow, result: Any) -> None:
        self.changes.results[(step.run_id, step.key)] = result
        self.changes.steps.add((step.run_id, step.key))

    def set_run_status(self, run: RunRow, status: RunStatus, **data: Any) -> None:
        check_run_transition(run.status, status)
        run.status = status
        run.updated_at = self.now
        if status is RunStatus.RUNNING and run.started_at is None:
            run.started_at = self.now
        if status.terminal:
            run.finished_at = self.now
        elif run.finished_at is not None:
            run.finished_at = None
        if status is RunStatus.RUNNING:
            type_ = "run.started" if "reason" not in data else "run.resumed"
        elif status in _RUN_EVENTS:
            type_ = _RUN_EVENTS[status]
        else:
            raise IllegalTransition(f"no event describes a move to {status}")
        self.emit(run, type_, **data)

    def record_attempt(
        self,
        step: StepRow,
        status: AttemptStatus,
        worker: str,
        error: Any = None,
        args: dict[str, Any] | None = None,
    ) -> None:
        now = self.now
        started = step.started_at or now
        self.changes.attempts.append(
            {
                "run_id": step.run_id,
                "step_key": step.key,
                "dispatch": step.dispatch,
                "tenant_id": step.tenant_id,
                "attempt": step.attempt,
                "status": status.value,
                "worker": worker,
                "idempotency_key": f"{step.run_id}:{step.key}:{step.attempt}",
                "started_at": started,
                "finished_at": now,
                "duration_ms": round((now - started).total_seconds() * 1000, 3),
                "error": error,
                "args": args,
            }
        )

    def record_outcome(self, step: StepRow, status: AttemptStatus, outcome: Outcome) -> None:
        """Record the attempt `outcome` reports, with its error and its resolved arguments."""
        self.record_attempt(step, status, outcome.worker, outcome.error, outcome.args)

    def emit_reported(self, run: RunRow, outcome: Outcome) -> None:
        """The events an attempt reports: its model calls, then the rest (tool refusals, ...)."""
        for type_, data in [*(("llm.call", c) for c in outcome.llm_calls), *outcome.events]:
            self.emit(run, type_, outcome.key, **data)

    def add_run(
        self, values: dict[str, Any], steps: list[dict[str, Any]] | tuple[Any, ...]
    ) -> RunRow:
        """A new run with its steps, inserted with this transition."""
        self.changes.new_runs.append(values)
        self.changes.new_steps.extend(steps)
        run = new_run_row(values)
        self.runs[run.id] = run
        self.steps[run.id] = {row["key"]: new_step_row(row) for row in steps}
        return run

    def queue(self, values: dict[str, Any], steps: list[dict[str, Any]]) -> RunRow:
        """A new run, queued for a worker to start."""
        run = self.add_run(values, steps)
        self.emit(
            run,
            "run.queued",
            workflow_id=run.workflow_id,
            workflow_version=run.workflow_version,
            **({"parent_run_id": run.parent_run_id} if run.parent_run_id else {}),
        )
        return run

    def start(self, run_id: str) -> bool:
        """Start a queued run; false when it is not (or no longer) queued."""
        run = self.runs.get(run_id)
        if run is None or run.status is not RunStatus.QUEUED:
            return False
        self.set_run_status(run, RunStatus.RUNNING)
        return True

    def cancel_steps(self, run: RunRow, statuses: frozenset[StepStatus], by: str) -> None:
        """Cancel the run's steps in `statuses` (a running one's attempt is recorded as
        cancelled) and close its pending reviews."""
        for step in self.steps[run.id].values():
            if step.status not in statuses:
                continue
            if step.status is StepStatus.RUNNING:
                self.record_attempt(step, AttemptStatus.CANCELLED, step.lease_owner or by)
            self.move(step, StepStatus.CANCELLED)
            step.lease_owner = None
            step.lease_expires_at = None
            step.finished_at = self.now
        self.changes.closed_reviews.append(
            ClosedReviews(run.tenant_id, run.id, None, "cancelled", by)
        )


def release(step: StepRow) -> None:
    step.lease_owner = None
    step.lease_expires_at = None


def error_info(error: dict[str, Any]) -> dict[str, Any]:
    return {
        "code": error.get("code", "error"),
        "message": error.get("message", ""),
        "details": error.get("details") or {},
    }
