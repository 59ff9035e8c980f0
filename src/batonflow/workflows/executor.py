"""The executor: the loop that claims steps, runs them, and checkpoints their outcomes.

This is the only place in the workflow package that does I/O. One executor runs per process
(`batonflow run`, `batonflow worker`); any number may share a database.

- Claims: queued runs are started and ready steps are claimed with a lease (`lease_seconds`).
- Group commit: finished attempts go to one writer task, which commits whatever has queued up
  in a single transaction. The same transaction claims the steps they made ready, so a linear
  workflow moves one step per commit without polling.
- Heartbeats renew held leases; an attempt whose lease is no longer ours (reaped, or its run
  cancelled) is cancelled locally. The reaper returns expired leases of dead workers to the queue.
- Shutdown: `stop` lets in-flight attempts finish for `grace` seconds, then hands the rest back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from batonflow.agents.agent import EffectRecord
from batonflow.agents.registry import Registry
from batonflow.errors import StepTimeout, is_retryable
from batonflow.events.bus import EventBus
from batonflow.events.contracts import StoredEvent
from batonflow.llm.gateway import Gateway
from batonflow.llm.ledger import Budget
from batonflow.llm.records import CallRecord
from batonflow.llm.registry import build_gateway
from batonflow.runs.run import RunStatus, StepStatus
from batonflow.settings import Settings
from batonflow.store import effects as effect_store
from batonflow.store import runs as run_store
from batonflow.store.db import Conn, Database
from batonflow.store.llm_calls import DatabaseLedger
from batonflow.store.run_tx import StaleRows
from batonflow.store.tables import Run, Step
from batonflow.telemetry.process import Telemetry
from batonflow.workflows import engine, templates
from batonflow.workflows.attempts import Claim, Outcome
from batonflow.workflows.checkpoint import Checkpointer, CommitResult, SpecCache
from batonflow.workflows.spec import WorkflowSpec
from batonflow.workflows.steps import HANDLERS, Attempt, StepContext, error_dict

log = logging.getLogger("batonflow.executor")
T = TypeVar("T")
_SETTLED = frozenset({RunStatus.WAITING, *[s for s in RunStatus if s.terminal]})


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class RunContext:
    tenant_id: str
    spec: WorkflowSpec
    inputs: dict[str, Any]
    ctx: dict[str, Any]
    results: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Pending:
    outcome: Outcome
    done: asyncio.Future[bool] | None = None


class _Effects:
    def __init__(self, ex: Executor, tenant_id: str, run_id: str, key: str) -> None:
        self._ex, self._tenant_id, self._run_id, self._key = ex, tenant_id, run_id, key

    async def apply(
        self, kind: str, payload: dict[str, Any], *, key: str | None = None
    ) -> EffectRecord:
        async def work(conn: Conn) -> tuple[dict[str, Any], bool]:
            return await effect_store.apply_effect(
                conn, self._tenant_id, key or self._key, kind, payload, self._run_id, utcnow()
            )

        row, applied = await self._ex.db.write(work)
        return EffectRecord(
            key=row["key"], kind=row["kind"], payload=row["payload"], applied_now=applied
        )


class Executor:
    def __init__(
        self,
        engine_: AsyncEngine,
        registry: Registry,
        settings: Settings,
        *,
        bus: EventBus | None = None,
        specs: SpecCache | None = None,
        tenant_ids: Iterable[str] | None = None,
        rand: Callable[[], float] = random.random,
        gateway: Gateway | None = None,
        telemetry: Telemetry | None = None,
        db: Database | None = None,
    ) -> None:
        self.engine = engine_
        self.telemetry = telemetry or Telemetry()
        # `db`: a Database of the caller's to run this executor's transactions in (the API
        # passes its writer, so its own writes queue with the executor's); the caller closes it.
        self._owns_db = db is None
        self.db = db or Database(engine_, sqlite_synchronous=settings.sqlite_synchronous)
        if self.db.threaded:  # the attempts' reports run while its commits are on disk
            self.db.committing = self.telemetry.committing
            self.telemetry.flush_at_commits = True
        self.gateway = gateway or build_gateway(settings, DatabaseLedger(self.db))
        self.registry = registry
        self.settings = settings
        self.worker = settings.worker_id
        self.bus = bus or EventBus()
        self.specs = specs or SpecCache()
        self.tenant_ids = list(tenant_ids) if tenant_ids is not None else None
        self.rand = rand
        self.checkpointer = Checkpointer(
            self.specs,
            worker=self.worker,
            lease_seconds=settings.lease_seconds,
            max_lost=settings.max_lost,
            rand=rand,
        )
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._tasks: dict[tuple[str, str, int], asyncio.Task[None]] = {}
        self._runs: dict[str, RunContext] = {}
        self._loading: dict[str, asyncio.Future[None]] = {}
        self._wake = asyncio.Event()
        self._statuses: dict[str, RunStatus] = {}
        self._watchers: list[Callable[[], None]] = []  # drains waiting on statuses
        self._backlog = True  # work may be left over that no commit will lead to
        self._reserved = 0  # slots promised to claims of a transaction in progress
        self.checkpointer.cache = {}
        self._write_lock = asyncio.Lock()
        self._stopping = False
        self.step_context = StepContext(
            worker=self.worker,
            registry=registry,
            gateway=self.gateway,
            budget=Budget(tokens=settings.run_budget_tokens, cost_usd=settings.run_budget_usd),
            read=self.db.read,
            specs=self.specs,
            effects=self.effects,
            publish_delta=self.publish_delta,
            commit_item=self.commit_item,
            rand=rand,
        )

    # -- public --------------------------------------------------------------------------------

    def close(self) -> None:
        """Release the database thread (unless it was given); call once the executor is no
        longer used."""
        self.telemetry.flush()
        if self._owns_db:
            self.db.close()

    async def _write(self, work: Callable[[Conn], Awaitable[T]]) -> T:
        """Run one of this executor's write transactions. They run one at a time, and any that
        fails drops the row cache, so the cache only ever holds committed states; a run another
        process changed fails its version check and is read again."""
        cache = self.checkpointer.cache
        assert cache is not None
        async with self._write_lock:
            try:
                return await self.db.write(work)
            except StaleRows:
                # Rolled back having changed cached rows in place: read everything fresh. A
                # fresh read is a locked read, so the second try cannot be stale again.
                cache.clear()
            except BaseException:
                cache.clear()  # the transaction rolled back; so must what it cached
                raise
            try:
                return await self.db.write(work)
            except BaseException:
                cache.clear()
                raise

    def effects(self, tenant_id: str, run_id: str, key: str) -> _Effects:
        return _Effects(self, tenant_id, run_id, key)

    def wake(self) -> None:
        self._wake.set()

    def publish_delta(
        self, tenant_id: str, run_id: str, key: str
    ) -> Callable[[dict[str, Any]], None]:
        """Where a step's streamed model text goes: live subscribers of the bus (not stored)."""

        def publish(data: dict[str, Any]) -> None:
            delta = {k: data[k] for k in ("call_id", "model", "retry", "index", "text")}
            self.bus.publish(
                [StoredEvent(None, "llm.delta", 1, tenant_id, run_id, 0, key, delta, utcnow())]
            )

        return publish

    async def serve(
        self, stop: asyncio.Event, *, grace: float = 10.0, until_idle: bool = False
    ) -> None:
        """Work until `stop` is set (or, with `until_idle`, until no work is left anywhere)."""
        await self._serve(stop, grace=grace, until_idle=until_idle)

    async def _serve(
        self,
        stop: asyncio.Event,
        *,
        grace: float,
        until_idle: bool = False,
        watch: set[str] | None = None,
    ) -> None:
        writer = asyncio.create_task(self._writer(), name="batonflow-writer")
        upkeep = asyncio.create_task(self._upkeep(stop), name="batonflow-upkeep")
        first = True
        try:
            while not stop.is_set():
                # The first poll takes the write lock without looking first (a worker that
                # starts most likely has work), and reads the statuses a drain watches.
                claimed = await self._poll(look=not first, watch=watch if first else None)
                first = False
                quiet = not claimed and not self._tasks and self._queue.empty()
                if until_idle and quiet and await self._idle():
                    break
                if not claimed:
                    self._wake.clear()
                    waiters = [
                        asyncio.ensure_future(self._wake.wait()),
                        asyncio.ensure_future(stop.wait()),
                    ]
                    await asyncio.wait(
                        waiters,
                        timeout=self.settings.poll_seconds,
                        return_when=asyncio.FIRST_COMPLETED,
                    )
                    for waiter in waiters:
                        waiter.cancel()
        finally:
            await self._shutdown(grace)
            upkeep.cancel()
            await self._flush_queue()
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
            self._stopping = False
            with contextlib.suppress(asyncio.CancelledError):
                await upkeep

    async def drain(self, run_ids: Iterable[str], *, grace: float = 10.0) -> dict[str, RunStatus]:
        """Work until every run in `run_ids` is finished or waiting for a person."""
        watched = set(run_ids)
        if not watched:
            return {}
        stop = asyncio.Event()

        def check() -> None:
            if self._settled(watched):
                stop.set()

        async def watch() -> None:
            # Commits made here update statuses as they happen (and `check` stops the loop at
            # once); a change made elsewhere (an operator cancelled the run, another worker
            # finished it) is seen on the next refresh.
            while not stop.is_set():
                await asyncio.sleep(self.settings.poll_seconds * 4)
                await self._refresh_statuses(watched)
                check()

        self._watchers.append(check)
        watcher = asyncio.create_task(watch())
        try:
            await self._serve(stop, grace=grace, watch=watched)
        finally:
            self._watchers.remove(check)
            watcher.cancel()
        return {run_id: self._statuses[run_id] for run_id in watched}

    def _settled(self, run_ids: set[str]) -> bool:
        return all(self._statuses.get(run_id) in _SETTLED for run_id in run_ids)

    async def _refresh_statuses(self, run_ids: set[str]) -> None:
        async def work(conn: Conn) -> list[tuple[str, str]]:
            return await run_store.run_statuses(conn, list(run_ids))

        for run_id, status in await self.db.read(work):
            self._statuses[run_id] = RunStatus(status)

    async def commit_item(self, outcome: Outcome) -> None:
        """Commit a map item's outcome and wait for it; a rejected one stops the map step."""
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Pending(outcome, done))
        if not await done:
            raise asyncio.CancelledError("the map step's lease is no longer held")

    # -- claiming and running -----------------------------------------------------------------

    def _free(self) -> int:
        if self._stopping:
            return 0
        return max(0, self.settings.concurrency - len(self._tasks) - self._reserved)

    def _reserve(self) -> int:
        free = self._free()
        self._reserved += free
        return free

    async def _poll(self, *, look: bool = True, watch: set[str] | None = None) -> bool:
        """Start queued runs and claim ready steps; true when it may have left some behind
        (it ran out of capacity or hit its limit), so the caller polls again at once. With
        `watch`, it first reads those runs' statuses and, if all are settled, claims nothing."""
        free = self._reserve()
        limit = 100

        async def looking(conn: Conn) -> bool:
            queued = await run_store.queued_runs(conn, 1, self.tenant_ids)
            ready = await run_store.ready_candidates(conn, utcnow(), 1, self.tenant_ids)
            return bool(queued or (free and ready))

        async def work(conn: Conn) -> tuple[CommitResult | None, bool, list[tuple[str, str]]]:
            statuses = await run_store.run_statuses(conn, list(watch)) if watch else []
            settled = [status for _, status in statuses if RunStatus(status) in _SETTLED]
            if watch and len(settled) == len(watch):
                return None, False, statuses
            queued = await run_store.queued_runs(conn, limit, self.tenant_ids)
            now = utcnow()
            candidates = (
                await run_store.ready_candidates(conn, now, free, self.tenant_ids) if free else []
            )
            if not queued and not candidates:
                return None, False, statuses
            result = await self.checkpointer.commit(
                conn, now, start_runs=queued, claim=candidates, capacity=free
            )
            more = len(queued) >= limit or len(result.claims) >= free
            return result, more, statuses

        try:
            # Look first without the write lock: most polls find nothing to do.
            done = await self._write(work) if not look or await self.db.read(looking) else None
        finally:
            self._reserved -= free
        if done is None:
            self._backlog = free == 0
            return False
        result, more, statuses = done
        for run_id, status in statuses:
            self._statuses[run_id] = RunStatus(status)
        if result is None:
            self._backlog = free == 0
        else:
            self._backlog = more
            self._after_commit(result)
        if watch:
            for check in list(self._watchers):
                check()
        return more

    async def _idle(self) -> bool:
        async def work(conn: Conn) -> bool:
            busy_steps = (
                select(func.count())
                .select_from(Step)
                .where(
                    Step.parent_key.is_(None),
                    Step.status.in_([StepStatus.READY.value, StepStatus.RUNNING.value]),
                )
            )
            queued = (
                select(func.count()).select_from(Run).where(Run.status == RunStatus.QUEUED.value)
            )
            if self.tenant_ids is not None:
                busy_steps = busy_steps.where(Step.tenant_id.in_(self.tenant_ids))
                queued = queued.where(Run.tenant_id.in_(self.tenant_ids))
            return not await conn.scalar(busy_steps) and not await conn.scalar(queued)

        return await self.db.read(work)

    def _dispatch(self, claims: Iterable[Claim]) -> None:
        for claim in claims:
            ident = (claim.run_id, claim.key, claim.dispatch)
            self._tasks[ident] = asyncio.create_task(self._execute(claim), name=f"step {claim.key}")

    async def _execute(self, claim: Claim) -> None:
        ident = (claim.run_id, claim.key, claim.dispatch)
        try:
            with self.telemetry.attempt(claim) as seen:  # log context and span of the attempt
                outcome = await self._attempt(claim)
                self._tasks.pop(ident, None)
                self._queue.put_nowait(_Pending(outcome))
                seen.ended(outcome, self.specs.cached(claim.workflow_version_pk))
        except asyncio.CancelledError:
            self._tasks.pop(ident, None)
            raise

    async def _attempt(self, claim: Claim) -> Outcome:
        calls: list[CallRecord] = []
        outcome = await self._run_attempt(claim, calls)
        if calls:
            outcome = replace(outcome, llm_calls=tuple(call.event_data() for call in calls))
        return outcome

    async def _run_attempt(self, claim: Claim, calls: list[CallRecord]) -> Outcome:
        started = utcnow()
        try:
            run = await self._context(claim)
            step = run.spec.by_id[claim.key]
            scope = engine.scope(run.inputs, run.results, run.ctx)
            if step.when is not None and not templates.evaluate(step.when, scope):
                return Outcome(
                    claim.run_id,
                    claim.key,
                    claim.dispatch,
                    self.worker,
                    "skipped",
                    meta={"reason": f"when: {step.when}"},
                )
            attempt = Attempt(
                claim=claim,
                step=step,
                spec=run.spec,
                scope=scope,
                started_at=started,
                calls=calls,
            )
            # Agent and tool calls time out inside the registry, where the breaker sees it.
            own_timeout = None if step.kind in ("agent", "tool") else step.timeout
            async with asyncio.timeout(own_timeout):
                return await HANDLERS[step.kind](self.step_context, attempt)
        except TimeoutError:
            seconds = run.spec.by_id[claim.key].timeout
            error = error_dict(StepTimeout(f"the attempt passed its timeout of {seconds}s"))
            return Outcome(
                claim.run_id,
                claim.key,
                claim.dispatch,
                self.worker,
                "failed",
                error=error,
                retryable=True,
            )
        except Exception as exc:
            retryable = is_retryable(exc)
            if error_dict(exc)["code"] == "exception":
                log.exception("step %s of run %s raised", claim.key, claim.run_id)
            return Outcome(
                claim.run_id,
                claim.key,
                claim.dispatch,
                self.worker,
                "failed",
                error=error_dict(exc),
                retryable=retryable,
            )

    async def _context(self, claim: Claim) -> RunContext:
        """The run's spec, inputs and upstream results: from memory when this executor has them
        (it committed them, or another attempt of the run loaded them), else one read."""
        run = self._runs.get(claim.run_id)
        if run is None:
            spec = self.specs.cached(claim.workflow_version_pk)
            if spec is not None:
                run = RunContext(claim.tenant_id, spec, claim.inputs, claim.ctx)
                self._runs[claim.run_id] = run
        if run is not None and not run.spec.upstream[claim.key] - run.results.keys():
            return run
        loading = self._loading.get(claim.run_id)
        if loading is not None:  # another attempt of this run is loading it right now
            await asyncio.shield(loading)
            return await self._context(claim)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._loading[claim.run_id] = future
        try:
            return await self._load_context(claim)
        finally:
            del self._loading[claim.run_id]
            future.set_result(None)

    async def _load_context(self, claim: Claim) -> RunContext:
        async def work(conn: Conn) -> tuple[WorkflowSpec, dict[str, Any]]:
            spec = await self.specs.get(conn, claim.tenant_id, claim.workflow_version_pk)
            results = await run_store.step_results(
                conn, claim.tenant_id, claim.run_id, spec.upstream[claim.key]
            )
            return spec, results

        spec, results = await self.db.read(work)
        run = self._runs.setdefault(
            claim.run_id, RunContext(claim.tenant_id, spec, claim.inputs, claim.ctx)
        )
        run.results.update(results)
        return run

    # -- committing ----------------------------------------------------------------------------

    async def _writer(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while not self._queue.empty() and len(batch) < 500:
                batch.append(self._queue.get_nowait())
            await self._commit_batch(batch)

    async def _commit_batch(self, batch: list[_Pending]) -> None:
        """Commit a batch; if it fails, commit its outcomes one by one, so one outcome that
        cannot be written (it is retried a few times, then dropped and left to the reaper)
        never holds up the others."""
        result = await self._try_commit(batch, tries=1 if len(batch) > 1 else 4)
        if result is None:
            if len(batch) > 1:
                for pending in batch:
                    await self._commit_batch([pending])
                return
            log.error(
                "dropping the outcome of step %s of run %s",
                batch[0].outcome.key,
                batch[0].outcome.run_id,
            )
            if batch[0].done is not None and not batch[0].done.done():
                batch[0].done.set_result(False)
            return
        rejected = {id(o) for o in result.rejected}
        for pending in batch:
            accepted = id(pending.outcome) not in rejected
            if accepted:
                self._remember(pending.outcome)
            elif pending.outcome.parent_dispatch is None:
                log.warning(
                    "rejected a late write for step %s of run %s",
                    pending.outcome.key,
                    pending.outcome.run_id,
                )
            if pending.done is not None and not pending.done.done():
                pending.done.set_result(accepted)
        self._after_commit(result)
        idle = not self._tasks and self._queue.empty()
        if not result.claims and self._free() and (self._backlog or idle):
            # Nothing followed on here, and work may be waiting that an earlier poll or commit
            # had no room for (or this executor is idle now): let the poller look.
            self.wake()

    async def _try_commit(self, batch: list[_Pending], tries: int) -> CommitResult | None:
        delay = 0.05
        outcomes = [p.outcome for p in batch]
        for attempt in range(tries):
            free = self._reserve()

            async def work(
                conn: Conn, free: int = free, outcomes: list[Outcome] = outcomes
            ) -> CommitResult:
                return await self.checkpointer.commit(conn, utcnow(), outcomes, capacity=free)

            try:
                result = await self._write(work)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("checkpoint commit failed (try %d of %d)", attempt + 1, tries)
                if attempt + 1 < tries:
                    await asyncio.sleep(delay)
                    delay *= 4
            else:
                if len(result.claims) >= free:
                    self._backlog = True  # out of room: ready steps may be left unclaimed
                return result
            finally:
                self._reserved -= free
        return None

    async def _flush_queue(self) -> None:
        batch: list[_Pending] = []
        while not self._queue.empty():
            batch.append(self._queue.get_nowait())
        if batch:
            await self._commit_batch(batch)

    def _remember(self, outcome: Outcome) -> None:
        run = self._runs.get(outcome.run_id)
        if run is not None and outcome.parent_dispatch is None:
            if outcome.status == "succeeded":
                run.results[outcome.key] = outcome.result
            elif outcome.status == "skipped":
                run.results[outcome.key] = None

    def _after_commit(self, result: CommitResult) -> None:
        self._observe(result.events)
        for run_id in result.finished_runs:
            self._runs.pop(run_id, None)
        self._dispatch(result.claims)
        if result.events:
            self.bus.publish(result.events)

    def _observe(self, events: list[StoredEvent]) -> None:
        changed = False
        for item in events:
            if item.type.startswith("run.") and item.type not in ("run.queued", "run.retried"):
                status = {
                    "run.started": RunStatus.RUNNING,
                    "run.resumed": RunStatus.RUNNING,
                    "run.waiting": RunStatus.WAITING,
                    "run.succeeded": RunStatus.SUCCEEDED,
                    "run.failed": RunStatus.FAILED,
                    "run.dead": RunStatus.DEAD,
                    "run.cancelled": RunStatus.CANCELLED,
                }[item.type]
                self._statuses[item.run_id] = status
                changed = True
            elif item.type == "step.failed" and item.data.get("retry_in") is not None:
                asyncio.get_running_loop().call_later(item.data["retry_in"], self._wake.set)
        if changed:
            for check in list(self._watchers):
                check()

    # -- leases --------------------------------------------------------------------------------

    async def _upkeep(self, stop: asyncio.Event) -> None:
        beat = self.settings.heartbeat_seconds
        reap_every = self.settings.reap_seconds
        last_reap = 0.0
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            await asyncio.sleep(min(beat, reap_every))
            try:
                await self._heartbeat()
                if loop.time() - last_reap >= reap_every:
                    last_reap = loop.time()
                    await self._reap()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("lease upkeep failed; trying again")

    async def _heartbeat(self) -> None:
        held = [ident for ident, task in self._tasks.items() if not task.done()]
        if not held:
            return
        until = utcnow() + timedelta(seconds=self.settings.lease_seconds)

        cache = self.checkpointer.cache
        assert cache is not None

        async def work(conn: Conn) -> set[tuple[str, str, int]]:
            lost = await run_store.renew_leases(conn, held, self.worker, until)
            for run_id, key, _ in set(held) - lost:
                cached = cache.get(run_id)
                if cached is not None and key in cached[1]:
                    cached[1][key].lease_expires_at = until
            return lost

        lost = await self._write(work)
        for ident in lost:
            task = self._tasks.pop(ident, None)
            if task is not None:
                log.warning(
                    "lease on step %s of run %s is gone; stopping the attempt", ident[1], ident[0]
                )
                task.cancel()

    async def _reap(self) -> None:
        cache = self.checkpointer.cache
        assert cache is not None

        async def work(conn: Conn) -> CommitResult | None:
            now = utcnow()
            expired = await run_store.expired_leases(conn, now)
            return await self.checkpointer.reap(conn, now, expired) if expired else None

        result = await self._write(work)
        if result is not None:
            for event_ in result.events:
                cache.pop(event_.run_id, None)  # reaped runs changed outside the cache
            self._after_commit(result)
            self.wake()

    async def _shutdown(self, grace: float) -> None:
        self._stopping = True  # nothing committed from here on claims new work
        if self._tasks:
            await asyncio.wait(list(self._tasks.values()), timeout=grace)
        leftovers = list(self._tasks.items())
        for _, task in leftovers:
            task.cancel()
        for (run_id, key, dispatch), task in leftovers:
            with contextlib.suppress(asyncio.CancelledError):
                await task
            self._queue.put_nowait(
                _Pending(
                    Outcome(
                        run_id,
                        key,
                        dispatch,
                        self.worker,
                        "released",
                        error={
                            "code": "worker_stopped",
                            "message": "the worker stopped and handed the attempt back",
                            "details": {},
                        },
                    )
                )
            )
        self._tasks.clear()
