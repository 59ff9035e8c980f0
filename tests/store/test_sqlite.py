"""The SQLite database thread: what its fast path stores and reads back is exactly what
SQLAlchemy stores and reads back, and a failing transaction leaves nothing behind."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from batonflow.store.db import Conn, Database
from tests.store.things import INSERT, ROWS, SELECT, UPDATE, stored, things


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


async def test_the_thread_reads_json_as_the_async_engine_does(sqlite_engine: AsyncEngine) -> None:
    """orjson reads the thread's JSON columns too, and the standard library what orjson refuses
    (NaN, integers past 64 bits, lone surrogates): the same values either way."""
    docs = [
        {"b": 1, "a": [1, "x", None, True, 2.5]},
        {"nan": float("nan"), "big": 2**70, "lone": "\ud800"},
    ]
    rows = [{**ROWS[0], "id": str(index), "doc": doc} for index, doc in enumerate(docs)]
    async with sqlite_engine.begin() as conn:
        await conn.execute(insert(things), rows)
    db = Database(sqlite_engine)
    try:

        async def read(conn: Conn) -> list[Any]:
            return [(await SELECT.fetch(conn, {"id": row["id"]}))[0][3] for row in rows]

        fast = await db.read(read)
    finally:
        db.close()
    async with sqlite_engine.connect() as conn:
        slow = [(await conn.execute(SELECT.statement, {"id": r["id"]})).one()[3] for r in rows]
    assert repr(fast) == repr(slow) == repr(docs)
