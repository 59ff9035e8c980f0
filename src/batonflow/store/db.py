"""Database engines: a SQLite file by default, PostgreSQL when the URL says so.

SQLite runs in WAL mode with every write transaction opened as `BEGIN IMMEDIATE`, so a transaction
that reads and then writes never loses a race to another writer; `synchronous` defaults to FULL
(each commit reaches the disk). PostgreSQL uses asyncpg with a small pool.

`Database` runs the executor's transactions. On PostgreSQL that is the async engine. On SQLite,
each statement through the async driver costs a thread hop and about half a millisecond here, so
a checkpoint (eight statements) would spend most of its time hopping; instead the whole
transaction runs in one dedicated database thread on a plain sqlite3 connection: one hop per
transaction. Store functions are written once, against `Conn`, and run unchanged in both places.

The statements of the checkpoint hot path are `Prepared`: compiled once per dialect, and in the
database thread run straight on the sqlite3 connection with the bind and result processing the
SQLAlchemy types define, so a value is stored exactly as SQLAlchemy would store it; elsewhere they
go through SQLAlchemy as any statement does.
"""

from __future__ import annotations

import asyncio
import json
import operator
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import orjson
import sqlalchemy
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Tracer
from sqlalchemy import DateTime, Dialect, TypeDecorator, event
from sqlalchemy.engine import URL, Connection, CursorResult, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

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
    return create_async_engine(
        parsed,
        echo=echo,
        pool_size=10,
        max_overflow=20,
        pool_pre_ping=True,
        json_deserializer=json_loads,
    )


def json_loads(text: str | bytes) -> Any:
    """JSON columns as read: orjson, several times faster than the standard library, which
    still reads what orjson refuses (NaN, integers past 64 bits, lone surrogates)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def _sqlite_engine(url: URL, synchronous: str, echo: bool) -> AsyncEngine:
    if synchronous.upper() not in ("FULL", "NORMAL", "EXTRA"):
        raise ConfigError("BATONFLOW_SQLITE_SYNCHRONOUS must be FULL, NORMAL or EXTRA")
    if url.database and url.database != ":memory:":
        Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(
        url, echo=echo, connect_args={"timeout": 30}, json_deserializer=json_loads
    )
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
        if getattr(connection.connection.dbapi_connection, "in_transaction", False):
            return  # the database thread began it on the sqlite3 connection
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
        self.raw: sqlite3.Connection = connection.connection.dbapi_connection  # type: ignore[assignment]
        self.memo: dict[Any, Any] = {}  # processed datetimes, for one transaction

    @property
    def dialect(self) -> Dialect:
        return self._connection.dialect

    async def execute(self, statement: Any, parameters: Any = None) -> CursorResult[Any]:
        return self._connection.execute(statement, parameters)

    async def scalar(self, statement: Any, parameters: Any = None) -> Any:
        return self._connection.scalar(statement, parameters)


Processor = Callable[[Any], Any] | None


@dataclass(frozen=True, slots=True)
class _Bind:
    name: str
    default: Any
    process: Processor
    none: Any  # what `process` makes of None, worked out once
    memo: type | None  # a datetime type: equal values (a transaction's `now`) are processed once


class _Compiled:
    """A statement's SQL and how to turn a row of named values into its parameters."""

    __slots__ = ("_convert", "_get", "binds", "convert", "processed", "results", "sql")

    def __init__(self, sql: str, binds: tuple[_Bind, ...], results: tuple[Processor, ...]):
        self.sql = sql
        self.binds = binds
        self.results = results
        self.processed = any(results)  # whether any result column has a processor
        self.convert = [(index, process) for index, process in enumerate(results) if process]
        names = [bind.name for bind in binds]
        self._get: Callable[[Mapping[str, Any]], Any] | None = None
        if len(names) == 1:
            self._get = lambda row: (row[names[0]],)
        elif names:
            self._get = operator.itemgetter(*names)
        self._convert = [(index, bind) for index, bind in enumerate(binds) if bind.process]

    def rows(self, rows: Sequence[Any]) -> list[Any]:
        """Fetched rows with the columns' result processors applied (as SQLAlchemy would)."""
        if not self.processed:
            return list(rows)
        out = []
        for row in rows:
            values = list(row)
            for index, process in self.convert:
                value = values[index]
                if value is not None:  # every result processor keeps NULL as None
                    values[index] = process(value)
            out.append(values)
        return out

    def params(self, row: Mapping[str, Any], memo: dict[Any, Any]) -> list[Any]:
        if self._get is None:
            return []
        try:
            values = list(self._get(row))
        except KeyError:
            values = [row.get(bind.name, bind.default) for bind in self.binds]
        for index, bind in self._convert:
            value = values[index]
            if value is None:
                values[index] = bind.none
            elif bind.memo is not None:
                key = (bind.memo, value)
                done = memo.get(key)
                if done is None:
                    done = memo[key] = bind.process(value)  # type: ignore[misc]
                values[index] = done
            else:
                values[index] = bind.process(value)  # type: ignore[misc]
        return values


