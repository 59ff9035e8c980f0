"""The executor of a Celery worker process: the same claims, leases, heartbeats, fencing and group
commit as the polling executor, but it claims only the steps wake-ups name.

- `execute(wake)` claims the step a message names, if the database still says that claim is
  the next one (ready, due, next dispatch = the message's); otherwise it does nothing, and the
  message is acknowledged and forgotten. A claimed attempt runs and its outcome commits before
  `execute` returns, so the message is acknowledged only after the checkpoint (acks late).
- Commits never claim the steps they make ready: they are recorded as announced on their
  queue (`Checkpointer.route`) and handed to `publish` after the commit.
- The poll loop starts queued runs (and announces their first steps) and sweeps the steps that
  need a wake-up and have none: made ready elsewhere (an operator's retry, a review decision,
  the reaper), due after a retry's backoff, or announced `republish_seconds` ago and still
  unclaimed (a lost message).
The broker is only the wake-up: `publish` is the seam (`cluster/broker.py` sends to Celery).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from batonflow.store import wakes as wake_store
from batonflow.store.db import Conn
from batonflow.workflows.attempts import Claim, Wake
from batonflow.workflows.checkpoint import CommitResult
from batonflow.workflows.executor import Executor, utcnow

log = logging.getLogger("batonflow.cluster")
Publish = Callable[[list[Wake]], None]


class ClusterExecutor(Executor):
    def __init__(
        self,
        *args: Any,
        route: Callable[..., str],
        publish: Publish,
        claims: bool = True,
        **kwargs: Any,
    ) -> None:
        """`route` names a step's queue (`cluster.routes.Routes`), `publish` sends wake-ups
        (called after their commit, in the event loop: it must not block). Without `claims`
        the executor only announces (a process that serves no queue)."""
        super().__init__(*args, **kwargs)
        self.checkpointer.route = route
        self.route = route
        self.publish = publish
        self.claims = claims
        self.closing = False  # set when the worker begins to stop
        self._ran: dict[tuple[str, str, int], asyncio.Future[str]] = {}

    def _free(self) -> int:
        return 0  # nothing is claimed but what a wake-up names

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
        done: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        if result.claims:
            self._ran[ident] = done
        self._after_commit(result)
        if not result.claims:
            return "ignored"
        try:
            return await done
        finally:
            self._ran.pop(ident, None)

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
