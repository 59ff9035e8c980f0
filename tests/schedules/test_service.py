"""Schedules in the database, on SQLite and PostgreSQL: create, pause, resume, delete, and
firing each due time exactly once with several schedulers racing on one database."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from batonflow.apps.demo import registry as demo_registry
from batonflow.errors import InvalidInput, NotFound
from batonflow.schedules import service
from batonflow.schedules.service import NewSchedule, Scheduler
from batonflow.store import schedules as store
from batonflow.store.db import Conn, Database, create_engine
from batonflow.store.tables import Run, table
from batonflow.store.tenants import ensure_tenant
from batonflow.store.workflows import save_version
from batonflow.workflows.validation import load_spec

runs_t = table(Run)
GREET = """
id: greet
version: "1"
inputs:
  name: {type: string}
steps:
  - {id: echo, kind: agent, capability: demo.sleep, args: {value: "{{ inputs.name }}"}}
"""
T0 = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)


async def _store(engine: AsyncEngine, tenant: str, text: str = GREET) -> None:
    spec = load_spec(text, "greet.yaml", demo_registry())
    async with engine.begin() as conn:
        await save_version(conn, tenant, spec, text, T0)


async def _create(engine: AsyncEngine, tenant: str, **fields: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "name": "hourly",
        "workflow_id": "greet",
        "kind": "cron",
        "cron": "0 * * * *",
        "inputs": {"name": "Ada"},
    } | fields
    async with engine.begin() as conn:
        return await service.create(conn, tenant, NewSchedule(**values), actor="tester", now=T0)


async def _runs(engine: AsyncEngine, tenant: str) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(runs_t.c.id, runs_t.c.inputs, runs_t.c.ctx, runs_t.c.created_by).where(
                runs_t.c.tenant_id == tenant
            )
        )
        return [row._asdict() for row in rows]


async def test_create_checks_timing_workflow_and_inputs(engine: AsyncEngine, tenant: str) -> None:
    await _store(engine, tenant)
    row = await _create(engine, tenant)
    assert (row["next_fire_at"], row["paused"], row["catch_up"]) == (
        T0 + timedelta(hours=1),
        False,
        "skip",
    )
    with pytest.raises(InvalidInput, match="'name' is a required property"):
        await _create(engine, tenant, name="bad", inputs={})
    with pytest.raises(NotFound, match="no workflow 'nope'"):
        await _create(engine, tenant, name="bad", workflow_id="nope")
    with pytest.raises(InvalidInput, match="has passed"):
        await _create(engine, tenant, name="bad", kind="once", cron=None, at=T0 - timedelta(1))


async def test_pause_resume_delete_and_tenant_isolation(engine: AsyncEngine, tenant: str) -> None:
    await _store(engine, tenant)
    row = await _create(engine, tenant)
    async with engine.begin() as conn:
        other = await ensure_tenant(conn, "globex", T0)
        with pytest.raises(NotFound):
            await service.pause(conn, other, row["id"], T0)
        assert await store.list_schedules(conn, other) == []
        paused = await service.pause(conn, tenant, "hourly", T0)
        assert paused["paused"] is True
        assert await store.next_due(conn, T0 + timedelta(days=1)) is None
        later = T0 + timedelta(hours=5, minutes=30)
        resumed = await service.resume(conn, tenant, row["id"], later)
        assert (resumed["paused"], resumed["next_fire_at"]) == (False, T0 + timedelta(hours=6))
        with pytest.raises(NotFound):
            await service.remove(conn, other, row["id"])
        await service.remove(conn, tenant, row["id"])
        assert await store.list_schedules(conn, tenant) == []


async def test_a_due_time_starts_its_run_with_the_schedule_named(
    engine: AsyncEngine, tenant: str
) -> None:
    await _store(engine, tenant)
    row = await _create(engine, tenant, catch_up="all", catch_up_limit=2)
    db = Database(engine)
    try:
        clock = T0 + timedelta(hours=3, seconds=5)  # 10:00, 11:00 and 12:00 are due
        scheduler = Scheduler(db, worker="s1", clock=lambda: clock)
        fired = await scheduler.tick()
        assert [(f.due_at, f.error) for f in fired] == [
            (T0 + timedelta(hours=2), None),
            (T0 + timedelta(hours=3), None),
        ]
        assert await scheduler.tick() == []
    finally:
        db.close()
    runs = await _runs(engine, tenant)
    assert sorted(r["ctx"]["due_at"] for r in runs) == [
        "2027-01-04T11:00:00+00:00",
        "2027-01-04T12:00:00+00:00",
    ]
    assert {(r["created_by"], r["ctx"]["schedule_id"], r["inputs"]["name"]) for r in runs} == {
        ("schedule:hourly", row["id"], "Ada")
    }
    async with engine.connect() as conn:
        stored = await store.get_schedule(conn, tenant, row["id"])
        fires = await store.fires_of(conn, tenant, row["id"])
    assert stored["next_fire_at"] == T0 + timedelta(hours=4)
    assert [(f["due_at"], f["run_id"]) for f in fires] == [
        (T0 + timedelta(hours=2), runs_by_due(runs)["2027-01-04T11:00:00+00:00"]),
        (T0 + timedelta(hours=3), runs_by_due(runs)["2027-01-04T12:00:00+00:00"]),
    ]


def runs_by_due(runs: list[dict[str, Any]]) -> dict[str, str]:
    return {r["ctx"]["due_at"]: r["id"] for r in runs}


async def test_a_fire_that_cannot_start_records_why(engine: AsyncEngine, tenant: str) -> None:
    await _store(engine, tenant)
    row = await _create(engine, tenant, version="1")
    # A newer version is stored; this schedule pins version 1, a second one asks for "2".
    await _store(engine, tenant, GREET.replace('version: "1"', 'version: "2"'))
    async with engine.begin() as conn:
        await store.update_schedule(conn, tenant, row["id"], version="3")
    db = Database(engine)
    try:
        fired = await Scheduler(db, worker="s1", clock=lambda: T0 + timedelta(hours=1)).tick()
    finally:
        db.close()
    assert [(f.run_id, f.error) for f in fired] == [(None, "no workflow 'greet' version 3")]
    assert await _runs(engine, tenant) == []


async def test_a_scheduler_that_dies_mid_fire_loses_nothing(
    engine: AsyncEngine, tenant: str
) -> None:
    await _store(engine, tenant)
    row = await _create(engine, tenant)
    due_now = T0 + timedelta(hours=1, seconds=1)

    async def dies(conn: Conn) -> None:
        assert await service.fire_next(conn, now=due_now, worker="doomed") is not None
        raise RuntimeError("killed before the commit")

    db = Database(engine)
    try:
        with pytest.raises(RuntimeError):
            await db.write(dies)
        assert await _runs(engine, tenant) == []
        fired = await Scheduler(db, worker="s2", clock=lambda: due_now).tick()
    finally:
        db.close()
    assert [(f.schedule_id, f.due_at) for f in fired] == [(row["id"], T0 + timedelta(hours=1))]
    assert len(await _runs(engine, tenant)) == 1


async def test_the_key_refuses_a_due_time_fired_before(engine: AsyncEngine, tenant: str) -> None:
    await _store(engine, tenant)
    row = await _create(engine, tenant)
    async with engine.begin() as conn:
        first = await store.claim_fire(conn, tenant, row["id"], T0, "a", T0)
        again = await store.claim_fire(conn, tenant, row["id"], T0, "b", T0)
    assert (first, again) == (True, False)


SCHEDULERS = 4
SCHEDULES = 6


async def test_racing_schedulers_start_exactly_one_run_per_due_time(
    engine: AsyncEngine, tenant: str, db_url: str
) -> None:
    """Several schedulers, each with its own engine and connection (as separate processes
    would have), fire the same due times of the same schedules at once, pass after pass."""
    await _store(engine, tenant)
    for index in range(SCHEDULES):
        await _create(
            engine,
            tenant,
            name=f"every-minute-{index}",
            kind="interval",
            cron=None,
            interval_seconds=60,
            catch_up="all",
            catch_up_limit=1000,
        )
    engines = [create_engine(db_url) for _ in range(SCHEDULERS)]
    databases = [Database(e) for e in engines]
    try:
        for minutes in (5, 6, 9):  # three passes, each with due times the last did not fire
            clock = T0 + timedelta(minutes=minutes, seconds=1)
            schedulers = [
                Scheduler(db, worker=f"s{i}", clock=lambda c=clock: c)
                for i, db in enumerate(databases)
            ]
            await asyncio.gather(*(s.tick() for s in schedulers))
    finally:
        for db in databases:
            db.close()
        for each in engines:
            await each.dispose()
    runs = await _runs(engine, tenant)
    keys = [(r["ctx"]["schedule_id"], r["ctx"]["due_at"]) for r in runs]
    assert len(keys) == len(set(keys)) == SCHEDULES * 9
    async with engine.connect() as conn:
        fires = await conn.scalar(select(func.count()).select_from(store.fires_t))
        fired_by = await conn.execute(select(store.fires_t.c.fired_by).distinct())
    assert fires == SCHEDULES * 9
    assert {row[0] for row in fired_by} <= {f"s{i}" for i in range(SCHEDULERS)}
