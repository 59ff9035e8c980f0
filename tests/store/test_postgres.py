"""PostgreSQL: prepared statements run on the asyncpg connection itself, and the transactions\n`Database` begins there check their connection and report only what committed."""

from __future__ import annotations

import contextlib
from typing import Any

import asyncpg
import pytest
from sqlalchemy import event, insert, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from batonflow.store.db import Conn, Database, reading
from tests.store.things import INSERT, ROWS, SELECT, things


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


async def test_a_connection_the_server_dropped_is_replaced_before_the_work_runs(
    pg_engine: AsyncEngine,
) -> None:
    """The BEGIN of a `Database` transaction is its liveness check: a pooled connection whose
    server process is gone fails it, and the transaction runs, once, on another connection."""
    db = Database(pg_engine)
    pid = await db.read(lambda conn: conn.scalar(text("SELECT pg_backend_pid()")))
    url = pg_engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    outside = await asyncpg.connect(url)
    try:
        assert await outside.fetchval("SELECT pg_terminate_backend($1)", pid) is True
    finally:
        await outside.close()
    ran: list[int] = []

    async def work(conn: Conn) -> int:
        ran.append(await conn.scalar(text("SELECT pg_backend_pid()")))
        return await INSERT.run(conn, ROWS[:1], keyed=True)

    assert await db.write(work) == 1
    [other] = ran  # the work ran once, on another server process
    assert other != pid
    assert await db.read(lambda conn: SELECT.fetch(conn, {"id": "a"})) == [list(ROWS[0].values())]


async def test_a_transaction_a_failed_statement_ended_is_not_reported_committed(
    pg_engine: AsyncEngine,
) -> None:
    """Work that swallows a failed statement leaves a transaction the server can only roll back;
    its COMMIT answers ROLLBACK, and the write fails instead of passing for committed."""
    db = Database(pg_engine)

    async def work(conn: Conn) -> None:
        await INSERT.run(conn, ROWS[:1], keyed=True)
        with contextlib.suppress(DBAPIError):
            await conn.execute(text("SELECT 1 / 0"))

    with pytest.raises(RuntimeError, match="rolled back"):
        await db.write(work)
    assert await db.read(lambda conn: SELECT.fetch(conn, {"id": "a"})) == []
    assert await db.write(lambda conn: INSERT.run(conn, ROWS[:1], keyed=True)) == 1
