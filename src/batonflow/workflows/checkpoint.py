"""The checkpoint transaction: load the runs, let the engine apply what happened, persist.

Everything that changes a run's progress goes through `Checkpointer` inside one transaction the
caller opens: a worker's batch of finished attempts (group commit), starting queued runs, the
reaper, and the service layer's decisions and operator actions. Each is the same three steps:
`RunTx` loads and locks the rows, a `Transition` (`workflows/transitions.py`) decides every move
as data, and `RunTx.flush` writes the moves and the recorded changes. The only loads in between
are the ones a decision asks for: the results that make a finished run's outputs, and the parent
run a finished sub-workflow run settles.

A step's result is committed in the same transaction that makes its dependents ready, so nothing
is scheduled on an uncommitted result. A finished attempt whose step has moved on (another
dispatch holds it, or the run was cancelled) is rejected: that is the fencing that keeps a stale
worker's late write out.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from batonflow.audit import log as audit
from batonflow.runs.run import RunStatus, StepStatus
from batonflow.runs.state import RunRow
from batonflow.store import runs as run_store
from batonflow.store import wakes as wake_store
from batonflow.store import workflows as workflow_store
from batonflow.store.db import Conn
from batonflow.store.run_tx import RowCache, RunTx
from batonflow.workflows.attempts import Claim, Outcome, Wake
from batonflow.workflows.spec import WorkflowSpec
from batonflow.workflows.transitions import Settle, Transition


@dataclass
class CommitResult:
    events: list[Any] = field(default_factory=list)
    claims: list[Claim] = field(default_factory=list)
    rejected: list[Outcome] = field(default_factory=list)
    finished_runs: dict[str, RunStatus] = field(default_factory=dict)
    ready: list[Wake] = field(default_factory=list)  # ready steps left unclaimed, announced


class SpecCache:
    """Workflow versions are immutable, so a parsed spec is cached for the process's life.
    `loaded` is the mapping the engine reads specs from."""

    def __init__(self) -> None:
        self.loaded: dict[str, WorkflowSpec] = {}

    async def get(self, conn: Conn, tenant_id: str, version_pk: str) -> WorkflowSpec:
        spec = self.loaded.get(version_pk)
        if spec is None:
            row = await workflow_store.get_version_by_pk(conn, tenant_id, version_pk)
            spec = WorkflowSpec.model_validate(row.spec)
            self.loaded[version_pk] = spec
        return spec

    async def load(self, conn: Conn, runs: Iterable[RunRow]) -> None:
        """Make sure the specs of these runs are loaded."""
        for run in runs:
            if run.workflow_version_pk not in self.loaded:
                await self.get(conn, run.tenant_id, run.workflow_version_pk)

    def cached(self, version_pk: str) -> WorkflowSpec | None:
        return self.loaded.get(version_pk)

    def put(self, version_pk: str, spec: WorkflowSpec) -> None:
        self.loaded[version_pk] = spec


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
        # Celery execution: the queue of a step (spec, key); set, the ready steps a commit
        # leaves unclaimed are recorded as announced there, for the caller to publish. A commit
        # claims (within its capacity) only the steps it makes ready on a queue in `serves`.
        self.route: Callable[[WorkflowSpec, str], str] | None = None
        self.serves: frozenset[str] = frozenset()

    def transition(self, tx: RunTx) -> Transition:
        """The engine over the rows `tx` loads, deciding as this worker."""
        return Transition(
            tx.runs,
            tx.steps,
            tx.now,
            self.specs.loaded,
            worker=self.worker,
            lease=self.lease,
            max_lost=self.max_lost,
            rand=self.rand,
        )

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
        await self.specs.load(conn, tx.runs.values())
        t = self.transition(tx)
        # Steps ready before this transaction were announced by the one that made them ready.
        was_ready: set[tuple[str, str]] = set()
        if self.route is not None:
            was_ready = {
                (run_id, key)
                for run_id, steps in tx.steps.items()
                for key, step in steps.items()
                if step.status is StepStatus.READY
            }
        touched: dict[str, None] = {}
        for run_id in start_runs:
            if t.start(run_id):
                touched[run_id] = None
        for outcome in outcomes:
            if t.apply(outcome):
                touched[outcome.run_id] = None
                await _audit_refusals(conn, tx.runs[outcome.run_id].tenant_id, outcome, now)
            else:
                result.rejected.append(outcome)
        for run_id in list(touched):
            await self.settle(tx, t, tx.runs[run_id], result)
        budget = capacity
        for run_id, key in claim:
            step = tx.steps.get(run_id, {}).get(key)
            if budget > 0 and step is not None and t.claimable(step):
                result.claims.append(t.claim(step))
                budget -= 1
        routed: list[tuple[str, str, str]] = []  # (run, step, queue) claimed on a served queue
        for run_id in touched:
            for step in tx.steps[run_id].values():
                if budget <= 0:
                    break
                if (
                    step.parent_key is None
                    and t.claimable(step)
                    and self._here(tx, run_id, step.key, was_ready)
                ):
                    result.claims.append(t.claim(step))
                    budget -= 1
                    if self.route is not None:
                        spec = self.specs.loaded[tx.runs[run_id].workflow_version_pk]
                        routed.append((run_id, step.key, self.route(spec, step.key)))
        if self.route is not None:
            result.ready = self._ready(tx, t, touched, was_ready)
        result.events = await tx.flush(t.changes)
        if result.ready or routed:
            announced = [(w.run_id, w.key, w.queue) for w in result.ready]
            await wake_store.mark_announced(conn, announced, now, claimed=routed)
        return result

    async def claim_named(
        self, conn: Conn, now: datetime, tenant_id: str, run_id: str, key: str, dispatch: int
    ) -> CommitResult:
        """Claim one step a wake-up names, if it is still the claim the wake-up asked for: the
        step is ready and due, its run running, and its next dispatch is `dispatch`. Anything
        else (claimed, finished, an older wake-up, another tenant's run) claims nothing."""
        tx = RunTx(conn, now, self.cache)
        result = CommitResult()
        await tx.load([run_id], tenant_id=tenant_id)
        await self.specs.load(conn, tx.runs.values())
        t = self.transition(tx)
        step = tx.steps.get(run_id, {}).get(key)
        if (
            step is not None
            and step.parent_key is None
            and step.dispatch + 1 == dispatch
            and t.claimable(step)
        ):
            result.claims.append(t.claim(step))
        result.events = await tx.flush(t.changes)
        return result

    def _here(self, tx: RunTx, run_id: str, key: str, was_ready: set[tuple[str, str]]) -> bool:
        """May this commit claim the step? Always, without routes; with them, only a step it
        made ready (one ready before has its wake-up on the way) on a queue this worker serves."""
        if self.route is None:
            return True
        if (run_id, key) in was_ready:
            return False
        spec = self.specs.loaded[tx.runs[run_id].workflow_version_pk]
        return self.route(spec, key) in self.serves

    def _ready(
        self, tx: RunTx, t: Transition, run_ids: Iterable[str], was_ready: set[tuple[str, str]]
    ) -> list[Wake]:
        """The steps of `run_ids` this transaction made ready and due, routed to their queues."""
        assert self.route is not None
        ready = []
        for run_id in run_ids:
            run = tx.runs[run_id]
            spec = self.specs.loaded[run.workflow_version_pk]
            for step in tx.steps[run_id].values():
                fresh = (run_id, step.key) not in was_ready
                if fresh and step.parent_key is None and t.claimable(step):
                    queue = self.route(spec, step.key)
                    trace = run.ctx.get("traceparent")
                    ready.append(
                        Wake(
                            run.tenant_id,
                            run_id,
                            step.key,
                            step.dispatch + 1,
                            queue,
                            trace if isinstance(trace, str) else None,
                        )
                    )
        return ready

    async def reap(
        self, conn: Conn, now: datetime, expired: Iterable[tuple[str, str]]
    ) -> CommitResult:
        """Return steps whose lease expired to the queue, recording the lost attempt."""
        tx = RunTx(conn, now)
        result = CommitResult()
        expired = list(expired)
        await tx.load({run_id for run_id, _ in expired}, skip_locked=True)
        await self.specs.load(conn, tx.runs.values())
        t = self.transition(tx)
        for run_id, key in expired:
            if t.reap(run_id, key):
                await self.settle(tx, t, tx.runs[run_id], result)
        result.events = await tx.flush(t.changes)
        return result

    async def settle(self, tx: RunTx, t: Transition, run: RunRow, result: CommitResult) -> None:
        """Advance a run whose steps changed, loading what the engine asks for: the results of
        a run that finished, and the parent of a finished sub-workflow run (which then
        advances in turn)."""
        pending: RunRow | None = run
        while pending is not None:
            run, pending = pending, None
            before = run.status
            if t.advance(run) is Settle.OUTPUTS:
                t.finish(run, await self._results(tx, t, run))
            if run.status is before or not run.status.terminal:
                continue
            result.finished_runs[run.id] = run.status
            if run.parent_run_id is not None:
                await tx.load([run.parent_run_id], tenant_id=run.tenant_id)
                await self.specs.load(conn=tx.conn, runs=tx.runs.values())
                pending = t.finish_child(run)

    async def _results(self, tx: RunTx, t: Transition, run: RunRow) -> dict[str, Any]:
        """The run's top-level results: stored ones, and the ones this transaction set."""
        results = await run_store.step_results(tx.conn, run.tenant_id, run.id)
        steps = tx.steps[run.id]
        for (run_id, key), value in t.changes.results.items():
            if run_id == run.id and steps[key].parent_key is None:
                results[key] = value
        return {key: value for key, value in results.items() if "[" not in key}


async def _audit_refusals(conn: Conn, tenant_id: str, outcome: Outcome, now: datetime) -> None:
    """A tool call the gate refused, and output a check stopped, are in the tenant's audit log
    too, beside their events."""
    for type_, data in outcome.events:
        if type_ in ("tool.refused", "output.leak"):
            await audit.record(
                conn,
                tenant_id,
                type_,
                actor=audit.Actor.agent(str(data["by"])),
                target=("run", outcome.run_id),
                details={"step": outcome.key, **data},
                now=now,
            )
