"""Database engines: a SQLite file by default, PostgreSQL when the URL says so.

SQLite runs in WAL mode with every write transaction opened as `BEGIN IMMEDIATE`, so a transaction
that reads and then writes never loses a race to another writer; `synchronous` defaults to FULL
(each commit reaches the disk). PostgreSQL uses asyncpg with a small pool.

`Database` runs the executor's transactions. On PostgreSQL that is the async engine. On SQLite,
each statement through the async driver costs a thread hop and about half a millisecond here, so
a checkpoint (eight statements) would spend most of its time hopping; instead the whole
transaction runs in one dedicated database thread on a plain sqlite3 connection: one hop per
transaction. Store functions are written once, against `Conn`, and run unchanged in both places.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar

import sqlalchemy
from sqlalchemy import Dialect, event
from sqlalchemy.engine import URL, Connection, CursorResult, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

from batonflow.errors import ConfigError

READONLY = "batonflow_readonly"
T = TypeVar("T")
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
    _sqlite_events(engine.sync_engine, synchronous)
    return engine


def _sqlite_events(sync_engine: sqlalchemy.Engine, synchronous: str) -> None:
    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous.upper()}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        readonly = connection.get_execution_options().get(READONLY, False)
        connection.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")


@asynccontextmanager
async def reading(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection for reads only. On SQLite its transaction does not take the write lock, so
    reads never wait behind, or hold up, a writer."""
    async with engine.connect() as conn:
        await conn.execution_options(**{READONLY: True})
        yield conn


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite"


class Conn(Protocol):
    """What store functions use of a connection: the async engine's connections and the
    database thread's connections both provide it."""

    @property
    def dialect(self) -> Dialect: ...

    async def execute(self, statement: Any, parameters: Any = None) -> CursorResult[Any]: ...

    async def scalar(self, statement: Any, parameters: Any = None) -> Any: ...


class ThreadConnection:
    """A plain connection inside the database thread. Its methods are coroutines that never
    suspend, so a transaction written as a coroutine runs to its end in one pass."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    @property
    def dialect(self) -> Dialect:
        return self._connection.dialect

    async def execute(self, statement: Any, parameters: Any = None) -> CursorResult[Any]:
        return self._connection.execute(statement, parameters)

    async def scalar(self, statement: Any, parameters: Any = None) -> Any:
        return self._connection.scalar(statement, parameters)


def run_to_end(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never suspends; a real suspension is a programming error."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    coroutine.close()
    raise RuntimeError("a transaction in the database thread tried to wait on the event loop")


class Database:
    """Runs transactions for the executor (see the module docstring)."""

    def __init__(self, engine: AsyncEngine, *, sqlite_synchronous: str = "FULL") -> None:
        self.engine = engine
        self._thread: ThreadPoolExecutor | None = None
        self._sync: sqlalchemy.Engine | None = None
        if is_sqlite(engine):
            synchronous = sqlite_synchronous
            url = engine.url.set(drivername="sqlite")
            self._sync = sqlalchemy.create_engine(
                url, poolclass=StaticPool, connect_args={"timeout": 30, "check_same_thread": False}
            )
            _sqlite_events(self._sync, synchronous)
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="batonflow-db")

    async def write(self, work: Callable[[Conn], Awaitable[T]]) -> T:
        """Run `work` in a write transaction and commit it."""
        if self._sync is None:
            async with self.engine.begin() as conn:
                return await work(conn)
        return await self._in_thread(work, readonly=False)

    async def read(self, work: Callable[[Conn], Awaitable[T]]) -> T:
        if self._sync is None:
            async with reading(self.engine) as conn:
                return await work(conn)
        return await self._in_thread(work, readonly=True)

    async def _in_thread(self, work: Callable[[Conn], Awaitable[T]], *, readonly: bool) -> T:
        sync = self._sync
        assert sync is not None

        def transaction() -> T:
            with sync.connect() as connection:
                if readonly:
                    connection.execution_options(**{READONLY: True})
                with connection.begin():
                    return run_to_end(work(ThreadConnection(connection)))  # type: ignore[arg-type]

        return await asyncio.get_running_loop().run_in_executor(self._thread, transaction)

    def close(self) -> None:
        if self._thread is not None:
            self._thread.shutdown(wait=True)
        if self._sync is not None:
            self._sync.dispose()
