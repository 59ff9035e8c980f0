"""Database engines: a SQLite file by default, PostgreSQL when the URL says so.

SQLite runs in WAL mode with every write transaction opened as `BEGIN IMMEDIATE`, so a transaction
that reads and then writes never loses a race to another writer; `synchronous` defaults to FULL
(each commit reaches the disk). PostgreSQL uses asyncpg with a small pool.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from batonflow.errors import ConfigError

READONLY = "batonflow_readonly"
ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}


def normalize_url(url: str) -> URL:
    """Accept `sqlite:///file.db` or `postgresql://...` and pick the async driver."""
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise ConfigError(f"BATONFLOW_DATABASE_URL is not a database URL: {url!r}") from exc
    backend = parsed.get_backend_name()
    if backend not in ASYNC_DRIVERS:
        raise ConfigError(
            f"BATONFLOW_DATABASE_URL names '{backend}'; Batonflow runs on sqlite or postgresql"
        )
    return parsed.set(drivername=ASYNC_DRIVERS[backend])


def create_engine(url: str, *, sqlite_synchronous: str = "FULL", echo: bool = False) -> AsyncEngine:
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, sqlite_synchronous, echo)
    return create_async_engine(parsed, echo=echo, pool_size=10, max_overflow=20, pool_pre_ping=True)


def _sqlite_engine(url: URL, synchronous: str, echo: bool) -> AsyncEngine:
    if synchronous.upper() not in ("FULL", "NORMAL", "EXTRA"):
        raise ConfigError("BATONFLOW_SQLITE_SYNCHRONOUS must be FULL, NORMAL or EXTRA")
    if url.database and url.database != ":memory:":
        Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, echo=echo, connect_args={"timeout": 30})

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous.upper()}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        readonly = connection.get_execution_options().get(READONLY, False)
        connection.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")

    return engine


@asynccontextmanager
async def reading(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection for reads only. On SQLite its transaction does not take the write lock, so
    reads never wait behind, or hold up, a writer."""
    async with engine.connect() as conn:
        await conn.execution_options(**{READONLY: True})
        yield conn


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite"
