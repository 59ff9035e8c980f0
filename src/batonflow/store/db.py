"""The database seam: engines, the `Conn` store functions are written against, and `Database`,
which every process's transactions go through.

A SQLite file by default, PostgreSQL when the URL says so; each dialect's settings and fast path
live in its own module (`store.sqlite`, `store.postgres`), and nothing outside `store/` touches a
driver. `Database.write(work)` runs `work` in a transaction and commits it, `Database.read(work)`
in a read-only one. On PostgreSQL each is begun and ended on asyncpg itself
(`store.postgres.Transactions`), so a transaction costs no round trips beyond its statements.
On SQLite the whole transaction runs in a dedicated database thread
(`store.sqlite.DatabaseThread`), one thread hop per transaction instead of one per statement. Store functions are written once, against `Conn`, and run unchanged
in both places. A unique constraint that loses a race leaves `Database` as `Conflict`, whichever
way the statement ran.

The statements of the hot paths are `Prepared`: compiled once per dialect, and run straight on
the driver's connection where that is safe (the SQLite database thread, a PostgreSQL
transaction of `Database`, a read-only one) with the bind and result processing the SQLAlchemy
types define, so a value is stored exactly as SQLAlchemy would store it; elsewhere they go
through SQLAlchemy as any statement does. A `store.batch.Batch` of prepared writes is one
statement on PostgreSQL (one round trip).
"""

from __future__ import annotations

import json
import operator
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import orjson
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Tracer
from sqlalchemy import DateTime, Dialect, TypeDecorator
from sqlalchemy.engine import URL, CursorResult, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

from batonflow.errors import ConfigError, Conflict
from batonflow.store import postgres, sqlite

READONLY = "batonflow_readonly"
T = TypeVar("T")
ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}
# A unique constraint lost a race with a concurrent transaction: through SQLAlchemy, or from a
# prepared statement the SQLite database thread ran on sqlite3 directly.
_LOST_RACES = (IntegrityError, sqlite.IntegrityError, postgres.IntegrityError)
LOST_RACE = "a concurrent change to the same object won; send the request again"


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
        return sqlite.create_engine(
            parsed,
            synchronous=sqlite_synchronous,
            readonly_option=READONLY,
            echo=echo,
            json_deserializer=json_loads,
        )
    return postgres.create_engine(parsed, echo=echo, json_deserializer=json_loads)