def _bind(name: str, bind: Any, dialect: Dialect) -> _Bind:
    process = bind.type.dialect_impl(dialect).bind_processor(dialect)
    impl = bind.type.impl_instance if isinstance(bind.type, TypeDecorator) else bind.type
    memo = type(bind.type) if isinstance(impl, DateTime) else None
    return _Bind(name, bind.value, process, process(None) if process else None, memo)


class Prepared:
    """A statement of the hot path: compiled once per dialect (and per set of parameter keys,
    for an INSERT of whole rows). In the database thread it runs on the sqlite3 connection
    itself, which skips SQLAlchemy's per-execution work (cache key, execution context, result
    set-up): most of a checkpoint's time there. Statements with expanding parameters always go
    through SQLAlchemy."""

    def __init__(self, statement: Any) -> None:
        self.statement = statement
        self._compiled: dict[tuple[str, tuple[str, ...] | None], _Compiled | None] = {}

    def _compile(self, dialect: Dialect, keys: tuple[str, ...] | None) -> _Compiled | None:
        cached = self._compiled.get((dialect.name, keys), False)
        if cached is not False:
            return cached  # type: ignore[return-value]
        statement: ClauseElement = self.statement
        compiled = statement.compile(
            dialect=dialect, column_keys=list(keys) if keys is not None else None
        )
        assert isinstance(compiled, SQLCompiler)
        names = compiled.positiontup or []
        result: _Compiled | None = None
        if not any(bind.expanding for bind in compiled.binds.values()):
            binds = tuple(_bind(name, compiled.binds[name], dialect) for name in names)
            columns = getattr(statement, "selected_columns", ())
            results = tuple(
                column.type.dialect_impl(dialect).result_processor(dialect, None)
                for column in columns
            )
            result = _Compiled(compiled.string, binds, results)
        self._compiled[(dialect.name, keys)] = result
        return result

    async def run(
        self, conn: Conn, rows: Sequence[Mapping[str, Any]], *, keyed: bool = False
    ) -> int:
        """Execute once per row (an INSERT of whole rows passes `keyed`: its columns are the
        first row's keys); returns the number of rows changed."""
        if not rows:
            return 0
        if isinstance(conn, ThreadConnection):
            compiled = self._compile(conn.dialect, tuple(rows[0]) if keyed else None)
            if compiled is not None:
                memo = conn.memo
                if len(rows) == 1:
                    cursor = conn.raw.execute(compiled.sql, compiled.params(rows[0], memo))
                else:
                    cursor = conn.raw.executemany(
                        compiled.sql, [compiled.params(row, memo) for row in rows]
                    )
                return cursor.rowcount
        result = await conn.execute(self.statement, rows[0] if len(rows) == 1 else list(rows))
        return result.rowcount

    async def fetch(self, conn: Conn, params: Mapping[str, Any] | None = None) -> list[Any]:
        """The rows of a SELECT, as tuples in column order. In the database thread it runs on
        the sqlite3 connection; in a read-only PostgreSQL transaction (`reading`) on the asyncpg
        connection itself, which skips about 0.25 ms of SQLAlchemy's per-statement work (each
        statement there is its own snapshot either way, under READ COMMITTED)."""
        if isinstance(conn, ThreadConnection):
            compiled = self._compile(conn.dialect, None)
            if compiled is not None:
                rows = conn.raw.execute(
                    compiled.sql, compiled.params(params or {}, conn.memo)
                ).fetchall()
                return compiled.rows(rows)
        elif isinstance(conn, AsyncConnection) and _reads_on_asyncpg(conn):
            compiled = self._compile(conn.dialect, None)
            if compiled is not None:
                assert conn.sync_connection is not None
                driver: Any = conn.sync_connection.connection.driver_connection
                values = compiled.params(params or {}, {})
                return compiled.rows(await driver.fetch(compiled.sql, *values))
        return list(await conn.execute(self.statement, params))


