"""Group commit: finished attempts queue here, and one writer task commits whatever has queued
up in a single transaction. The same transaction claims the steps they made ready, so a linear
workflow moves one step per commit without polling.

A batch that fails is committed outcome by outcome, so one outcome that cannot be written (it is
retried a few times, then dropped and left to the reaper) never holds up the others.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol, TypeVar

from batonflow.store.db import Conn
from batonflow.workflows.attempts import Outcome
from batonflow.workflows.checkpoint import Checkpointer, CommitResult

log = logging.getLogger("batonflow.executor")
T = TypeVar("T")
BATCH = 500  # outcomes in one transaction at most


class Writes(Protocol):
    """Runs `work` in one of the executor's write transactions (one at a time)."""

    async def __call__(self, work: Callable[[Conn], Awaitable[T]]) -> T: ...


@dataclass
class _Pending:
    outcome: Outcome
    done: asyncio.Future[bool] | None = None


class Commits:
    def __init__(
        self,
        checkpointer: Checkpointer,
        write: Writes,
        reserve: Callable[[list[Outcome]], int],
        release: Callable[[int], None],
        accepted: Callable[[Outcome], None],
        committed: Callable[[CommitResult, bool], None],
    ) -> None:
        """`reserve` promises the executor's free slots to the claims of a commit of these
        outcomes (and `release` gives them back), `accepted` sees each outcome committed, and
        `committed` each commit's result, and whether its claims took every slot it had."""
        self.checkpointer = checkpointer
        self.write = write
        self.reserve = reserve
        self.release = release
        self.accepted = accepted
        self.committed = committed
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()

    def empty(self) -> bool:
        return self._queue.empty()

    def put(self, outcome: Outcome) -> None:
        """Queue an outcome for the next commit."""
        self._queue.put_nowait(_Pending(outcome))

    async def commit(self, outcome: Outcome) -> bool:
        """Queue an outcome and wait for its commit: false when it was rejected (or dropped)."""
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Pending(outcome, done))
        return await done

    async def writer(self) -> None:
        """Commit what queues up, batch after batch, until cancelled."""
        while True:
            batch = [await self._queue.get()]
            while not self._queue.empty() and len(batch) < BATCH:
                batch.append(self._queue.get_nowait())
            await self._commit_batch(batch)

    async def flush(self) -> None:
        """Commit what is queued now."""
        batch: list[_Pending] = []
        while not self._queue.empty():
            batch.append(self._queue.get_nowait())
        if batch:
            await self._commit_batch(batch)

    async def _commit_batch(self, batch: list[_Pending]) -> None:
        tried = await self._try_commit(batch, tries=1 if len(batch) > 1 else 4)
        if tried is None:
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
        result, full = tried
        rejected = {id(o) for o in result.rejected}
        for pending in batch:
            accepted = id(pending.outcome) not in rejected
            if accepted:
                self.accepted(pending.outcome)
            elif pending.outcome.parent_dispatch is None:
                log.warning(
                    "rejected a late write for step %s of run %s",
                    pending.outcome.key,
                    pending.outcome.run_id,
                )
            if pending.done is not None and not pending.done.done():
                pending.done.set_result(accepted)
        self.committed(result, full)

    async def _try_commit(
        self, batch: list[_Pending], tries: int
    ) -> tuple[CommitResult, bool] | None:
        delay = 0.05
        outcomes = [p.outcome for p in batch]
        for attempt in range(tries):
            free = self.reserve(outcomes)

            async def work(
                conn: Conn, free: int = free, outcomes: list[Outcome] = outcomes
            ) -> CommitResult:
                return await self.checkpointer.commit(
                    conn, datetime.now(UTC), outcomes, capacity=free
                )

            try:
                result = await self.write(work)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("checkpoint commit failed (try %d of %d)", attempt + 1, tries)
                if attempt + 1 < tries:
                    await asyncio.sleep(delay)
                    delay *= 4
            else:
                return result, len(result.claims) >= free
            finally:
                self.release(free)
        return None