def json_loads(text: str | bytes) -> Any:
    """JSON columns as read: orjson, several times faster than the standard library, which
    still reads what orjson refuses (NaN, integers past 64 bits, lone surrogates)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


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


Processor = Callable[[Any], Any] | None


@dataclass(frozen=True, slots=True)
class _Bind:
    name: str
    default: Any
    process: Processor
    none: Any  # what `process` makes of None, worked out once
    memo: type | None  # a datetime type: equal values (a transaction's `now`) are processed once
    type: Any  # the SQLAlchemy type


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
    return _Bind(name, bind.value, process, process(None) if process else None, memo, bind.type)


class Prepared:
    """A statement of the hot path: compiled once per dialect (and per set of parameter keys,
    for an INSERT of whole rows). In the SQLite database thread it runs on the sqlite3 connection
    itself, which skips SQLAlchemy's per-execution work (cache key, execution context, result
    set-up): most of a checkpoint's time there. Statements with expanding parameters always go
    through SQLAlchemy."""

    def __init__(self, statement: Any) -> None:
        self.statement = statement
        self._compiled: dict[tuple[str, tuple[str, ...] | None], _Compiled | None] = {}
        self._unnest: dict[tuple[str, ...] | None, Callable[[int, str], str]] = {}

    def unnest(self, dialect: Dialect, keys: tuple[str, ...] | None) -> Callable[[int, str], str]:
        """This INSERT or UPDATE (every condition `column = :name`) as one PostgreSQL statement
        over arrays, one per parameter in the compiled order (`postgres.unnest_write`)."""
        sql = self._unnest.get(keys)
        if sql is None:
            compiled = self._compile(dialect, keys)
            assert compiled is not None
            statement = self.statement
            where = []
            clause = getattr(statement, "whereclause", None)  # an INSERT has none
            if clause is not None:
                for term in getattr(clause, "clauses", [clause]):
                    where.append((term.left.name, term.right.key))
            types = [dialect.type_compiler_instance.process(bind.type) for bind in compiled.binds]
            names = [bind.name for bind in compiled.binds]
            sql = self._unnest[keys] = postgres.unnest_write(
                statement.table.name, names, types, where
            )
        return sql

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
        if isinstance(conn, sqlite.ThreadConnection):
            compiled = self._compile(conn.dialect, tuple(rows[0]) if keyed else None)
            if compiled is not None:
                memo = conn.memo
                return conn.run(compiled.sql, [compiled.params(row, memo) for row in rows])
        elif isinstance(conn, AsyncConnection) and postgres.writes_directly(conn):
            compiled = self._compile(conn.dialect, tuple(rows[0]) if keyed else None)
            if compiled is not None:
                fresh: dict[Any, Any] = {}
                params = [compiled.params(row, fresh) for row in rows]
                return await postgres.run(conn, compiled.sql, params)
        result = await conn.execute(self.statement, rows[0] if len(rows) == 1 else list(rows))
        return result.rowcount

    async def fetch(self, conn: Conn, params: Mapping[str, Any] | None = None) -> list[Any]:
        """The rows of a SELECT, as tuples in column order. In the database thread it runs on
        the sqlite3 connection; in a PostgreSQL transaction of `Database`, or a read-only one
        (`reading`), on the asyncpg connection itself (see `store.postgres`)."""
        if isinstance(conn, sqlite.ThreadConnection):
            compiled = self._compile(conn.dialect, None)
            if compiled is not None:
                rows = conn.fetch(compiled.sql, compiled.params(params or {}, conn.memo))
                return compiled.rows(rows)
        elif isinstance(conn, AsyncConnection) and postgres.direct(conn, READONLY):
            compiled = self._compile(conn.dialect, None)
            if compiled is not None:
                values = compiled.params(params or {}, {})
                return compiled.rows(await postgres.fetch(conn, compiled.sql, values))
        return list(await conn.execute(self.statement, params))


@dataclass(frozen=True, slots=True)
class Hooks:
    """How a process observes a `Database`, handed in when it is built (`batonflow.platform`).

    `tracer`: a span for each write transaction made inside a sampled trace (the statements of
    the fast paths bypass SQLAlchemy's events, where the engine's spans come from).

    `idle`: called on the event loop as a write transaction of the SQLite database thread
    commits, while the loop would only wait for the disk: work that may wait a little (the
    attempts' log lines) is done then, off the path between one step and the next."""

    tracer: Tracer | None = None
    idle: Callable[[], None] | None = None


NO_HOOKS = Hooks()


class Database:
    """Runs transactions (see the module docstring)."""

    def __init__(
        self, engine: AsyncEngine, *, sqlite_synchronous: str = "FULL", hooks: Hooks = NO_HOOKS
    ) -> None:
        self.engine = engine
        self._tracer = hooks.tracer
        self._idle = hooks.idle
        self._thread: sqlite.DatabaseThread | None = None
        self._pg: postgres.Transactions | None = None
        if is_sqlite(engine):
            self._thread = sqlite.DatabaseThread(
                engine.url,
                sqlite_synchronous,
                readonly_option=READONLY,
                json_deserializer=json_loads,
            )
        elif engine.dialect.driver == "asyncpg":
            self._pg = postgres.Transactions(engine, readonly_option=READONLY)

    @property
    def threaded(self) -> bool:
        """True when transactions run in the SQLite database thread."""
        return self._thread is not None

    async def write(self, work: Callable[[Conn], Awaitable[T]]) -> T:
        """Run `work` in a write transaction and commit it; a lost unique race is `Conflict`."""
        try:
            if self._thread is None and self._pg is None:
                async with self.engine.begin() as conn:
                    return await work(conn)
            tracer = self._tracer
            if (
                tracer is not None
                and trace.get_current_span().get_span_context().trace_flags.sampled
            ):
                attributes = {
                    "db.system.name": self.engine.dialect.name,
                    "db.operation.name": "TRANSACTION",
                }
                with tracer.start_as_current_span(
                    "TRANSACTION", kind=SpanKind.CLIENT, attributes=attributes
                ):
                    return await self._fast(work)
            return await self._fast(work)
        except _LOST_RACES as exc:
            raise Conflict(LOST_RACE) from exc

    async def _fast(self, work: Callable[[Conn], Awaitable[T]]) -> T:
        if self._pg is not None:
            return await self._pg.run(work, readonly=False)
        assert self._thread is not None
        return await self._thread.run(work, readonly=False, committing=self._idle)

    async def read(self, work: Callable[[Conn], Awaitable[T]]) -> T:
        """Run `work` in a read-only transaction."""
        if self._pg is not None:
            return await self._pg.run(work, readonly=True)
        if self._thread is None:
            async with reading(self.engine) as conn:
                return await work(conn)
        return await self._thread.run(work, readonly=True)

    def trace(self, callback: Callable[[str], None] | None) -> None:
        """Have every statement of the SQLite database thread passed to `callback` (for
        profiling; None stops it). Statements through the async engine are seen by its own
        events."""
        if self._thread is not None:
            self._thread.trace(callback)

    def close(self) -> None:
        if self._thread is not None:
            self._thread.close()
