"""Leases: the heartbeat that renews the leases this executor holds, the reaper that returns
the expired leases of dead workers to the queue, and handing leases back at shutdown.

An attempt whose lease is no longer ours (reaped, or its run cancelled) is cancelled locally.
`Leases.upkeep` is one of the executor's tasks; its writes go through the executor's
transaction runner, so they take turns with its checkpoints.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from batonflow.settings import Settings
from batonflow.store import runs as run_store
from batonflow.store.db import Conn
from batonflow.workflows.attempts import Outcome
from batonflow.workflows.checkpoint import Checkpointer, CommitResult
from batonflow.workflows.commits import Writes

log = logging.getLogger("batonflow.executor")
Ident = tuple[str, str, int]  # (run id, step key, dispatch)


class Leases:
    def __init__(
        self,
        settings: Settings,
        checkpointer: Checkpointer,
        tasks: dict[Ident, asyncio.Task[None]],
        write: Writes,
        committed: Callable[[CommitResult], None],
        wake: Callable[[], None],
    ) -> None:
        """`tasks` are the executor's attempts in flight (by lease), `write` its transaction
        runner, `committed` what it does after a commit, `wake` its poller's alarm."""
        self.settings = settings
        self.checkpointer = checkpointer
        self.worker = settings.worker_id
        self.tasks = tasks
        self.write = write
        self.committed = committed
        self.wake = wake

    async def upkeep(self, stop: asyncio.Event) -> None:
        """Heartbeat and reap until `stop` is set."""
        beat = self.settings.heartbeat_seconds
        reap_every = self.settings.reap_seconds
        last_reap = 0.0
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            await asyncio.sleep(min(beat, reap_every))
            try:
                await self.heartbeat()
                if loop.time() - last_reap >= reap_every:
                    last_reap = loop.time()
                    await self.reap()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("lease upkeep failed; trying again")

    async def heartbeat(self) -> None:
        held = [ident for ident, task in self.tasks.items() if not task.done()]
        if not held:
            return
        until = datetime.now(UTC) + timedelta(seconds=self.settings.lease_seconds)

        cache = self.checkpointer.cache
        assert cache is not None

        async def work(conn: Conn) -> set[Ident]:
            lost: set[Ident] = await run_store.renew_leases(conn, held, self.worker, until)
            for run_id, key, _ in set(held) - lost:
                cached = cache.get(run_id)
                if cached is not None and key in cached[1]:
                    cached[1][key].lease_expires_at = until
            return lost

        lost = await self.write(work)
        for ident in lost:
            task = self.tasks.pop(ident, None)
            if task is not None:
                log.warning(
                    "lease on step %s of run %s is gone; stopping the attempt", ident[1], ident[0]
                )
                task.cancel()

    async def reap(self) -> None:
        cache = self.checkpointer.cache
        assert cache is not None

        async def work(conn: Conn) -> CommitResult | None:
            now = datetime.now(UTC)
            expired = await run_store.expired_leases(conn, now)
            return await self.checkpointer.reap(conn, now, expired) if expired else None

        result = await self.write(work)
        if result is not None:
            for event_ in result.events:
                cache.pop(event_.run_id, None)  # reaped runs changed outside the cache
            self.committed(result)
            self.wake()

    async def hand_back(self, grace: float) -> list[Outcome]:
        """Let the attempts in flight finish for `grace` seconds, cancel the rest, and return
        the outcomes that hand their steps back."""
        if self.tasks:
            await asyncio.wait(list(self.tasks.values()), timeout=grace)
        leftovers = list(self.tasks.items())
        for _, task in leftovers:
            task.cancel()
        released = []
        for (run_id, key, dispatch), task in leftovers:
            with contextlib.suppress(asyncio.CancelledError):
                await task
            error = {
                "code": "worker_stopped",
                "message": "the worker stopped and handed the attempt back",
                "details": {},
            }
            released.append(Outcome(run_id, key, dispatch, self.worker, "released", error=error))
        self.tasks.clear()
        return released
