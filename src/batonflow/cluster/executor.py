"""The executor of a Celery worker process: the same claims, leases, heartbeats, fencing and group
commit as the polling executor, but it claims only the steps wake-ups name.

- `execute(wake)` claims the step a message names, if the database still says that claim is
  the next one (ready, due, next dispatch = the message's); otherwise it does nothing, and the
  message is acknowledged and forgotten. A claimed attempt runs and its outcome commits before
  `execute` returns, so the message is acknowledged only after the checkpoint (acks late).
- The hand-over: a commit of finished attempts claims, in the same transaction, the steps it
  makes ready on a queue this worker serves (`serves`), one per slot it frees (an attempt a
  wake-up's Celery thread waits on), with the lease and dispatch any claim takes. No message is
  sent for them: the thread that waited on the finished attempt waits on the next one, so the
  worker never runs more attempts than it has threads, and its message is acknowledged when the
  steps it carried on with are committed (for about `HOLD_SECONDS` at most). A worker that dies
  meanwhile loses nothing: the claims' leases expire, the reaper makes the steps ready, and the
  sweep publishes them (never a claimed step).
- The other steps a commit makes ready are recorded as announced on their queue
  (`Checkpointer.route`) and handed to `publish` after the commit.
- The poll loop starts queued runs (and announces their first steps) and sweeps the steps that
  need a wake-up and have none: made ready elsewhere (an operator's retry, a review decision,
  the reaper), due after a retry's backoff, or announced `republish_seconds` ago and still
  unclaimed (a lost message).
The broker is only the wake-up: `publish` is the seam (`cluster/broker.py` sends to Celery).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from datetime import timedelta
from typing import Any

from batonflow.store import wakes as wake_store
from batonflow.store.db import Conn
from batonflow.workflows.attempts import Claim, Outcome, Wake
from batonflow.workflows.checkpoint import CommitResult
from batonflow.workflows.executor import Executor, utcnow

log = logging.getLogger("batonflow.cluster")
Publish = Callable[[list[Wake]], None]
Ident = tuple[str, str, int]  # run id, step key, dispatch
# A wake-up's thread carries on with steps claimed here only while its message is younger than
# this: brokers give an unacknowledged message back after a while (RabbitMQ's consumer timeout
# is 30 minutes, the Redis visibility timeout an hour).
HOLD_SECONDS = 300.0


def _lost(done: asyncio.Future[str], _task: object) -> None:
    if not done.done():
        done.set_result("lost")


class ClusterExecutor(Executor):
    def __init__(
        self,
        *args: Any,
        route: Callable[..., str],
        publish: Publish,
        claims: bool = True,
        serves: Iterable[str] = (),
        **kwargs: Any,
    ) -> None:
        """`route` names a step's queue (`cluster.routes.Routes`), `publish` sends wake-ups
        (called after their commit, in the event loop: it must not block). Without `claims`
        the executor only announces (a process that serves no queue). `serves` names the
        queues this worker consumes: the steps its commits may claim for it."""
        super().__init__(*args, **kwargs)
        self.checkpointer.route = route
        self.checkpointer.serves = frozenset(serves) if claims else frozenset()
        self.route = route
        self.publish = publish
        self.claims = claims
        self.closing = False  # set when the worker begins to stop
        self._ran: dict[Ident, asyncio.Future[str]] = {}  # what became of each attempt
        self._slots: dict[Ident, float] = {}  # attempts a thread waits on: when its message came
        self._handed: deque[Ident] = deque()  # claimed by a commit here, no thread waiting yet
        self.handed_over = 0  # steps claimed in the commit that made them ready

    def _free(self) -> int:
        return 0  # the poll claims nothing: a wake-up or a hand-over does

    def _reserve(self, outcomes: Sequence[Outcome] = ()) -> int:
        """A commit claims one step per slot it frees: per attempt in it that a wake-up's
        thread waits on (for less than `HOLD_SECONDS`); none once the worker stops."""
        if self._stopping or self.closing or not self.checkpointer.serves:
            return 0
        now = asyncio.get_running_loop().time()
        free = 0
        for outcome in outcomes:
            since = self._slots.get((outcome.run_id, outcome.key, outcome.dispatch))
            if outcome.parent_dispatch is None and since is not None and now - since < HOLD_SECONDS:
                free += 1
        self._reserved += free
        return free

    async def execute(self, wake: Wake) -> str:
        """Claim and run the step `wake` names; what happened: `ran`, `lost` (its lease went
        away: the run was cancelled, the reaper took it, or it was handed back at shutdown),
        `ignored` (not the next claim), or `stopping` (this executor takes no more work)."""
        if not self.claims:
            return "ignored"
        if self._stopping or self.closing:
            return "stopping"

        async def work(conn: Conn) -> CommitResult:
            return await self.checkpointer.claim_named(
                conn, utcnow(), wake.tenant_id, wake.run_id, wake.key, wake.dispatch
            )

        result = await self._write(work)
        ident = (wake.run_id, wake.key, wake.dispatch)
        loop = asyncio.get_running_loop()
        if result.claims:
            self._ran[ident] = loop.create_future()  # this thread's, not handed over
        self._after_commit(result)
        if not result.claims:
            return "ignored"
        since = loop.time()
        status = await self._follow(ident, since)
        # The slot is free again: carry on with a step a commit claimed here, if any.
        while self._handed:
            await self._follow(self._handed.popleft(), since)
        return status

    async def _follow(self, ident: Ident, since: float) -> str:
        """Wait (in a wake-up's slot, its message taken at `since`) for an attempt to end."""
        self._slots[ident] = since
        try:
            return await self._ran[ident]
        finally:
            self._slots.pop(ident, None)
            self._ran.pop(ident, None)

    def _dispatch(self, claims: Iterable[Claim]) -> None:
        claims = list(claims)
        loop = asyncio.get_running_loop()
        for claim in claims:
            ident = (claim.run_id, claim.key, claim.dispatch)
            if ident not in self._ran:  # claimed by a commit: the next free slot follows it
                self._ran[ident] = loop.create_future()
                self._slots[ident] = loop.time()  # a slot's already, should it finish first
                self._handed.append(ident)
                self.handed_over += 1
        super()._dispatch(claims)
        for claim in claims:  # a task cancelled before it started still ends its slot's wait
            ident = (claim.run_id, claim.key, claim.dispatch)
            self._tasks[ident].add_done_callback(functools.partial(_lost, self._ran[ident]))

    async def _execute(self, claim: Claim) -> None:
        ident = (claim.run_id, claim.key, claim.dispatch)
        done = self._ran.get(ident)
        status = "lost"
        try:
            with self.telemetry.attempt(claim) as seen:
                outcome = await self.runner.run(claim)
                committed = await self.commits.commit(outcome)
                seen.ended(outcome, self.specs.cached(claim.workflow_version_pk))
                status = "ran" if committed else "lost"
        finally:
            self._tasks.pop(ident, None)
            if done is not None and not done.done():
                done.set_result(status)

    def _after_commit(self, result: CommitResult) -> None:
        super()._after_commit(result)
        if result.ready:
            self.publish(result.ready)

    async def _poll(self, *, look: bool = True, watch: set[str] | None = None) -> bool:
        more = await super()._poll(look=look, watch=watch)
        await self.sweep()
        return more

    async def sweep(self) -> list[Wake]:
        """Announce (and publish) the ready steps that need a wake-up and have none."""
        stale = timedelta(seconds=self.settings.republish_seconds)

        async def looking(conn: Conn) -> bool:
            now = utcnow()
            return bool(await wake_store.unannounced(conn, now, now - stale, limit=1))

        async def work(conn: Conn) -> list[Wake]:
            now = utcnow()
            found = await wake_store.unannounced(conn, now, now - stale)
            wakes = []
            for step in found:
                spec = await self.specs.get(conn, step.tenant_id, step.workflow_version_pk)
                queue = self.route(spec, step.key)
                wakes.append(
                    Wake(
                        step.tenant_id,
                        step.run_id,
                        step.key,
                        step.dispatch,
                        queue,
                        step.traceparent,
                    )
                )
            announced = [(w.run_id, w.key, w.queue) for w in wakes]
            await wake_store.mark_announced(conn, announced, now)
            return wakes

        if not await self.db.read(looking):
            return []
        wakes = await self._write(work)
        if wakes:
            log.info("announcing %d ready steps that had no wake-up", len(wakes))
            self.publish(wakes)
        return wakes
