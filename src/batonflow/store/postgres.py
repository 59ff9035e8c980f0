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
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

T = TypeVar("T")
POOL_SIZE = 10
# A unique (or other integrity) constraint refused a statement that ran on asyncpg directly.
IntegrityError = asyncpg.IntegrityConstraintViolationError
DRIVER_TX = "batonflow_driver_transaction"  # the transaction was begun on asyncpg itself


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
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
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
