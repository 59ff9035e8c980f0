"""The executor: the loop that claims steps, runs them, and checkpoints their outcomes.

This is the only place in the workflow package that does I/O. One executor runs per process
(`batonflow run`, `batonflow worker`); any number may share a database.

- Claims (here): queued runs are started and ready steps are claimed with a lease
  (`lease_seconds`); each claim runs in a task of its own (`runner.Runner`).
- Group commit (`commits.Commits`): finished attempts go to one writer task, which commits
  whatever has queued up in a single transaction, claiming the steps they made ready.
- Leases (`leases.Leases`): heartbeats renew held leases, and the reaper returns expired leases
  of dead workers to the queue.
- Shutdown: `stop` lets in-flight attempts finish for `grace` seconds, then hands the rest back.
Every write goes through `_write`, one at a time. Telemetry stays beside the loop: an attempt's
span and log context wrap its task, and its log line and metrics come from the committed events
the bus carries.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from batonflow.agents.registry import Registry
from batonflow.events.bus import EventBus
from batonflow.events.contracts import StoredEvent
from batonflow.llm.gateway import Gateway
from batonflow.llm.ledger import Budget
from batonflow.llm.registry import build_gateway
from batonflow.retrieval.embeddings import Embedders
from batonflow.retrieval.rerank import Rerankers
from batonflow.runs.run import RunStatus, StepStatus
from batonflow.settings import Settings
from batonflow.store import runs as run_store
from batonflow.store.db import Conn, Database
from batonflow.store.llm_calls import DatabaseLedger
from batonflow.store.run_tx import StaleRows
from batonflow.store.tables import Run, Step
from batonflow.telemetry.process import Telemetry
from batonflow.workflows.attempts import Claim, Outcome
from batonflow.workflows.checkpoint import Checkpointer, CommitResult, SpecCache
from batonflow.workflows.commits import Commits
from batonflow.workflows.leases import Leases
from batonflow.workflows.runner import Runner, StepEffects
from batonflow.workflows.statuses import SETTLED, RunStatuses
from batonflow.workflows.step_context import StepContext, configured

log = logging.getLogger("batonflow.executor")
T = TypeVar("T")


def utcnow() -> datetime:
    return datetime.now(UTC)


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
        embedders: Embedders | None = None,
        rerankers: Rerankers | None = None,
    ) -> None:
        self.engine = engine_
        self.telemetry = telemetry or Telemetry()
        # `db`: a Database of the caller's to run this executor's transactions in (the API
        # passes its writer, so its own writes queue with the executor's); the caller closes it.
        self._owns_db = db is None
        self.db = db or Database(engine_, sqlite_synchronous=settings.sqlite_synchronous)
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
        self._tasks: dict[tuple[str, str, int], asyncio.Task[None]] = {}
        self._wake = asyncio.Event()
        self.statuses = RunStatuses()
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
            write=self.db.write,
            specs=self.specs,
            effects=functools.partial(StepEffects, self.db),
            publish_delta=self.publish_delta,
            commit_item=self.commit_item,
            rand=rand,
            **configured(settings, self.gateway, embedders, rerankers),
        )
        self.runner = Runner(self.step_context, self.db, self.specs)
        self.commits = Commits(
            self.checkpointer,
            self._write,
            self._reserve,
            self._release,
            self.runner.remember,
            self._committed,
        )
        self.leases = Leases(
            settings, self.checkpointer, self._tasks, self._write, self._after_commit, self.wake
        )

    def close(self) -> None:
        """Release the database thread (unless it was given); call once the executor is no
        longer used."""
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
        writer = asyncio.create_task(self.commits.writer(), name="batonflow-writer")
        upkeep = asyncio.create_task(self.leases.upkeep(stop), name="batonflow-upkeep")
        first = True
        try:
            while not stop.is_set():
                # The first poll takes the write lock without looking first (a worker that
                # starts most likely has work), and reads the statuses a drain watches.
                claimed = await self._poll(look=not first, watch=watch if first else None)
                first = False
                quiet = not claimed and not self._tasks and self.commits.empty()
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
            await self.commits.flush()
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
            if self.statuses.settled(watched):
                stop.set()

        async def watch() -> None:
            # Commits made here update statuses at once; a change made elsewhere (a cancel,
            # another worker) is seen on the next refresh.
            while not stop.is_set():
                await asyncio.sleep(self.settings.poll_seconds * 4)
                seen = await self.db.read(functools.partial(statuses, watched))
                if not stop.is_set():  # else a commit settled them as it read: `seen` is older
                    self.statuses.update(seen)
                    check()

        async def statuses(run_ids: set[str], conn: Conn) -> list[tuple[str, str]]:
            return await run_store.run_statuses(conn, list(run_ids))

        self.statuses.watchers.append(check)
        watcher = asyncio.create_task(watch())
        try:
            await self._serve(stop, grace=grace, watch=watched)
        finally:
            self.statuses.watchers.remove(check)
            watcher.cancel()
        return {run_id: self.statuses[run_id] for run_id in watched}

    async def commit_item(self, outcome: Outcome) -> None:
        """Commit a map item's outcome and wait for it; a rejected one stops the map step."""
        if not await self.commits.commit(outcome):
            raise asyncio.CancelledError("the map step's lease is no longer held")

    # -- claiming and running -----------------------------------------------------------------

    def _free(self) -> int:
        if self._stopping:
            return 0
        return max(0, self.settings.concurrency - len(self._tasks) - self._reserved)

    def _reserve(self, outcomes: Sequence[Outcome] = ()) -> int:
        free = self._free()
        self._reserved += free
        return free

    def _release(self, reserved: int) -> None:
        self._reserved -= reserved

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
            settled = [status for _, status in statuses if RunStatus(status) in SETTLED]
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
        self.statuses.update(statuses)
        if result is None:
            self._backlog = free == 0
        else:
            self._backlog = more
            self._after_commit(result)
        if watch:
            self.statuses.notify()
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
                outcome = await self.runner.run(claim)
                self._tasks.pop(ident, None)
                self.commits.put(outcome)
                seen.ended(outcome, self.specs.cached(claim.workflow_version_pk))
        except asyncio.CancelledError:
            self._tasks.pop(ident, None)
            raise

    # -- committing ----------------------------------------------------------------------------

    def _committed(self, result: CommitResult, full: bool) -> None:
        """After a group commit: `full` when its claims took every free slot."""
        if full:
            self._backlog = True  # out of room: ready steps may be left unclaimed
        self._after_commit(result)
        idle = not self._tasks and self.commits.empty()
        if not result.claims and self._free() and (self._backlog or idle):
            # Nothing followed on here, and work may be waiting that an earlier poll or commit
            # had no room for (or this executor is idle now): let the poller look.
            self.wake()

    def _after_commit(self, result: CommitResult) -> None:
        self._observe(result.events)
        for run_id in result.finished_runs:
            self.runner.forget(run_id)
        self._dispatch(result.claims)
        if result.events:
            self.bus.publish(result.events)

    def _observe(self, events: list[StoredEvent]) -> None:
        self.statuses.observe(events)
        for item in events:
            if item.type == "step.failed" and item.data.get("retry_in") is not None:
                asyncio.get_running_loop().call_later(item.data["retry_in"], self._wake.set)

    async def _shutdown(self, grace: float) -> None:
        self._stopping = True  # nothing committed from here on claims new work
        for outcome in await self.leases.hand_back(grace):
            self.commits.put(outcome)
