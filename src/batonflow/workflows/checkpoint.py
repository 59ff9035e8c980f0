"""The checkpoint transaction: apply finished attempts, ask the engine what comes next, claim it.

Everything that changes a run's progress goes through `Checkpointer` inside one transaction the
caller opens: a worker's batch of finished attempts (group commit), starting queued runs, the
reaper, and the service layer's decisions and operator actions. A step's result is committed in
the same transaction that makes its dependents ready, so nothing is scheduled on an uncommitted
result. A finished attempt whose step has moved on (another dispatch holds it, or the run was
cancelled) is rejected: that is the fencing that keeps a stale worker's late write out.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from batonflow.errors import TemplateError
from batonflow.runs.run import AttemptStatus, RunStatus, StepStatus
from batonflow.store import runs as run_store
from batonflow.store import workflows as workflow_store
from batonflow.store.db import Conn
from batonflow.store.runs import RowCache, RunRow, RunTx, StepRow
from batonflow.workflows import engine
from batonflow.workflows.spec import RetryPolicy, WorkflowSpec


@dataclass(frozen=True, slots=True)
class Claim:
    """A step attempt this worker now holds a lease on."""

    run_id: str
    key: str
    tenant_id: str
    kind: str
    attempt: int
    dispatch: int
    workflow_version_pk: str
    inputs: dict[str, Any] = field(default_factory=dict)
    ctx: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a finished attempt reports. `dispatch` is its fencing number."""

    run_id: str
    key: str
    dispatch: int
    worker: str
    status: Literal["succeeded", "failed", "waiting", "skipped", "released"]
    result: Any = None
    error: dict[str, Any] | None = None
    retryable: bool = False
    meta: dict[str, Any] = field(default_factory=dict)
    review: dict[str, Any] | None = None
    child_run: dict[str, Any] | None = None
    child_steps: tuple[dict[str, Any], ...] = ()
    parent_dispatch: int | None = None  # for map items: the map step's dispatch
    llm_calls: tuple[dict[str, Any], ...] = ()  # `llm.call` event data of the attempt's calls


@dataclass
class CommitResult:
    events: list[Any] = field(default_factory=list)
    claims: list[Claim] = field(default_factory=list)
    rejected: list[Outcome] = field(default_factory=list)
    finished_runs: dict[str, RunStatus] = field(default_factory=dict)


_IN_FLIGHT = frozenset({StepStatus.READY, StepStatus.RUNNING, StepStatus.WAITING})


class SpecCache:
    """Workflow versions are immutable, so a parsed spec is cached for the process's life."""

    def __init__(self) -> None:
        self._specs: dict[str, WorkflowSpec] = {}

    async def get(self, conn: Conn, tenant_id: str, version_pk: str) -> WorkflowSpec:
        spec = self._specs.get(version_pk)
        if spec is None:
            row = await workflow_store.get_version_by_pk(conn, tenant_id, version_pk)
            spec = WorkflowSpec.model_validate(row.spec)
            self._specs[version_pk] = spec
        return spec

    def cached(self, version_pk: str) -> WorkflowSpec | None:
        return self._specs.get(version_pk)

    def put(self, version_pk: str, spec: WorkflowSpec) -> None:
        self._specs[version_pk] = spec


