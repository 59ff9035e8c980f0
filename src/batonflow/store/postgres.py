"""PostgreSQL: the engine (asyncpg, a small pool) and the fast path of `Prepared` reads.

In a read-only transaction (`store.db.reading`) a prepared SELECT runs on the asyncpg connection
itself, which skips about 0.25 ms of SQLAlchemy's per-statement work; each statement there is its
own snapshot either way, under READ COMMITTED. Nothing outside `store/` sees asyncpg.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine


def create_engine(
    url: URL, *, echo: bool, json_deserializer: Callable[[str | bytes], Any]
) -> AsyncEngine:
    return create_async_engine(
        url,
        echo=echo,
        pool_size=10,
        max_overflow=20,
        pool_pre_ping=True,
        json_deserializer=json_deserializer,
    )


def reads_directly(conn: AsyncConnection, readonly_option: str) -> bool:
    """Whether `conn` is a checked-out asyncpg connection in a read-only transaction (one given
    the execution option `readonly_option`), where a prepared SELECT can skip SQLAlchemy."""
    sync = conn.sync_connection
    return (
        sync is not None
        and sync.dialect.driver == "asyncpg"
        and bool(sync.get_execution_options().get(readonly_option, False))
    )


async def fetch(conn: AsyncConnection, sql: str, params: Sequence[Any]) -> list[Any]:
    """The rows of compiled SQL, run on the asyncpg connection under `conn`."""
    assert conn.sync_connection is not None
    driver: Any = conn.sync_connection.connection.driver_connection
    rows: list[Any] = await driver.fetch(sql, *params)
    return rows
