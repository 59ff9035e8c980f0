"""SQLite: the engine's settings and the database thread, the fast path of `store.db.Database`.

The engine runs in WAL mode with every write transaction opened as `BEGIN IMMEDIATE`, so a
transaction that reads and then writes never loses a race to another writer; `synchronous`
defaults to FULL (each commit reaches the disk).

Each statement through the async driver costs a thread hop and about half a millisecond here, so
a checkpoint (eight statements) would spend most of its time hopping; instead a `DatabaseThread`
runs the whole transaction in one dedicated thread on a plain sqlite3 connection: one hop per
transaction. Its `ThreadConnection` gives store functions the `Conn` they are written against,
and runs `Prepared` statements straight on the sqlite3 connection.

Nothing outside `store/` sees sqlite3: `IntegrityError` is what a prepared statement raises when a
unique constraint loses a race, and `store.db.Database` turns it into `Conflict`.
"""

from __future__ import annotations

import asyncio
import ctypes
import sqlite3
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy
from sqlalchemy import Dialect, event
from sqlalchemy.engine import URL, Connection, CursorResult
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

from batonflow.errors import ConfigError

T = TypeVar("T")
IntegrityError = sqlite3.IntegrityError
SYNCHRONOUS = ("FULL", "NORMAL", "EXTRA")


def create_engine(
    url: URL,
    *,
    synchronous: str,
    readonly_option: str,
    echo: bool,
    json_deserializer: Callable[[str | bytes], Any],
) -> AsyncEngine:
    """The async engine on a SQLite file (its folder made if missing); a connection given the
    execution option `readonly_option` begins its transactions without the write lock."""
    if synchronous.upper() not in SYNCHRONOUS:
        raise ConfigError("BATONFLOW_SQLITE_SYNCHRONOUS must be FULL, NORMAL or EXTRA")
    if url.database and url.database != ":memory:":
        Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(
        url, echo=echo, connect_args={"timeout": 30}, json_deserializer=json_deserializer
    )
    configure(engine.sync_engine, synchronous, readonly_option=readonly_option)
    return engine


