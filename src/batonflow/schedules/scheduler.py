"""The scheduler loop: every `scheduler_poll_seconds`, fire what is due, one schedule per
transaction (`service.fire_next`). Any number of loops may run against one database (in
`serve`, in each `batonflow worker`, in `batonflow scheduler`): the database decides which of
them fires a due time, so each due time starts one run.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial

from batonflow.schedules.service import Fired, fire_next
from batonflow.store.db import Conn, Database
from batonflow.telemetry.logs import get_logger

log = get_logger("batonflow.scheduler")


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Scheduler:
    def __init__(
        self,
        db: Database,
        *,
        worker: str,
        poll_seconds: float = 1.0,
        max_active_runs: int | None = None,
        clock: Callable[[], datetime] = _utcnow,
        on_fired: Callable[[list[Fired]], None] | None = None,
    ) -> None:
        self.db = db
        self.worker = worker
        self.poll_seconds = poll_seconds
        self.max_active_runs = max_active_runs
        self.clock = clock
        self.on_fired = on_fired

    async def tick(self) -> list[Fired]:
        """Fire every schedule due now; what this scheduler fired (others may fire the rest)."""
        now = self.clock()
        handled: list[str] = []
        fired: list[Fired] = []
        while True:
            result = await self.db.write(partial(self._fire, now=now, skip=tuple(handled)))
            if result is None:
                break
            schedule_id, some = result
            handled.append(schedule_id)
            fired.extend(some)
        for one in fired:
            log.info(
                "schedule.fired",
                tenant_id=one.tenant_id,
                schedule_id=one.schedule_id,
                due_at=one.due_at.isoformat(),
                run_id=one.run_id,
                error=one.error,
            )
        if fired and self.on_fired is not None:
            self.on_fired(fired)
        return fired

    async def _fire(
        self, conn: Conn, *, now: datetime, skip: tuple[str, ...]
    ) -> tuple[str, list[Fired]] | None:
        return await fire_next(
            conn, now=now, worker=self.worker, max_active_runs=self.max_active_runs, skip=skip
        )

    async def serve(self, stop: asyncio.Event) -> None:
        """Tick until `stop` is set. A failed tick (the database away, say) is logged and
        tried again at the next poll: nothing it did was committed."""
        while not stop.is_set():
            try:
                await self.tick()
            except Exception as exc:
                log.warning("scheduler.tick_failed", error=f"{type(exc).__name__}: {exc}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.poll_seconds)
