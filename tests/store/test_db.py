"""The database seam: what the fast paths (the SQLite database thread, direct asyncpg reads) store
and read back is exactly what SQLAlchemy stores and reads back, a failing transaction leaves
nothing behind, a lost unique race is `Conflict` whichever way it ran, and the tracing hooks are
the ones the `Database` was built with."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from batonflow.errors import Conflict
from batonflow.store.db import Conn, Database, Hooks, Prepared, create_engine, reading
from batonflow.store.tables import UtcDateTime

metadata = MetaData()
things = Table(
    "things",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("n", Integer),
    Column("at", UtcDateTime()),
    Column("doc", JSON()),
    Column("flag", Boolean),
)
NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
ROWS: list[dict[str, Any]] = [
    {"id": "a", "n": 1, "at": NOW, "doc": {"b": 1, "a": [1, "x"]}, "flag": True},
    {"id": "b", "n": None, "at": None, "doc": None, "flag": False},
    {"id": "c", "n": 3, "at": NOW + timedelta(microseconds=1), "doc": "text", "flag": None},
]
SELECT = Prepared(select(things).where(things.c.id == bindparam("id")))
INSERT = Prepared(insert(things))
UPDATE = Prepared(
    update(things)
    .where(things.c.id == bindparam("b_id"))
    .values(at=bindparam("at"), doc=bindparam("doc"))
)


@pytest.fixture
async def sqlite_engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield engine
    await engine.dispose()


def stored(engine: AsyncEngine) -> list[tuple[Any, ...]]:
    """The rows as the file holds them, read without SQLAlchemy."""
    assert engine.url.database is not None
    with sqlite3.connect(engine.url.database) as raw:
        return raw.execute("SELECT * FROM things ORDER BY id").fetchall()


async def test_the_fast_path_stores_what_sqlalchemy_stores(sqlite_engine: AsyncEngine) -> None:
    async with sqlite_engine.begin() as conn:
        await conn.execute(insert(things), ROWS)
    by_sqlalchemy = stored(sqlite_engine)
    async with sqlite_engine.begin() as conn:
        await conn.execute(things.delete())

    db = Database(sqlite_engine)
    try:

        async def work(conn: Conn) -> int:
            return await INSERT.run(conn, ROWS, keyed=True)

        assert await db.write(work) == 3
        assert stored(sqlite_engine) == by_sqlalchemy

        async def read(conn: Conn) -> list[Any]:
            return [list(await SELECT.fetch(conn, {"id": row["id"]})) for row in ROWS]

        fast = await db.read(read)
    finally:
        db.close()
    async with sqlite_engine.connect() as conn:
        slow = [
            [list(r) for r in await conn.execute(SELECT.statement, {"id": row["id"]})]
            for row in ROWS
        ]
    assert [[list(r) for r in rows] for rows in fast] == slow
    assert [rows[0] for rows in slow] == [list(row.values()) for row in ROWS]


async def test_an_update_reports_the_rows_it_changed(sqlite_engine: AsyncEngine) -> None:
    db = Database(sqlite_engine)
    try:

        async def work(conn: Conn) -> tuple[int, int]:
            await INSERT.run(conn, ROWS[:1], keyed=True)
            changed = await UPDATE.run(conn, [{"b_id": "a", "at": None, "doc": [1]}])
            missing = await UPDATE.run(conn, [{"b_id": "zz", "at": None, "doc": None}])
            return changed, missing

        assert await db.write(work) == (1, 0)
    finally:
        db.close()
    assert stored(sqlite_engine) == [("a", 1, None, "[1]", 1)]


async def test_a_failing_transaction_in_the_thread_rolls_back(sqlite_engine: AsyncEngine) -> None:
    db = Database(sqlite_engine)
    try:

        async def work(conn: Conn) -> None:
            await INSERT.run(conn, ROWS[:1], keyed=True)
            await conn.execute(insert(things), ROWS[1:2])  # through SQLAlchemy, same transaction
            raise RuntimeError("boom")

        with pytest.raises(RuntimeError):
            await db.write(work)

        async def after(conn: Conn) -> int:
            await conn.execute(insert(things), ROWS[2:])
            return await INSERT.run(conn, ROWS[1:2], keyed=True)

        assert await db.write(after) == 1  # the connection is usable again
    finally:
        db.close()
    assert [row[0] for row in stored(sqlite_engine)] == ["b", "c"]


@pytest.fixture
async def pg_engine(pg_database: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(pg_database)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield engine
    async with engine.begin() as conn:
        await conn.run_sync(metadata.drop_all)
    await engine.dispose()


async def test_postgresql_reads_run_on_asyncpg_and_read_what_sqlalchemy_reads(
    pg_engine: AsyncEngine,
) -> None:
    """In a read-only transaction a prepared SELECT runs on the asyncpg connection itself
    (SQLAlchemy sees no statement) and gives the rows SQLAlchemy gives; in a write transaction,
    where a locking read must be inside the transaction, it goes through SQLAlchemy."""
    async with pg_engine.begin() as conn:
        await conn.execute(insert(things), ROWS)
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(pg_engine.sync_engine, "before_cursor_execute", count)
    try:
        async with reading(pg_engine) as conn:
            fast = [list(await SELECT.fetch(conn, {"id": row["id"]})) for row in ROWS]
        assert seen == []
        async with pg_engine.begin() as conn:
            locked = list(await SELECT.fetch(conn, {"id": "a"}))
        assert len(seen) == 1
    finally:
        event.remove(pg_engine.sync_engine, "before_cursor_execute", count)
    async with pg_engine.connect() as conn:
        slow = [
            [list(r) for r in await conn.execute(SELECT.statement, {"id": row["id"]})]
            for row in ROWS
        ]
    assert [[list(r) for r in rows] for rows in fast] == slow
    assert [list(r) for r in locked] == slow[0]
    assert [rows[0] for rows in slow] == [list(row.values()) for row in ROWS]


LOST_RACE = Conflict("a concurrent change to the same object won; send the request again")


def as_raised(error: BaseException) -> tuple[type[BaseException], str, dict[str, Any]]:
    assert isinstance(error, Conflict)
    return type(error), error.message, error.details


async def twice_by_prepared(conn: Conn) -> None:
    await INSERT.run(conn, ROWS[:1], keyed=True)
    await INSERT.run(conn, ROWS[:1], keyed=True)


async def twice_by_sqlalchemy(conn: Conn) -> None:
    await conn.execute(insert(things), ROWS[:1])
    await conn.execute(insert(things), ROWS[:1])


@pytest.mark.parametrize("work", [twice_by_prepared, twice_by_sqlalchemy])
async def test_a_lost_unique_race_is_a_conflict_in_the_thread(
    sqlite_engine: AsyncEngine, work: Any
) -> None:
    """Whether the statement ran on sqlite3 itself (a prepared statement) or through
    SQLAlchemy, the caller sees the domain's `Conflict`, and nothing of the transaction stays."""
    db = Database(sqlite_engine)
    try:
        with pytest.raises(Conflict) as raised:
            await db.write(work)
    finally:
        db.close()
    assert as_raised(raised.value) == as_raised(LOST_RACE)
    assert stored(sqlite_engine) == []


