"""Writing the ledger: transactions checked (each on its own, then replayed after the ledger so
a sell of more than held is refused) and written as the portfolio's next commit, which extends
the hash chain.

Two commits to one portfolio at the same moment both read the same head and try the same `seq`;
the primary key on (portfolio_id, seq) makes the later one fail and `Database.write` turns that
into `Conflict`. `retrying` runs the write again in a fresh transaction, which sees the new head.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from batonflow.apps.portfolio import ledger
from batonflow.apps.portfolio import tables as t
from batonflow.apps.portfolio.ledger_rules import NewTxn, Problem, commit_hash, replay, validate
from batonflow.apps.portfolio.model import Txn
from batonflow.errors import Conflict, InvalidInput
from batonflow.ids import new_id
from batonflow.store.db import LOST_RACE, Conn

T = TypeVar("T")
Write = Callable[[Callable[[Conn], Awaitable[T]]], Awaitable[T]]
ATTEMPTS = 10
PAUSE = 0.01  # seconds, times the attempt: the most a retry waits


async def prepare(
    conn: Conn,
    tenant_id: str,
    portfolio: dict[str, Any],
    txns: Sequence[NewTxn],
    *,
    doubtful: frozenset[str] = frozenset(),
) -> tuple[list[Txn], list[tuple[int, Problem]]]:
    """The transactions to commit, checked one by one and then replayed after the ledger (a
    sell of more than held is refused); every problem with the index of its transaction. The
    replay runs even when some transactions are bad, except for the symbols a bad transaction
    (or the caller's `doubtful`) names: what is held of those is unknown."""
    accounts = {a["id"] for a in await ledger.list_accounts(conn, tenant_id, portfolio["id"])}
    problems: list[tuple[int, Problem]] = []
    checked: list[Txn] = []
    places: list[int] = []
    unsure = set(doubtful)
    for index, new in enumerate(txns):
        txn, found = validate(new, portfolio["base_currency"])
        if new.account_id not in accounts:
            found.insert(0, Problem("account", f"no account '{new.account_id}' in this portfolio"))
        problems.extend((index, p) for p in found)
        if txn is not None and not found:
            checked.append(txn)
            places.append(index)
        elif new.symbol:
            unsure.add(new.symbol)
    before = await ledger.ledger_upto(conn, tenant_id, portfolio["id"], None)
    for oversold in replay(before + checked).oversold:
        if oversold.symbol in unsure:
            continue
        at = places[max(oversold.index - len(before), 0)] if places else 0
        problems.append((at, Problem(oversold.field, oversold.message)))
    problems.sort(key=lambda found: found[0])
    return ([] if problems else checked), problems


async def commit(
    conn: Conn,
    tenant_id: str,
    portfolio_id: str,
    txns: list[NewTxn],
    *,
    source: str,
    actor: str,
    now: datetime,
) -> dict[str, Any]:
    """Write `txns` as the portfolio's next commit; the commit row (seq, hash, count). Bad
    transactions are `InvalidInput` with every problem in `details["problems"]`."""
    portfolio = await ledger.get_portfolio(conn, tenant_id, portfolio_id)
    if not txns:
        raise InvalidInput("a commit needs at least one transaction")
    checked, problems = await prepare(conn, tenant_id, portfolio, txns)
    if problems:
        raise InvalidInput(
            f"{len(problems)} problem(s) with the transactions; nothing was committed",
            details={
                "problems": [
                    {"line": i + 1, "field": p.field, "message": p.message} for i, p in problems
                ]
            },
        )
    return await write_commit(
        conn, tenant_id, portfolio_id, checked, [n.note for n in txns], source, actor, now
    )


async def write_commit(
    conn: Conn,
    tenant_id: str,
    portfolio_id: str,
    checked: list[Txn],
    notes: Sequence[str],
    source: str,
    actor: str,
    now: datetime,
) -> dict[str, Any]:
    """Write transactions `prepare` accepted as the next commit."""
    last = await ledger.last_commit(conn, tenant_id, portfolio_id)
    parent = "" if last is None else str(last["hash"])
    row = {
        "portfolio_id": portfolio_id,
        "seq": 1 if last is None else int(last["seq"]) + 1,
        "tenant_id": tenant_id,
        "parent_hash": parent,
        "hash": commit_hash(parent, checked),
        "count": len(checked),
        "source": source[:200],
        "created_by": actor,
        "created_at": now,
    }
    await conn.execute(t.commits.insert().values(row))
    await conn.execute(
        t.transactions.insert(),
        [
            {
                "id": new_id(),
                "tenant_id": tenant_id,
                "portfolio_id": portfolio_id,
                "account_id": txn.account_id,
                "commit_seq": row["seq"],
                "line": line,
                "kind": txn.kind,
                "trade_date": txn.trade_date,
                "symbol": txn.symbol,
                "quantity": txn.quantity,
                "price": txn.price,
                "amount": txn.amount,
                "fee": txn.fee,
                "currency": txn.currency,
                "ratio": txn.ratio,
                "note": note[:500],
                "created_at": now,
            }
            for line, (txn, note) in enumerate(zip(checked, notes, strict=True), 1)
        ],
    )
    return row


async def retrying(write: Write[T], work: Callable[[Conn], Awaitable[T]]) -> T:
    """`write(work)`, again in a fresh transaction when a concurrent commit (or account) won
    the race for the same row, after a short random pause (so racers spread out); `Conflict`
    saying so once it kept losing."""
    for attempt in range(ATTEMPTS):
        try:
            return await write(work)
        except Conflict as exc:
            if exc.message != LOST_RACE:
                raise
        await asyncio.sleep(random.uniform(0, PAUSE * (attempt + 1)))  # nosec B311: a retry's jitter, not a secret
    raise Conflict(
        f"other commits to this portfolio were written at the same moment {ATTEMPTS} times in "
        "a row; send the transactions again"
    )