def _reads_on_asyncpg(conn: AsyncConnection) -> bool:
    """A read-only connection (`reading`) of the asyncpg driver, checked out."""
    sync = conn.sync_connection
    return (
        sync is not None
        and sync.dialect.driver == "asyncpg"
        and bool(sync.get_execution_options().get(READONLY, False))
    )


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
        self._conn: ThreadConnection | None = None
        self._trace: Callable[[str], None] | None = None
        # Set by `Tracing.instrument_database`: a span for each write transaction of the
        # database thread made inside a trace (statements there bypass SQLAlchemy's events).
        self.tracer: Tracer | None = None
        if is_sqlite(engine):
            synchronous = sqlite_synchronous
            url = engine.url.set(drivername="sqlite")
            self._sync = sqlalchemy.create_engine(
                url, poolclass=StaticPool, connect_args={"timeout": 30, "check_same_thread": False}
            )
            _sqlite_events(self._sync, synchronous)
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="batonflow-db")

    @property
    def threaded(self) -> bool:
        """True when transactions run in the SQLite database thread."""
        return self._sync is not None

    async def write(self, work: Callable[[Conn], Awaitable[T]]) -> T:
        """Run `work` in a write transaction and commit it."""
        if self._sync is None:
            async with self.engine.begin() as conn:
                return await work(conn)
        tracer = self.tracer
        if tracer is not None and trace.get_current_span().get_span_context().trace_flags.sampled:
            attributes = {"db.system.name": "sqlite", "db.operation.name": "TRANSACTION"}
            with tracer.start_as_current_span(
                "TRANSACTION", kind=SpanKind.CLIENT, attributes=attributes
            ):
                return await self._in_thread(work, readonly=False)
        return await self._in_thread(work, readonly=False)

    async def read(self, work: Callable[[Conn], Awaitable[T]]) -> T:
        if self._sync is None:
            async with reading(self.engine) as conn:
                return await work(conn)
        return await self._in_thread(work, readonly=True)

    async def _in_thread(self, work: Callable[[Conn], Awaitable[T]], *, readonly: bool) -> T:
        return await asyncio.get_running_loop().run_in_executor(
            self._thread, self._transaction, work, readonly
        )

    def _transaction(self, work: Callable[[Conn], Awaitable[T]], readonly: bool) -> T:
        """One transaction, in the database thread, on the thread's one connection (opened on
        first use and kept: a pool check-out and reset per transaction cost as much as a
        statement). It is begun and ended on the sqlite3 connection itself; a statement that
        goes through SQLAlchemy joins it (see `_sqlite_events`)."""
        conn = self._conn
        if conn is None:
            assert self._sync is not None
            conn = self._conn = ThreadConnection(self._sync.connect())
            if self._trace is not None:
                conn.raw.set_trace_callback(self._trace)
        connection, raw = conn._connection, conn.raw
        conn.memo.clear()
        raw.execute("BEGIN" if readonly else "BEGIN IMMEDIATE")
        try:
            result: T = run_to_end(work(conn))  # type: ignore[arg-type]
        except BaseException:
            if connection.in_transaction():
                connection.rollback()
            if raw.in_transaction:
                raw.rollback()
            raise
        if connection.in_transaction():
            connection.commit()
        if raw.in_transaction:
            raw.commit()
        return result

    def trace(self, callback: Callable[[str], None] | None) -> None:
        """Have every statement of the database thread passed to `callback` (for profiling;
        None stops it). Statements through the async engine are seen by its own events."""
        self._trace = callback
        if self._conn is not None:
            self._conn.raw.set_trace_callback(callback)

    def _disconnect(self) -> None:
        if self._conn is not None:
            self._conn._connection.close()
            self._conn = None

    def close(self) -> None:
        if self._thread is not None:
            self._thread.submit(self._disconnect)
            self._thread.shutdown(wait=True)
            self._thread = None
        if self._sync is not None:
            self._sync.dispose()