async def test_a_lost_unique_race_is_a_conflict_on_postgresql(pg_engine: AsyncEngine) -> None:
    db = Database(pg_engine)
    with pytest.raises(Conflict) as raised:
        await db.write(twice_by_sqlalchemy)
    assert as_raised(raised.value) == as_raised(LOST_RACE)
    assert await db.read(lambda conn: conn.scalar(select(func.count()).select_from(things))) == 0


async def test_hooks_are_given_when_the_database_is_built(sqlite_engine: AsyncEngine) -> None:
    """A write of the database thread inside a sampled trace gets a span from the tracer it was
    built with, and calls `committing` as it commits; a read does neither."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    commits: list[str] = []
    db = Database(
        sqlite_engine, hooks=Hooks(tracer=tracer, committing=lambda: commits.append("commit"))
    )
    try:
        with tracer.start_as_current_span("request"):
            assert await db.write(lambda conn: INSERT.run(conn, ROWS[:1], keyed=True)) == 1
            assert await db.read(lambda conn: SELECT.fetch(conn, {"id": "a"})) == [
                list(ROWS[0].values())
            ]
    finally:
        db.close()
    assert commits == ["commit"]
    assert [
        (span.name, span.kind, dict(span.attributes or {}))
        for span in exporter.get_finished_spans()
    ] == [
        (
            "TRANSACTION",
            SpanKind.CLIENT,
            {"db.system.name": "sqlite", "db.operation.name": "TRANSACTION"},
        ),
        ("request", SpanKind.INTERNAL, {}),
    ]
