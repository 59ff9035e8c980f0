"""Schedules and their fires. Every query that serves a tenant takes its id; `next_due`, the
schedulers' queue, is the one exception by design (a scheduler serves every tenant)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from batonflow.errors import NotFound
from batonflow.store.db import Conn
from batonflow.store.tables import table
from batonflow.store.trigger_tables import Schedule, ScheduleFire

schedules_t = table(Schedule)
fires_t = table(ScheduleFire)


async def insert_schedule(conn: Conn, row: dict[str, Any]) -> None:
    await conn.execute(insert(schedules_t).values(**row))


async def get_schedule(conn: Conn, tenant_id: str, ref: str) -> dict[str, Any]:
    """A schedule by its id or its name."""
    row = (
        await conn.execute(
            select(schedules_t).where(
                schedules_t.c.tenant_id == tenant_id,
                or_(schedules_t.c.id == ref, schedules_t.c.name == ref),
            )
        )
    ).first()
    if row is None:
        raise NotFound(f"no schedule '{ref}'")
    return row._asdict()


async def list_schedules(conn: Conn, tenant_id: str) -> list[dict[str, Any]]:
    rows = await conn.execute(
        select(schedules_t).where(schedules_t.c.tenant_id == tenant_id).order_by(schedules_t.c.name)
    )
    return [row._asdict() for row in rows]


async def update_schedule(conn: Conn, tenant_id: str, schedule_id: str, **values: Any) -> None:
    await conn.execute(
        update(schedules_t)
        .where(schedules_t.c.tenant_id == tenant_id, schedules_t.c.id == schedule_id)
        .values(**values)
    )


async def delete_schedule(conn: Conn, tenant_id: str, schedule_id: str) -> None:
    await conn.execute(
        delete(fires_t).where(
            fires_t.c.tenant_id == tenant_id, fires_t.c.schedule_id == schedule_id
        )
    )
    await conn.execute(
        delete(schedules_t).where(
            schedules_t.c.tenant_id == tenant_id, schedules_t.c.id == schedule_id
        )
    )


async def next_due(conn: Conn, now: datetime, skip: Sequence[str] = ()) -> dict[str, Any] | None:
    """The active schedule whose next fire time passed longest ago, locked for this transaction
    (PostgreSQL: a row another scheduler holds is skipped; SQLite's write transaction is already
    exclusive). `skip`: schedules this pass already handled."""
    query = (
        select(schedules_t)
        .where(
            schedules_t.c.paused.is_(False),
            schedules_t.c.next_fire_at.is_not(None),
            schedules_t.c.next_fire_at <= now,
        )
        .order_by(schedules_t.c.next_fire_at, schedules_t.c.id)
        .limit(1)
    )
    if skip:
        query = query.where(schedules_t.c.id.not_in(list(skip)))
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    row = (await conn.execute(query)).first()
    return row._asdict() if row else None


async def claim_fire(
    conn: Conn, tenant_id: str, schedule_id: str, due_at: datetime, worker: str, now: datetime
) -> bool:
    """Record that `due_at` of the schedule fires now; False if it was already fired (by any
    scheduler, ever). The (schedule, due time) key makes this the exactly-once decision."""
    dialect = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    statement = (
        dialect(fires_t)
        .values(
            schedule_id=schedule_id,
            due_at=due_at,
            tenant_id=tenant_id,
            run_id=None,
            error=None,
            fired_by=worker,
            fired_at=now,
        )
        .on_conflict_do_nothing(index_elements=["schedule_id", "due_at"])
    )
    return (await conn.execute(statement)).rowcount == 1


async def settle_fire(
    conn: Conn, schedule_id: str, due_at: datetime, *, run_id: str | None, error: str | None
) -> None:
    await conn.execute(
        update(fires_t)
        .where(fires_t.c.schedule_id == schedule_id, fires_t.c.due_at == due_at)
        .values(run_id=run_id, error=error)
    )


async def recent_fires(
    conn: Conn, tenant_id: str, schedule_ids: Sequence[str], per_schedule: int
) -> dict[str, list[dict[str, Any]]]:
    """The latest `per_schedule` fires of each schedule, newest first."""
    found: dict[str, list[dict[str, Any]]] = {schedule_id: [] for schedule_id in schedule_ids}
    if not schedule_ids:
        return found
    ranked = (
        select(
            fires_t,
            func.row_number()
            .over(partition_by=fires_t.c.schedule_id, order_by=fires_t.c.due_at.desc())
            .label("rank"),
        )
        .where(fires_t.c.tenant_id == tenant_id, fires_t.c.schedule_id.in_(list(schedule_ids)))
        .subquery()
    )
    rows = await conn.execute(
        select(ranked)
        .where(ranked.c.rank <= per_schedule)
        .order_by(ranked.c.schedule_id, ranked.c.due_at.desc())
    )
    for row in rows:
        values = row._asdict()
        values.pop("rank")
        found[values["schedule_id"]].append(values)
    return found


async def fires_of(conn: Conn, tenant_id: str, schedule_id: str) -> list[dict[str, Any]]:
    rows = await conn.execute(
        select(fires_t)
        .where(fires_t.c.tenant_id == tenant_id, fires_t.c.schedule_id == schedule_id)
        .order_by(fires_t.c.due_at)
    )
    return [row._asdict() for row in rows]
