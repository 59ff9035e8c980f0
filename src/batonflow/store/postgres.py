"""PostgreSQL: the engine (asyncpg, a small pool) and the fast path of `store.db.Database`.

Through SQLAlchemy, a transaction costs round trips of its own before its statements: the pool's
pre-ping at check-out (BEGIN, an empty query and ROLLBACK, so that it also works behind a
transaction-mode pooler) and a BEGIN before the first statement; and each statement costs about
0.25 ms of SQLAlchemy's per-execution work. `Transactions` runs each of `Database`'s transactions
on the asyncpg connection itself instead: BEGIN there, the work, then COMMIT (ROLLBACK for a read).
Statements that go through SQLAlchemy join that transaction: the connection is checked out in
autocommit mode, so SQLAlchemy begins and ends nothing of its own. `Prepared` statements run
straight on asyncpg (`run`, `fetch`), with SQLAlchemy's bind and result processing, as prepared
statements asyncpg keeps per connection. A checkpoint is then BEGIN, its statements and COMMIT,
nothing else.

The BEGIN is also the liveness check the pre-ping was: nothing has run when it fails, so a
connection the server dropped (a restart, an idle timeout) is thrown away and the transaction
begins again on another one. Isolation is the server's default (READ COMMITTED) either way, and a
transaction is committed before `Database.write` returns.

A read-only transaction that `store.db.reading` opens through SQLAlchemy also runs prepared
SELECTs on asyncpg directly; each statement there is its own snapshot either way, under READ
COMMITTED. Nothing outside `store/` sees asyncpg.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import asyncpg
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

T = TypeVar("T")
POOL_SIZE = 10
# A unique (or other integrity) constraint refused a statement that ran on asyncpg directly.
IntegrityError = asyncpg.IntegrityConstraintViolationError
DRIVER_TX = "batonflow_driver_transaction"  # the transaction was begun on asyncpg itself
_QUOTE = asyncpg_dialect().identifier_preparer  # type: ignore[no-untyped-call]


def create_engine(
    url: URL, *, echo: bool, json_deserializer: Callable[[str | bytes], Any]
) -> AsyncEngine:
    """The engine. No pre-ping at check-out: `Transactions` checks a connection with the BEGIN
    it needs anyway; a one-off user of the engine (migrations, tests) that meets a dead pooled
    connection gets an error, and SQLAlchemy then drops the pool's connections."""
    return create_async_engine(
        url,
        echo=echo,
        pool_size=POOL_SIZE,
        max_overflow=20,
        json_deserializer=json_deserializer,
    )


def _driver(conn: AsyncConnection) -> Any:
    assert conn.sync_connection is not None
    return conn.sync_connection.connection.driver_connection


def direct(conn: AsyncConnection, readonly_option: str) -> bool:
    """Whether prepared statements may run on the asyncpg connection under `conn`: it is in a
    transaction begun there (`Transactions`), or in a read-only one (`store.db.reading`, where
    only SELECTs are run)."""
    sync = conn.sync_connection
    if sync is None or sync.dialect.driver != "asyncpg":
        return False
    options = sync.get_execution_options()
    return bool(options.get(DRIVER_TX, False) or options.get(readonly_option, False))


def writes_directly(conn: AsyncConnection) -> bool:
    """Whether `conn` is in a transaction begun on asyncpg, where writes may skip SQLAlchemy."""
    sync = conn.sync_connection
    return sync is not None and bool(sync.get_execution_options().get(DRIVER_TX, False))


async def fetch(conn: AsyncConnection, sql: str, params: Sequence[Any]) -> list[Any]:
    """The rows of compiled SQL, run on the asyncpg connection under `conn`."""
    rows: list[Any] = await _driver(conn).fetch(sql, *params)
    return rows


async def run(conn: AsyncConnection, sql: str, rows: Sequence[Sequence[Any]]) -> int:
    """Execute compiled SQL on the asyncpg connection under `conn` once per row of parameters,
    the rows in one round trip; returns the number of rows changed by a single row (the
    server's count), and -1 for several (asyncpg reports no count, as through SQLAlchemy)."""
    driver = _driver(conn)
    if len(rows) == 1:
        status: str = await driver.execute(sql, *rows[0])
        return int(status.rsplit(" ", 1)[1])
    await driver.executemany(sql, rows)
    return -1


