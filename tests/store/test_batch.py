"""`Batch`: writes sent together (one statement on PostgreSQL, one after another on SQLite)
store what SQLAlchemy stores and count what each changed; a checkpoint written as a batch keeps
its version check, so a stale worker's outcome is still refused."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncEngine

from batonflow.store import runs as run_store
from batonflow.store.batch import Batch
from batonflow.store.db import Conn, Database, reading
from batonflow.store.run_tx import StaleRows
from batonflow.workflows.attempts import Outcome
from batonflow.workflows.checkpoint import Checkpointer, SpecCache
from tests.conftest import now, start
from tests.store.things import INSERT, ROWS, UPDATE, things


@pytest.fixture(params=["sqlite", "postgresql"])
def things_engine(request: pytest.FixtureRequest) -> AsyncEngine:
    name = "pg_engine" if request.param == "postgresql" else "sqlite_engine"
    engine: AsyncEngine = request.getfixturevalue(name)
    return engine


@pytest.fixture
def statements(things_engine: AsyncEngine) -> Iterator[list[str]]:
    """The statements that went through SQLAlchemy meanwhile."""
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(things_engine.sync_engine, "before_cursor_execute", count)
    yield seen
    event.remove(things_engine.sync_engine, "before_cursor_execute", count)


async def test_a_batch_stores_what_sqlalchemy_stores_and_counts_each_write(
    things_engine: AsyncEngine, statements: list[str]
) -> None:
    db = Database(things_engine)

    async def work(conn: Conn) -> tuple[list[int], list[int]]:
        inserts = Batch()
        inserts.add(INSERT, ROWS, keyed=True)
        inserted = await inserts.send(conn)
        updates = Batch()
        updates.add(UPDATE, [{"b_id": "a", "at": None, "doc": [1]}], guard=True)
        updates.add(UPDATE, [])
        updates.add(
            UPDATE, [{"b_id": "b", "at": ROWS[0]["at"], "doc": {"k": None}}, {"b_id": "zz"}]
        )
        return inserted, await updates.send(conn)

    try:
        assert await db.write(work) == ([3], [1, 0, 1])
    finally:
        db.close()
    # On PostgreSQL each batch is one statement on asyncpg; SQLite's thread runs sqlite3 itself.
    assert statements == []
    async with reading(things_engine) as conn:
        rows = [list(row) for row in await conn.execute(select(things).order_by(things.c.id))]
    assert rows == [
        ["a", 1, None, [1], True],
        ["b", None, ROWS[0]["at"], {"k": None}, False],
        ["c", 3, ROWS[2]["at"], "text", None],
    ]


async def test_a_failed_batch_leaves_nothing_and_the_next_transaction_runs(
    things_engine: AsyncEngine,
) -> None:
    db = Database(things_engine)

    async def twice(conn: Conn) -> None:
        batch = Batch()
        batch.add(INSERT, ROWS[:2], keyed=True)
        await batch.send(conn)
        batch.add(INSERT, ROWS[1:], keyed=True)  # "b" again: a lost unique race
        await batch.send(conn)

    async def count(conn: Conn) -> int:
        return len(list(await conn.execute(select(things.c.id))))

    try:
        with pytest.raises(Exception, match="concurrent change"):
            await db.write(twice)
        assert await db.read(count) == 0
        assert await db.write(lambda conn: INSERT.run(conn, ROWS[:1], keyed=True)) == 1
        assert await db.read(count) == 1
    finally:
        db.close()


PAIR = """
id: pair
version: 1
steps:
  - {id: one, kind: agent, capability: demo.sleep, args: {value: a}}
  - {id: two, kind: agent, capability: demo.sleep, args: {value: b}, needs: [one]}
"""


async def test_a_stale_workers_cached_outcome_is_refused_by_the_batched_checkpoint(
    engine: AsyncEngine, tenant: str, specs: SpecCache
) -> None:
    """A worker that keeps its rows (as an executor does) claims a step and stalls; its lease
    expires and another worker takes the step. Its late outcome, checked against its own stale
    rows, looks acceptable, so the batched write goes out, and its version check fails it
    (`StaleRows`) with nothing written; read fresh, the outcome is refused."""
    run = await start(engine, tenant, PAIR)
    db = Database(engine)
    ghost = Checkpointer(specs, worker="ghost", lease_seconds=0.05)
    ghost.cache = {}
    other = Checkpointer(specs, worker="other", lease_seconds=30)
    try:
        claimed = await db.write(
            lambda conn: ghost.commit(conn, now(), start_runs=[run.id], capacity=1)
        )
        (claim,) = claimed.claims
        await asyncio.sleep(0.1)

        async def reap(conn: Conn) -> None:
            await other.reap(conn, now(), await run_store.expired_leases(conn, now()))
            await other.commit(conn, now(), claim=[(run.id, "one")], capacity=1)

        await db.write(reap)
        before = await _stored(db, tenant, run.id)
        late = Outcome(run.id, "one", claim.dispatch, "ghost", "succeeded", result={"v": 1})
        with pytest.raises(StaleRows):
            await db.write(lambda conn: ghost.commit(conn, now(), [late]))
        assert await _stored(db, tenant, run.id) == before
        ghost.cache.clear()  # as the executor does on StaleRows
        result = await db.write(lambda conn: ghost.commit(conn, now(), [late]))
    finally:
        db.close()
    assert result.rejected == [late]
    assert await _stored(db, tenant, run.id) == before
    steps, attempts, _ = before
    assert steps == [("one", "running", 2, "other", None), ("two", "pending", 0, None, None)]
    assert attempts == [(1, "lost", "ghost")]


async def _stored(db: Database, tenant: str, run_id: str) -> tuple[Any, ...]:
    async def work(conn: Conn) -> tuple[Any, ...]:
        steps = await run_store.list_steps(conn, tenant, run_id)
        attempts = await run_store.list_attempts(conn, tenant, run_id)
        events = await run_store.list_events(conn, tenant, run_id)
        return (
            [(s["key"], s["status"], s["dispatch"], s["lease_owner"], s["result"]) for s in steps],
            [(a["dispatch"], a["status"], a["worker"]) for a in attempts],
            [e.type for e in events],
        )

    return await db.read(work)


async def test_after_a_failed_guard_the_batch_writes_nothing_more(
    things_engine: AsyncEngine,
) -> None:
    db = Database(things_engine)

    async def work(conn: Conn) -> list[int]:
        await INSERT.run(conn, ROWS[:1], keyed=True)  # before: a batch sees no row it inserts
        batch = Batch()
        batch.add(UPDATE, [{"b_id": "a", "doc": 1}, {"b_id": "zz", "doc": 2}], guard=True)
        batch.add(INSERT, ROWS[1:], keyed=True)
        batch.add(UPDATE, [{"b_id": "a", "doc": 3}])
        return await batch.send(conn)

    async def read(conn: Conn) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in await conn.execute(select(things.c.id, things.c.doc))]

    try:
        counts = await db.write(work)
        rows = await db.read(read)
    finally:
        db.close()
    assert counts == [1, 0, 0]
    assert rows == [("a", 1)]
