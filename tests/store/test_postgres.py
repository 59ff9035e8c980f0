"""PostgreSQL: a read-only transaction runs prepared SELECTs on the asyncpg connection itself."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, insert
from sqlalchemy.ext.asyncio import AsyncEngine

from batonflow.store.db import reading
from tests.store.things import ROWS, SELECT, things


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