class Checkpointer:
    def __init__(
        self,
        specs: SpecCache,
        *,
        worker: str,
        lease_seconds: float,
        max_lost: int = 3,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.specs = specs
        self.worker = worker
        self.lease = timedelta(seconds=lease_seconds)
        self.max_lost = max_lost
        self.rand = rand
        self.cache: RowCache | None = None  # an executor keeps the rows it committed

    # -- entry points ------------------------------------------------------------------------

    async def commit(
        self,
        conn: Conn,
        now: datetime,
        outcomes: Iterable[Outcome] = (),
        *,
        start_runs: Iterable[str] = (),
        claim: Iterable[tuple[str, str]] = (),
        capacity: int = 0,
    ) -> CommitResult:
        """Apply outcomes, start queued runs, claim the given candidates, then claim newly
        ready steps of the touched runs while `capacity` lasts."""
        outcomes = list(outcomes)
        start_runs = list(start_runs)
        claim = list(claim)
        tx = RunTx(conn, now, self.cache)
        result = CommitResult()
        await tx.load(
            set(start_runs) | {run_id for run_id, _ in claim}, skip_locked=True, fresh=True
        )
        await tx.load({o.run_id for o in outcomes})
        touched: dict[str, None] = {}
        for run_id in start_runs:
            run = tx.runs.get(run_id)
            if run is not None and run.status is RunStatus.QUEUED:
                tx.set_run_status(run, RunStatus.RUNNING)
                touched[run_id] = None
        for outcome in outcomes:
            if await self._apply(tx, outcome):
                touched[outcome.run_id] = None
            else:
                result.rejected.append(outcome)
        for run_id in list(touched):
            await self.advance(tx, tx.runs[run_id], result)
        budget = capacity
        for run_id, key in claim:
            step = tx.steps.get(run_id, {}).get(key)
            if budget > 0 and step is not None and self._claimable(tx, step):
                result.claims.append(self._claim(tx, step))
                budget -= 1
        for run_id in touched:
            for step in tx.steps[run_id].values():
                if budget <= 0:
                    break
                if step.parent_key is None and self._claimable(tx, step):
                    result.claims.append(self._claim(tx, step))
                    budget -= 1
        result.events = await tx.flush()
        return result

    async def reap(
        self, conn: Conn, now: datetime, expired: Iterable[tuple[str, str]]
    ) -> CommitResult:
        """Return steps whose lease expired to the queue, recording the lost attempt."""
        tx = RunTx(conn, now)
        result = CommitResult()
        expired = list(expired)
        await tx.load({run_id for run_id, _ in expired}, skip_locked=True)
        for run_id, key in expired:
            step = tx.steps.get(run_id, {}).get(key)
            if step is None or step.status is not StepStatus.RUNNING:
                continue
            if step.lease_expires_at is None or step.lease_expires_at >= now:
                continue
            run = tx.runs[run_id]
            worker = step.lease_owner or "unknown"
            tx.record_attempt(
                step,
                AttemptStatus.LOST,
                worker,
                {"code": "lease_expired", "message": "lease expired"},
            )
            tx.emit(
                run,
                "step.lease_expired",
                step.key,
                attempt=step.attempt,
                dispatch=step.dispatch,
                worker=worker,
            )
            step.lost += 1
            self._release(step)
            if step.lost >= self.max_lost:
                spec = await self._spec(tx, run)
                error = {
                    "code": "lease_lost",
                    "message": f"the attempt lost its worker {step.lost} times in a row",
                    "details": {},
                }
                self.fail(tx, run, step, self._policy(spec, step.key), error, retryable=True)
                await self.advance(tx, run, result)
            else:
                step.status = StepStatus.READY
                step.available_at = now
            tx.touch_step(step)
        result.events = await tx.flush()
        return result

    # -- applying outcomes --------------------------------------------------------------------

    async def _apply(self, tx: RunTx, outcome: Outcome) -> bool:
        run = tx.runs.get(outcome.run_id)
        if run is None or run.status is not RunStatus.RUNNING:
            return False
        step = tx.steps[run.id].get(outcome.key)
        if outcome.parent_dispatch is not None:
            return self._apply_item(tx, run, outcome)
        if (
            step is None
            or step.status is not StepStatus.RUNNING
            or step.dispatch != outcome.dispatch
        ):
            return False
        self._calls(tx, run, outcome)
        spec = await self._spec(tx, run)
        if outcome.status == "succeeded":
            self.succeed(tx, run, step, outcome.result, outcome.worker, outcome.meta)
        elif outcome.status == "skipped":
            self._release(step)
            step.status = StepStatus.SKIPPED
            step.finished_at = tx.now
            tx.set_result(step, None)
            tx.emit(
                run, "step.skipped", step.key, reason=outcome.meta.get("reason", "when was false")
            )
        elif outcome.status == "released":
            # A worker shutting down hands the attempt back: the same attempt runs again.
            tx.record_attempt(step, AttemptStatus.CANCELLED, outcome.worker, outcome.error)
            self._release(step)
            step.status = StepStatus.READY
            step.available_at = tx.now
        elif outcome.status == "failed":
            assert outcome.error is not None
            tx.record_attempt(step, AttemptStatus.FAILED, outcome.worker, outcome.error)
            self.fail(tx, run, step, self._policy(spec, step.key), outcome.error, outcome.retryable)
        else:
            self._wait(tx, run, step, outcome)
        tx.touch_step(step)
        return True

    def _apply_item(self, tx: RunTx, run: RunRow, outcome: Outcome) -> bool:
        parent_key = outcome.key.split("[", 1)[0]
        parent = tx.steps[run.id].get(parent_key)
        if (
            parent is None
            or parent.status is not StepStatus.RUNNING
            or parent.dispatch != outcome.parent_dispatch
        ):
            return False
        self._calls(tx, run, outcome)
        item = tx.steps[run.id].get(outcome.key)
        if item is None:
            assert outcome.child_steps, "a new map item arrives with its row"
            item = tx.add_step(outcome.child_steps[0])
        item.dispatch = outcome.dispatch
        item.attempt = int(outcome.meta.get("attempt", 1))
        item.started_at = outcome.meta.get("started_at", tx.now)
        duration = round((tx.now - item.started_at).total_seconds() * 1000, 3)
        if outcome.status == "succeeded":
            tx.record_attempt(item, AttemptStatus.SUCCEEDED, outcome.worker)
            item.status = StepStatus.SUCCEEDED
            item.error = None
            tx.set_result(item, outcome.result)
            tx.emit(run, "step.completed", item.key, attempt=item.attempt, duration_ms=duration)
        else:
            assert outcome.error is not None
            tx.record_attempt(item, AttemptStatus.FAILED, outcome.worker, outcome.error)
            item.status = StepStatus.FAILED
            item.error = outcome.error
            tx.emit(
                run,
                "step.failed",
                item.key,
                attempt=item.attempt,
                error=outcome.error,
                retry_in=None,
                exhausted=False,
            )
        item.finished_at = tx.now
        tx.touch_step(item)
        return True

    def _calls(self, tx: RunTx, run: RunRow, outcome: Outcome) -> None:
        for call in outcome.llm_calls:
            tx.emit(run, "llm.call", outcome.key, **call)

    def succeed(
        self,
        tx: RunTx,
        run: RunRow,
        step: StepRow,
        result: Any,
        worker: str,
        meta: dict[str, Any],
        *,
        record: bool = True,
    ) -> None:
        if record:
            tx.record_attempt(step, AttemptStatus.SUCCEEDED, worker)
        duration = round((tx.now - (step.started_at or tx.now)).total_seconds() * 1000, 3)
        self._release(step)
        step.status = StepStatus.SUCCEEDED
        step.error = None
        step.finished_at = tx.now
        tx.set_result(step, result)
        tx.emit(
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
        tx: RunTx,
        run: RunRow,
        step: StepRow,
        policy: RetryPolicy,
        error: dict[str, Any],
        retryable: bool,
    ) -> None:
        delay = engine.retry_delay(policy, step.attempt, error["code"], retryable, self.rand())
        self._release(step)
        step.error = error
        if delay is not None:
            tx.emit(
                run,
                "step.failed",
                step.key,
                attempt=step.attempt,
                error=error,
                retry_in=round(delay, 3),
                exhausted=False,
            )
            step.status = StepStatus.READY
            step.attempt += 1
            step.lost = 0
            step.available_at = tx.now + timedelta(seconds=delay)
        else:
            exhausted = retryable and step.attempt >= policy.max_attempts
            step.exhausted = exhausted
            step.status = StepStatus.FAILED
            step.finished_at = tx.now
            tx.emit(
                run,
                "step.failed",
                step.key,
                attempt=step.attempt,
                error=error,
                retry_in=None,
                exhausted=exhausted,
            )

    def _wait(self, tx: RunTx, run: RunRow, step: StepRow, outcome: Outcome) -> None:
        tx.record_attempt(step, AttemptStatus.WAITING, outcome.worker)
        self._release(step)
        step.status = StepStatus.WAITING
        if outcome.review is not None:
            review = {**outcome.review, "created_at": tx.now}
            tx.pending_reviews.append(review)
            tx.emit(run, "step.waiting", step.key, kind=review["kind"], review_id=review["id"])
            tx.emit(
                run,
                "review.requested",
                step.key,
                review_id=review["id"],
                kind=review["kind"],
                reviewers=review["reviewers"],
            )
        elif outcome.child_run is not None:
            child = tx.add_run(
                {**outcome.child_run, "created_at": tx.now, "updated_at": tx.now},
                outcome.child_steps,
            )
            tx.emit(
                child,
                "run.queued",
                workflow_id=child.workflow_id,
                workflow_version=child.workflow_version,
                parent_run_id=run.id,
            )
            tx.emit(run, "step.waiting", step.key, kind="workflow", child_run_id=child.id)

    @staticmethod
    def _release(step: StepRow) -> None:
        step.lease_owner = None
        step.lease_expires_at = None

    # -- planning and claiming ---------------------------------------------------------------

    async def advance(self, tx: RunTx, run: RunRow, result: CommitResult) -> None:
        """Let the engine promote, skip and settle the run after its steps changed."""
        if run.status is not RunStatus.RUNNING:
            return
        spec = await self._spec(tx, run)
        steps = tx.steps[run.id]
        views = {
            key: engine.StepView(s.status, s.exhausted, on_person=s.kind != "workflow")
            for key, s in steps.items()
            if s.parent_key is None
        }
        plan = engine.plan(spec, views)
        for key in plan.skipped:
            step = steps[key]
            step.status = StepStatus.SKIPPED
            step.finished_at = tx.now
            tx.touch_step(step)
            tx.emit(run, "step.skipped", key, reason="a step it needs was skipped")
        for key in plan.ready:
            step = steps[key]
            step.status = StepStatus.READY
            step.attempt = max(step.attempt, 1)
            step.available_at = tx.now
            tx.touch_step(step)
        if plan.run_status is run.status:
            return
        if plan.run_status in (RunStatus.FAILED, RunStatus.DEAD):
            assert plan.failed_step is not None
            error = steps[plan.failed_step].error or {"code": "step_failed", "message": "failed"}
            await tx.cancel_steps(run, _IN_FLIGHT, "run failed")
            run.error = {**error, "step": plan.failed_step}
            tx.set_run_status(run, plan.run_status, step=plan.failed_step, error=_error_info(error))
        elif plan.run_status is RunStatus.SUCCEEDED:
            results = await self._results(tx, run)
            try:
                run.outputs = engine.outputs(spec, run.inputs, results, run.ctx)
            except TemplateError as exc:
                error = {"code": exc.code, "message": exc.message, "details": {}}
                run.error = {**error, "step": "outputs"}
                tx.set_run_status(run, RunStatus.FAILED, step="outputs", error=error)
            else:
                tx.set_run_status(run, RunStatus.SUCCEEDED, outputs=run.outputs)
        elif plan.run_status is RunStatus.WAITING:
            tx.set_run_status(run, RunStatus.WAITING, steps=list(plan.waiting))
        if run.status.terminal:
            result.finished_runs[run.id] = run.status
            if run.parent_run_id is not None:
                await self._finish_child(tx, run, result)

    async def _finish_child(self, tx: RunTx, child: RunRow, result: CommitResult) -> None:
        assert child.parent_run_id is not None
        assert child.parent_step_key is not None
        await tx.load([child.parent_run_id], tenant_id=child.tenant_id)
        parent = tx.runs.get(child.parent_run_id)
        if parent is None:
            return
        step = tx.steps[parent.id].get(child.parent_step_key)
        if (
            step is None
            or step.status is not StepStatus.WAITING
            or step.attempt != child.parent_attempt
        ):
            return
        if parent.status is RunStatus.WAITING:
            tx.set_run_status(
                parent, RunStatus.RUNNING, reason=f"sub-workflow run {child.id} finished"
            )
        if parent.status is not RunStatus.RUNNING:
            return
        if child.status is RunStatus.SUCCEEDED:
            self.succeed(tx, parent, step, child.outputs, self.worker, {}, record=False)
        else:
            error = {
                "code": "subworkflow_failed",
                "message": f"sub-workflow run {child.id} ended {child.status}",
                "details": {"child_run_id": child.id, "child_error": child.error},
            }
            spec = await self._spec(tx, parent)
            self.fail(tx, parent, step, self._policy(spec, step.key), error, retryable=False)
        tx.touch_step(step)
        await self.advance(tx, parent, result)

    @staticmethod
    def _claimable(tx: RunTx, step: StepRow) -> bool:
        return (
            step.status is StepStatus.READY
            and tx.runs[step.run_id].status is RunStatus.RUNNING
            and (step.available_at is None or step.available_at <= tx.now)
        )

    def _claim(self, tx: RunTx, step: StepRow) -> Claim:
        run = tx.runs[step.run_id]
        step.status = StepStatus.RUNNING
        step.dispatch += 1
        step.attempt = max(step.attempt, 1)
        step.lease_owner = self.worker
        step.lease_expires_at = tx.now + self.lease
        step.started_at = tx.now
        step.finished_at = None
        tx.touch_step(step)
        tx.emit(
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
        )

    # -- helpers -------------------------------------------------------------------------------

    async def _spec(self, tx: RunTx, run: RunRow) -> WorkflowSpec:
        return await self.specs.get(tx.conn, run.tenant_id, run.workflow_version_pk)

    @staticmethod
    def _policy(spec: WorkflowSpec, key: str) -> RetryPolicy:
        step = spec.by_id[key]
        return step.retry

    async def _results(self, tx: RunTx, run: RunRow) -> dict[str, Any]:
        results = await run_store.step_results(tx.conn, run.tenant_id, run.id)
        for (run_id, key), value in tx.results.items():
            if run_id == run.id and tx.steps[run_id][key].parent_key is None:
                results[key] = value
        return {key: value for key, value in results.items() if "[" not in key}


def _error_info(error: dict[str, Any]) -> dict[str, Any]:
    return {
        "code": error.get("code", "error"),
        "message": error.get("message", ""),
        "details": error.get("details") or {},
    }
