"""`Batch`: writes of `Prepared` statements sent together, one round trip on PostgreSQL.

A checkpoint's writes (`store.run_tx.RunTx.flush`) go as batches; see `Batch` for what the
writes of one batch may and may not do.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from batonflow.store import postgres
from batonflow.store.db import Conn, Prepared


class Batch:
    """Writes of `Prepared` statements sent together: in a PostgreSQL transaction begun on
    asyncpg (`store.postgres.Transactions`) as one statement, one round trip for all of them
    (`store.postgres.batch`); elsewhere one after another, in the order added. The writes of a
    batch must not depend on each other: none may change or count a row another one inserts, since
    in one statement they all see the rows as they were before it. A guard (a version check) must
    change one row per row it is given; if it changes fewer, the writes after it write nothing."""

    def __init__(self) -> None:
        self._writes: list[tuple[Prepared, Sequence[Mapping[str, Any]], bool, bool]] = []

    def add(
        self,
        prepared: Prepared,
        rows: Sequence[Mapping[str, Any]],
        *,
        keyed: bool = False,
        guard: bool = False,
    ) -> int:
        """Add a write (of no rows, it writes nothing and counts 0); returns its place in what
        `send` returns. `keyed` as for `Prepared.run`."""
        self._writes.append((prepared, rows, keyed, guard))
        return len(self._writes) - 1

    async def send(self, conn: Conn) -> list[int]:
        """Run the writes; returns the number of rows each changed."""
        writes, self._writes = self._writes, []
        if isinstance(conn, AsyncConnection) and postgres.writes_directly(conn):
            sent = [self._arrays(conn, *write) for write in writes if write[1]]
            counts = iter(await postgres.batch(conn, sent) if sent else [])
            return [next(counts) if rows else 0 for _, rows, _, _ in writes]
        out: list[int] = []
        failed = False
        for prepared, rows, keyed, guard in writes:
            if failed or not rows:
                out.append(0)
                continue
            if guard and len(rows) > 1 and not conn.dialect.supports_sane_multi_rowcount:
                count = sum([await prepared.run(conn, [row], keyed=keyed) for row in rows])
            else:
                count = await prepared.run(conn, rows, keyed=keyed)
            out.append(count)
            failed = guard and count != len(rows)
        return out

    @staticmethod
    def _arrays(
        conn: AsyncConnection,
        prepared: Prepared,
        rows: Sequence[Mapping[str, Any]],
        keyed: bool,
        guard: bool,
    ) -> tuple[Callable[[int, str], str], list[list[Any]], int | None]:
        keys = tuple(rows[0]) if keyed else None
        compiled = prepared._compile(conn.dialect, keys)
        assert compiled is not None, "a batched write has no expanding parameters"
        memo: dict[Any, Any] = {}
        values = [compiled.params(row, memo) for row in rows]
        columns = [list(column) for column in zip(*values, strict=True)]
        return prepared.unnest(conn.dialect, keys), columns, len(rows) if guard else None
