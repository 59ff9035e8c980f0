"""The `Database` seam: a lost unique race is `Conflict` whichever way the statement ran, and the
tracing hooks are the ones the `Database` was built with."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from batonflow.errors import Conflict
from batonflow.store.db import Conn, Database, Hooks
from tests.store.things import INSERT, ROWS, SELECT, stored, things

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


async def test_the_idle_hook_runs_on_the_loop_as_a_write_commits(
    sqlite_engine: AsyncEngine,
) -> None:
    """`Hooks.idle` is called on the event loop's thread once per write of the database thread,
    before that write returns; reads do not call it, and a write that fails does not either."""
    calls: list[str] = []
    db = Database(
        sqlite_engine, hooks=Hooks(idle=lambda: calls.append(threading.current_thread().name))
    )
    try:
        assert await db.write(lambda conn: INSERT.run(conn, ROWS[:1], keyed=True)) == 1
        await asyncio.sleep(0)  # the loop runs callbacks that were due
        assert calls == [threading.current_thread().name]
        await db.read(lambda conn: SELECT.fetch(conn, {"id": "a"}))
        with pytest.raises(Conflict):
            await db.write(lambda conn: INSERT.run(conn, ROWS[:1], keyed=True))
        await asyncio.sleep(0)
        assert calls == [threading.current_thread().name]
    finally:
        db.close()


async def test_hooks_are_given_when_the_database_is_built(sqlite_engine: AsyncEngine) -> None:
    """A write of the database thread inside a sampled trace gets a span from the tracer it was
    built with; a read gets none."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    db = Database(sqlite_engine, hooks=Hooks(tracer=tracer))
    try:
        with tracer.start_as_current_span("request"):
            assert await db.write(lambda conn: INSERT.run(conn, ROWS[:1], keyed=True)) == 1
            assert await db.read(lambda conn: SELECT.fetch(conn, {"id": "a"})) == [
                list(ROWS[0].values())
            ]
    finally:
        db.close()
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
