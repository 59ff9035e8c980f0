"""Schedules as operators see them (create, list, pause, resume, delete) and firing them, in the
caller's transaction. Firing is exactly once because of the database, not the schedulers:
`fire_next` locks one due schedule, inserts a `schedule_fires` row per due time (a second insert
of the same key does nothing), starts each run and moves the next fire time, all in one
transaction, so a scheduler that dies before its commit leaves nothing behind.

`Scheduler` is the loop: every `scheduler_poll_seconds` it fires what is due, one schedule per
transaction. Any number of loops may run against one database (in `serve`, each `batonflow
worker`, `batonflow scheduler`): the database decides which fires a due time.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

from batonflow.errors import BatonflowError, InvalidInput
from batonflow.ids import new_id
from batonflow.runs import service as run_service
from batonflow.runs.layout import validate_inputs, version_spec
from batonflow.schedules.timing import CATCH_UPS, MAX_CATCH_UP, CatchUp, Kind, Timing, due
from batonflow.store import schedules as store
from batonflow.store import workflows as workflow_store
from batonflow.store.db import Conn, Database
from batonflow.telemetry.logs import get_logger


@dataclass(frozen=True, slots=True)
class NewSchedule:
    """What a schedule is made from (the API's and the CLI's requests both become one)."""

    name: str
    workflow_id: str
    kind: Kind
    version: str | None = None
    inputs: dict[str, Any] | None = None
    cron: str | None = None
    timezone: str = "UTC"
    interval_seconds: int | None = None
    at: datetime | None = None  # a one-off's moment, or an interval's first fire
    catch_up: CatchUp = "skip"
    catch_up_limit: int = 10
    paused: bool = False


@dataclass(frozen=True, slots=True)
class Fired:
    """One due time fired: the run it started, or why none started."""

    tenant_id: str
    schedule_id: str
    due_at: datetime
    run_id: str | None
    error: str | None


def timing_of(row: dict[str, Any]) -> Timing:
    return Timing(
        kind=row["kind"],
        cron=row["cron"],
        timezone=row["timezone"],
        interval_seconds=row["interval_seconds"],
        start_at=row["start_at"],
    )


async def create(
    conn: Conn, tenant_id: str, new: NewSchedule, *, actor: str, now: datetime
) -> dict[str, Any]:
    """Store a schedule after checking its timing, its workflow and its inputs."""
    if not new.name.strip():
        raise InvalidInput("a schedule needs a name")
    if new.catch_up not in CATCH_UPS:
        raise InvalidInput(f"catch_up must be one of {', '.join(CATCH_UPS)}")
    if not 1 <= new.catch_up_limit <= MAX_CATCH_UP:
        raise InvalidInput(f"catch_up_limit must be between 1 and {MAX_CATCH_UP}")
    start_at = new.at
    if new.kind == "interval" and start_at is None:
        start_at = now
    timing = Timing(new.kind, new.cron, new.timezone, new.interval_seconds, start_at).check()
    version = await workflow_store.get_version(conn, tenant_id, new.workflow_id, new.version)
    validate_inputs(version_spec(version), new.inputs or {})
    # An interval without a start first fires one interval from now.
    first = timing.after(now)
    if new.kind == "once" and first is None:
        raise InvalidInput(f"`at` ({new.at}) has passed; give a time in the future")
    row = {
        "id": new_id(),
        "tenant_id": tenant_id,
        "name": new.name.strip(),
        "workflow_id": new.workflow_id,
        "version": new.version,
        "inputs": new.inputs or {},
        "kind": new.kind,
        "cron": new.cron,
        "timezone": new.timezone,
        "interval_seconds": new.interval_seconds,
        "start_at": start_at,
        "catch_up": new.catch_up,
        "catch_up_limit": new.catch_up_limit,
        "paused": new.paused,
        "next_fire_at": first,
        "last_fired_at": None,
        "created_by": actor,
        "created_at": now,
        "updated_at": now,
    }
    await store.insert_schedule(conn, row)
    return row


async def pause(conn: Conn, tenant_id: str, ref: str, now: datetime) -> dict[str, Any]:
    row = await store.get_schedule(conn, tenant_id, ref)
    await store.update_schedule(conn, tenant_id, row["id"], paused=True, updated_at=now)
    return await store.get_schedule(conn, tenant_id, row["id"])


async def resume(conn: Conn, tenant_id: str, ref: str, now: datetime) -> dict[str, Any]:
    """Resume a paused schedule from now: times it missed while paused are not fired."""
    row = await store.get_schedule(conn, tenant_id, ref)
    if row["paused"]:
        following = timing_of(row).after(now)
        await store.update_schedule(
            conn, tenant_id, row["id"], paused=False, next_fire_at=following, updated_at=now
        )
    return await store.get_schedule(conn, tenant_id, row["id"])


async def remove(conn: Conn, tenant_id: str, ref: str) -> dict[str, Any]:
    """Delete a schedule and its fire records; the runs it started stay."""
    row = await store.get_schedule(conn, tenant_id, ref)
    await store.delete_schedule(conn, tenant_id, row["id"])
    return row


async def fire_next(
    conn: Conn,
    *,
    now: datetime,
    worker: str,
    max_active_runs: int | None = None,
    skip: tuple[str, ...] = (),
) -> tuple[str, list[Fired]] | None:
    """Fire the due times of the most overdue schedule (see the module docstring): (its id,
    what fired), or None when no schedule is due."""
    row = await store.next_due(conn, now, skip)
    if row is None:
        return None
    times, following = due(
        timing_of(row), row["next_fire_at"], now, row["catch_up"], row["catch_up_limit"]
    )
    fired = []
    for due_at in times:
        if not await store.claim_fire(conn, row["tenant_id"], row["id"], due_at, worker, now):
            continue  # fired before: by another scheduler, or before an edit moved the time
        fired.append(await _start(conn, row, due_at, now, max_active_runs))
        await store.settle_fire(
            conn, row["id"], due_at, run_id=fired[-1].run_id, error=fired[-1].error
        )
    values: dict[str, Any] = {"next_fire_at": following}
    if fired:
        values["last_fired_at"] = fired[-1].due_at
    await store.update_schedule(conn, row["tenant_id"], row["id"], **values)
    return row["id"], fired


async def _start(
    conn: Conn, row: dict[str, Any], due_at: datetime, now: datetime, max_active_runs: int | None
) -> Fired:
    """Start the run of one due time; a reason instead when it cannot start (the workflow or
    its version is gone, the inputs no longer fit it, the tenant is at its run quota). The
    checks come before any write, so a refusal leaves the transaction whole."""
    tenant_id = row["tenant_id"]
    try:
        version = await workflow_store.get_version(
            conn, tenant_id, row["workflow_id"], row["version"]
        )
        validate_inputs(version_spec(version), row["inputs"])
        if max_active_runs is not None:
            await run_service.check_active_runs(conn, tenant_id, max_active_runs)
    except BatonflowError as exc:
        return Fired(tenant_id, row["id"], due_at, None, exc.message)
    run = await run_service.start_run(
        conn,
        tenant_id=tenant_id,
        version=version,
        inputs=row["inputs"],
        actor=run_service.Actor(f"schedule:{row['name']}"),
        now=now,
        ctx={"schedule_id": row["id"], "due_at": due_at.isoformat()},
    )
    return Fired(tenant_id, row["id"], due_at, run.id, None)


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