class Transactions:
    """Transactions begun and ended on asyncpg (see the module docstring)."""

    def __init__(self, engine: AsyncEngine, *, readonly_option: str) -> None:
        self._writes = engine.execution_options(isolation_level="AUTOCOMMIT", **{DRIVER_TX: True})
        self._reads = self._writes.execution_options(**{readonly_option: True})

    async def run(self, work: Callable[[AsyncConnection], Awaitable[T]], *, readonly: bool) -> T:
        """Run `work` in a transaction; commit it (roll back a read) before returning. A
        connection goes back to the pool only with its transaction ended; one whose end is
        unknown (a failed COMMIT or ROLLBACK, a cancelled task) is closed instead."""
        conn, driver = await self._begin(self._reads if readonly else self._writes)
        ended = False
        try:
            try:
                result = await work(conn)
            except Exception:
                with contextlib.suppress(Exception):
                    await driver.execute("ROLLBACK")
                    ended = True
                raise
            if readonly:
                await driver.execute("ROLLBACK")
            elif await driver.execute("COMMIT") != "COMMIT":
                ended = True  # the server rolled back a transaction a failed statement ended
                raise RuntimeError("the transaction was rolled back: one of its statements failed")
            ended = True
            return result
        finally:
            # Shielded, as SQLAlchemy's own context managers close: a second cancellation
            # must not leave the connection checked out.
            await asyncio.shield(_release(conn, keep=ended and not driver.is_in_transaction()))

    async def _begin(self, engine: AsyncEngine) -> tuple[AsyncConnection, Any]:
        """A pooled connection with a transaction begun on it. A pooled connection whose BEGIN
        fails is thrown away and another is tried; after as many as the pool keeps, the one
        just opened fails for a reason of its own, which is raised."""
        for tries in range(POOL_SIZE + 1):
            conn = await engine.connect().start()
            driver = _driver(conn)
            try:
                await driver.execute("BEGIN")
            except Exception:  # a dead connection fails BEGIN in many ways (a reset socket,
                # an error the server sent as it ended the session, a protocol left mid-message)
                await asyncio.shield(_release(conn, keep=False))
                if tries == POOL_SIZE:
                    raise
                continue
            except BaseException:  # cancelled: the BEGIN may be half sent
                await asyncio.shield(_release(conn, keep=False))
                raise
            return conn, driver
        raise AssertionError("unreachable")


async def _release(conn: AsyncConnection, *, keep: bool) -> None:
    """Give a connection back to the pool, or, unless `keep`, close it for good."""
    if not keep:
        await conn.invalidate()
    await conn.close()


def unnest_write(
    table: str, names: Sequence[str], types: Sequence[str], where: Sequence[tuple[str, str]]
) -> Callable[[int, str], str]:
    """A write of many rows as one statement that takes each column as an array, for `batch`:
    an INSERT of the columns `names` (when `where` is empty), or an UPDATE that sets the columns
    `names` that `where` does not name, on the rows whose column equals the named value for
    every (column, name) pair of `where`. The result makes the SQL with its parameters numbered
    from the given one, writing only if the given condition (SQL, or "") holds; the statement
    returns one row per row written. Table and column names come from the tables' metadata."""
    quote = _QUOTE.quote
    value_names = [f"v{index}" for index in range(len(names))]
    keyed = dict(zip(names, value_names, strict=True))
    bound = {bind for _, bind in where}
    sets = ", ".join(f"{quote(n)} = v.{keyed[n]}" for n in names if n not in bound)
    match = " AND ".join(f"t.{quote(column)} = v.{keyed[bind]}" for column, bind in where)
    columns = ", ".join(quote(name) for name in names)

    # Names are quoted identifiers from the tables' metadata; every value is a parameter.
    def sql(first: int, only_if: str) -> str:
        arrays = ", ".join(f"${first + i}::{kind}[]" for i, kind in enumerate(types))
        values = f"unnest({arrays}) AS v({', '.join(value_names)})"
        if not where:
            condition = f" WHERE {only_if}" if only_if else ""
            return f"INSERT INTO {quote(table)} ({columns}) SELECT * FROM {values}{condition} RETURNING 1"  # noqa: S608  # nosec B608
        condition = f" AND {only_if}" if only_if else ""
        return f"UPDATE {quote(table)} AS t SET {sets} FROM {values} WHERE {match}{condition} RETURNING 1"  # noqa: S608  # nosec B608

    return sql


async def batch(
    conn: AsyncConnection,
    writes: Sequence[tuple[Callable[[int, str], str], list[list[Any]], int | None]],
) -> list[int]:
    """Several writes (from `unnest_write`, each with its columns' values as lists, and for a
    guard the rows it must write) in one statement, so in one round trip; returns the rows each
    wrote. Each is a data-modifying WITH clause: all run on the same snapshot, none sees the
    rows another writes (so the writes of one batch must not depend on each other; a foreign key
    to a row another inserts is fine, constraints are checked at the end of the statement), and
    the writes after a guard write only if it wrote as many rows as it must."""
    parts: list[str] = []
    params: list[list[Any]] = []
    guards: list[str] = []  # the clause names and row counts are integers made here
    for index, (sql, columns, must) in enumerate(writes):
        parts.append(f"w{index} AS ({sql(len(params) + 1, ' AND '.join(guards))})")
        params.extend(columns)
        if must is not None:
            guards.append(f"(SELECT count(*) FROM w{index}) = {int(must)}")  # noqa: S608  # nosec B608
    counts = ", ".join(f"(SELECT count(*) FROM w{i})" for i in range(len(writes)))  # noqa: S608  # nosec B608
    row = await _driver(conn).fetchrow(f"WITH {', '.join(parts)} SELECT {counts}", *params)
    return [int(count) for count in row]