def configure(sync_engine: sqlalchemy.Engine, synchronous: str, *, readonly_option: str) -> None:
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
        load_vectors(dbapi_connection)

    @event.listens_for(sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        if getattr(connection.connection.dbapi_connection, "in_transaction", False):
            return  # the database thread began it on the sqlite3 connection
        readonly = connection.get_execution_options().get(readonly_option, False)
        connection.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")


def load_vectors(dbapi_connection: Any) -> None:
    """Load sqlite-vec (the knowledge bases' vector tables) into a new connection: a sqlite3
    connection, or the async driver's adapted one.

    Why ctypes: a Python built without loadable-extension support (pyenv's default, and this
    project's machines) has no `enable_load_extension` on its connections. SQLite's own C API
    does the same on the connection's handle: `pysqlite_Connection.db`, the first field after
    the object header in every CPython since 3.7, called through the SQLite library that the
    `_sqlite3` module is linked with (so the very library that owns the handle).
    """
    raw = getattr(dbapi_connection, "driver_connection", None)
    conn = dbapi_connection if raw is None else raw._conn  # aiosqlite: its sqlite3 connection
    error = ctypes.c_char_p()
    try:
        import sqlite_vec  # type: ignore[import-untyped]

        path = str(sqlite_vec.loadable_path())
        if hasattr(conn, "enable_load_extension"):
            conn.enable_load_extension(True)
            conn.load_extension(path)
            conn.enable_load_extension(False)
            return
        import _sqlite3

        lib = ctypes.CDLL(_sqlite3.__file__)
        header = ctypes.sizeof(ctypes.c_ssize_t) + ctypes.sizeof(ctypes.c_void_p)
        handle = ctypes.c_void_p(ctypes.c_void_p.from_address(id(conn) + header).value)
        enable = 1005  # SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION
        lib.sqlite3_db_config(handle, enable, 1, None)
        code = lib.sqlite3_load_extension(handle, path.encode(), None, ctypes.byref(error))
        lib.sqlite3_db_config(handle, enable, 0, None)
    except (ImportError, OSError, AttributeError, sqlite3.Error) as exc:
        raise ConfigError(f"cannot load sqlite-vec (the knowledge bases' vectors): {exc}") from exc
    if code != 0:
        message = error.value.decode(errors="replace") if error.value else f"code {code}"
        lib.sqlite3_free(error)
        raise ConfigError(f"SQLite could not load sqlite-vec from {path}: {message}")


class ThreadConnection:
    """A plain connection inside the database thread. Its methods are coroutines that never
    suspend, so a transaction written as a coroutine runs to its end in one pass."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self._raw: sqlite3.Connection = connection.connection.dbapi_connection  # type: ignore[assignment]
        self.memo: dict[Any, Any] = {}  # processed datetimes, for one transaction

    @property
    def dialect(self) -> Dialect:
        return self.connection.dialect

    async def execute(self, statement: Any, parameters: Any = None) -> CursorResult[Any]:
        return self.connection.execute(statement, parameters)

    async def scalar(self, statement: Any, parameters: Any = None) -> Any:
        return self.connection.scalar(statement, parameters)

    def run(self, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        """Execute compiled SQL on the sqlite3 connection once per row of parameters; returns
        the number of rows changed."""
        if len(rows) == 1:
            return self._raw.execute(sql, rows[0]).rowcount
        return self._raw.executemany(sql, rows).rowcount

    def fetch(self, sql: str, params: Sequence[Any]) -> list[Any]:
        """The rows of compiled SQL, run on the sqlite3 connection."""
        return self._raw.execute(sql, params).fetchall()

    def begin(self, readonly: bool) -> None:
        self.memo.clear()
        self._raw.execute("BEGIN" if readonly else "BEGIN IMMEDIATE")

    def rollback(self) -> None:
        if self.connection.in_transaction():
            self.connection.rollback()
        if self._raw.in_transaction:
            self._raw.rollback()

    def commit(self) -> None:
        if self.connection.in_transaction():
            self.connection.commit()
        if self._raw.in_transaction:
            self._raw.commit()

    def trace(self, callback: Callable[[str], None] | None) -> None:
        self._raw.set_trace_callback(callback)


def run_to_end(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never suspends; a real suspension is a programming error."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    coroutine.close()
    raise RuntimeError("a transaction in the database thread tried to wait on the event loop")


class DatabaseThread:
    """One thread and its one sqlite3 connection, running whole transactions in turn."""

    def __init__(
        self,
        url: URL,
        synchronous: str,
        *,
        readonly_option: str,
        json_deserializer: Callable[[str | bytes], Any],
    ) -> None:
        self._sync = sqlalchemy.create_engine(
            url.set(drivername="sqlite"),
            poolclass=StaticPool,
            connect_args={"timeout": 30, "check_same_thread": False},
            json_deserializer=json_deserializer,  # JSON columns read as the async engine reads them
        )
        configure(self._sync, synchronous, readonly_option=readonly_option)
        self._executor: ThreadPoolExecutor | None = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="batonflow-db"
        )
        self._conn: ThreadConnection | None = None
        self._trace: Callable[[str], None] | None = None

    async def run(
        self,
        work: Callable[[ThreadConnection], Awaitable[T]],
        *,
        readonly: bool,
        committing: Callable[[], None] | None = None,
    ) -> T:
        """Run `work` as one transaction in the thread. `committing` is called on the event
        loop as the transaction commits (while the thread waits for the disk)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor,
            self._transaction,
            work,
            readonly,
            None if committing is None else (committing, loop),
        )

    def _transaction(
        self,
        work: Callable[[ThreadConnection], Awaitable[T]],
        readonly: bool,
        committing: tuple[Callable[[], None], asyncio.AbstractEventLoop] | None,
    ) -> T:
        """One transaction on the thread's one connection (opened on first use and kept: a pool
        check-out and reset per transaction cost as much as a statement). It is begun and ended
        on the sqlite3 connection itself; a statement that goes through SQLAlchemy joins it
        (see `configure`)."""
        conn = self._conn
        if conn is None:
            conn = self._conn = ThreadConnection(self._sync.connect())
            if self._trace is not None:
                conn.trace(self._trace)
        conn.begin(readonly)
        try:
            result: T = run_to_end(work(conn))  # type: ignore[arg-type]
        except BaseException:
            conn.rollback()
            raise
        if committing is not None:
            callback, loop = committing
            loop.call_soon_threadsafe(callback)
        conn.commit()
        return result

    def trace(self, callback: Callable[[str], None] | None) -> None:
        """Have every statement of the thread passed to `callback` (None stops it)."""
        self._trace = callback
        if self._conn is not None:
            self._conn.trace(callback)

    def _disconnect(self) -> None:
        if self._conn is not None:
            self._conn.connection.close()
            self._conn = None

    def close(self) -> None:
        if self._executor is not None:
            self._executor.submit(self._disconnect)
            self._executor.shutdown(wait=True)
            self._executor = None
        self._sync.dispose()
