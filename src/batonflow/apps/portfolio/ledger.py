"""The ledger on the database: portfolios, their accounts, and transactions written in commits.

Each commit extends a hash chain (`ledger_rules.commit_hash`): its hash names the ledger's state
after it, and results computed on a ledger pin that hash. Positions and cash are never stored:
they are replayed from the transactions (`holdings`), at the head or at any past commit.

Writing commits is `ledger_commits`; this module reads the ledger and keeps its portfolios and
accounts.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from batonflow.apps.portfolio import tables as t
from batonflow.apps.portfolio.ledger_rules import (
    check_currency,
    check_symbol,
    replay,
)
from batonflow.apps.portfolio.model import Holdings, Txn
from batonflow.errors import Conflict, InvalidInput, NotFound
from batonflow.ids import new_id
from batonflow.store.db import Conn


def _not_found(portfolio_id: str) -> NotFound:
    return NotFound(f"no portfolio '{portfolio_id}'")


def _name(name: str, what: str) -> str:
    cleaned = name.strip()
    if not cleaned or len(cleaned) > 200:
        raise InvalidInput(f"a {what} name has 1 to 200 characters")
    return cleaned


def _currency(value: str) -> str:
    try:
        return check_currency(value)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None


def _benchmark(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return check_symbol(value)
    except ValueError as exc:
        raise InvalidInput(f"benchmark: {exc}") from None


async def create_portfolio(
    conn: Conn,
    tenant_id: str,
    *,
    name: str,
    base_currency: str,
    benchmark: str | None,
    actor: str,
    now: datetime,
) -> dict[str, Any]:
    cleaned = _name(name, "portfolio")
    row = {
        "id": new_id(),
        "tenant_id": tenant_id,
        "name": cleaned,
        "base_currency": _currency(base_currency),
        "benchmark": _benchmark(benchmark),
        "created_by": actor,
        "created_at": now,
        "updated_at": now,
    }
    await _unique_name(conn, tenant_id, cleaned)
    await conn.execute(t.portfolios.insert().values(row))
    return row


async def _unique_name(conn: Conn, tenant_id: str, name: str) -> None:
    taken = await conn.scalar(
        sa.select(t.portfolios.c.id).where(
            t.portfolios.c.tenant_id == tenant_id, t.portfolios.c.name == name
        )
    )
    if taken is not None:
        raise Conflict(f"a portfolio named '{name}' exists; pick another name")


async def list_portfolios(conn: Conn, tenant_id: str) -> list[dict[str, Any]]:
    rows = await conn.execute(
        sa.select(t.portfolios)
        .where(t.portfolios.c.tenant_id == tenant_id)
        .order_by(t.portfolios.c.name, t.portfolios.c.id)
    )
    return [dict(row._mapping) for row in rows]


async def get_portfolio(conn: Conn, tenant_id: str, portfolio_id: str) -> dict[str, Any]:
    row = (
        await conn.execute(
            sa.select(t.portfolios).where(
                t.portfolios.c.tenant_id == tenant_id, t.portfolios.c.id == portfolio_id
            )
        )
    ).first()
    if row is None:
        raise _not_found(portfolio_id)
    return dict(row._mapping)


async def find_portfolio(conn: Conn, tenant_id: str, name_or_id: str) -> dict[str, Any]:
    """A portfolio by its name or its id (the CLI takes either)."""
    row = (
        await conn.execute(
            sa.select(t.portfolios).where(
                t.portfolios.c.tenant_id == tenant_id,
                sa.or_(t.portfolios.c.name == name_or_id, t.portfolios.c.id == name_or_id),
            )
        )
    ).first()
    if row is None:
        raise NotFound(f"no portfolio named '{name_or_id}'")
    return dict(row._mapping)


async def update_portfolio(
    conn: Conn,
    tenant_id: str,
    portfolio_id: str,
    now: datetime,
    *,
    name: str | None = None,
    benchmark: str | None = None,
    clear_benchmark: bool = False,
) -> dict[str, Any]:
    """Rename a portfolio or change its benchmark (its base currency stays: the ledger's
    amounts were entered against it)."""
    found = await get_portfolio(conn, tenant_id, portfolio_id)
    changes: dict[str, Any] = {"updated_at": now}
    if name is not None and _name(name, "portfolio") != found["name"]:
        changes["name"] = _name(name, "portfolio")
        await _unique_name(conn, tenant_id, changes["name"])
    if benchmark is not None or clear_benchmark:
        changes["benchmark"] = _benchmark(benchmark)
    await conn.execute(
        t.portfolios.update()
        .where(t.portfolios.c.tenant_id == tenant_id, t.portfolios.c.id == portfolio_id)
        .values(changes)
    )
    return found | changes


async def delete_portfolio(conn: Conn, tenant_id: str, portfolio_id: str) -> None:
    """Delete a portfolio with its accounts, ledger and reconciliations."""
    await get_portfolio(conn, tenant_id, portfolio_id)
    for table in (t.transactions, t.commits, t.reconciliations, t.accounts):
        await conn.execute(
            table.delete().where(
                table.c.tenant_id == tenant_id, table.c.portfolio_id == portfolio_id
            )
        )
    await conn.execute(
        t.portfolios.delete().where(
            t.portfolios.c.tenant_id == tenant_id, t.portfolios.c.id == portfolio_id
        )
    )


async def create_account(
    conn: Conn,
    tenant_id: str,
    portfolio_id: str,
    *,
    name: str,
    custodian: str | None,
    now: datetime,
) -> dict[str, Any]:
    await get_portfolio(conn, tenant_id, portfolio_id)
    row = {
        "id": new_id(),
        "tenant_id": tenant_id,
        "portfolio_id": portfolio_id,
        "name": _name(name, "account"),
        "custodian": custodian or None,
        "created_at": now,
    }
    existing = await list_accounts(conn, tenant_id, portfolio_id)
    if any(a["name"] == row["name"] for a in existing):
        raise Conflict(f"the portfolio has an account named '{row['name']}' already")
    await conn.execute(t.accounts.insert().values(row))
    return row


async def list_accounts(conn: Conn, tenant_id: str, portfolio_id: str) -> list[dict[str, Any]]:
    rows = await conn.execute(
        sa.select(t.accounts)
        .where(t.accounts.c.tenant_id == tenant_id, t.accounts.c.portfolio_id == portfolio_id)
        .order_by(t.accounts.c.name)
    )
    return [dict(row._mapping) for row in rows]


def _txn(row: Any) -> Txn:
    return Txn(
        kind=row.kind,
        trade_date=row.trade_date,
        account_id=row.account_id,
        symbol=row.symbol,
        quantity=row.quantity,
        price=row.price,
        amount=row.amount,
        fee=row.fee,
        currency=row.currency,
        ratio=row.ratio,
    )


async def last_commit(conn: Conn, tenant_id: str, portfolio_id: str) -> dict[str, Any] | None:
    row = (
        await conn.execute(
            sa.select(t.commits)
            .where(t.commits.c.tenant_id == tenant_id, t.commits.c.portfolio_id == portfolio_id)
            .order_by(t.commits.c.seq.desc())
            .limit(1)
        )
    ).first()
    return None if row is None else dict(row._mapping)


async def head(conn: Conn, tenant_id: str, portfolio_id: str) -> str:
    """The hash of the portfolio's latest commit; "" while its ledger is empty."""
    await get_portfolio(conn, tenant_id, portfolio_id)
    last = await last_commit(conn, tenant_id, portfolio_id)
    return "" if last is None else str(last["hash"])


async def commit_at(conn: Conn, tenant_id: str, portfolio_id: str, commit_hash: str) -> int:
    """The seq of the portfolio's commit with this hash; 0 for "", the empty ledger's (as `head`
    names it before the first commit)."""
    if commit_hash == "":
        return 0
    seq = await conn.scalar(
        sa.select(t.commits.c.seq).where(
            t.commits.c.tenant_id == tenant_id,
            t.commits.c.portfolio_id == portfolio_id,
            t.commits.c.hash == commit_hash,
        )
    )
    if seq is None:
        raise NotFound(f"no commit '{commit_hash}' in portfolio '{portfolio_id}'")
    return int(seq)


async def list_commits(conn: Conn, tenant_id: str, portfolio_id: str) -> list[dict[str, Any]]:
    """The portfolio's commits, newest first."""
    await get_portfolio(conn, tenant_id, portfolio_id)
    rows = await conn.execute(
        sa.select(t.commits)
        .where(t.commits.c.tenant_id == tenant_id, t.commits.c.portfolio_id == portfolio_id)
        .order_by(t.commits.c.seq.desc())
    )
    return [dict(row._mapping) for row in rows]


async def ledger_upto(conn: Conn, tenant_id: str, portfolio_id: str, upto: int | None) -> list[Txn]:
    query = sa.select(t.transactions).where(
        t.transactions.c.tenant_id == tenant_id, t.transactions.c.portfolio_id == portfolio_id
    )
    if upto is not None:
        query = query.where(t.transactions.c.commit_seq <= upto)
    rows = await conn.execute(query.order_by(t.transactions.c.commit_seq, t.transactions.c.line))
    return [_txn(row) for row in rows]


async def history(
    conn: Conn, tenant_id: str, portfolio_id: str, *, commit_hash: str | None = None
) -> list[Txn]:
    """The ledger's transactions in ledger order (commit, line), up to the commit named by
    `commit_hash` (default: the head)."""
    await get_portfolio(conn, tenant_id, portfolio_id)
    upto = (
        None if commit_hash is None else await commit_at(conn, tenant_id, portfolio_id, commit_hash)
    )
    return await ledger_upto(conn, tenant_id, portfolio_id, upto)


async def holdings(
    conn: Conn, tenant_id: str, portfolio_id: str, *, commit_hash: str | None = None
) -> Holdings:
    """Positions (average cost) and cash replayed from the ledger up to `commit_hash` (default:
    the head), positions ordered by account and symbol."""
    found = await get_portfolio(conn, tenant_id, portfolio_id)
    if commit_hash is None:
        commit_hash = await head(conn, tenant_id, portfolio_id)
        txns = await ledger_upto(conn, tenant_id, portfolio_id, None)
    else:
        txns = await ledger_upto(
            conn,
            tenant_id,
            portfolio_id,
            await commit_at(conn, tenant_id, portfolio_id, commit_hash),
        )
    state = replay(txns)
    return Holdings(
        portfolio_id=portfolio_id,
        ledger_commit_hash=commit_hash,
        base_currency=found["base_currency"],
        positions=tuple(state.positions[key] for key in sorted(state.positions)),
        cash=dict(sorted(state.cash.items())),
    )


async def transactions_page(
    conn: Conn,
    tenant_id: str,
    portfolio_id: str,
    *,
    limit: int,
    after: tuple[int, int] | None = None,
    symbol: str | None = None,
    kind: str | None = None,
    since: date | None = None,
    until: date | None = None,
) -> list[dict[str, Any]]:
    """A page of the ledger in ledger order, after the (commit_seq, line) `after`."""
    await get_portfolio(conn, tenant_id, portfolio_id)
    c = t.transactions.c
    query = sa.select(t.transactions).where(
        c.tenant_id == tenant_id, c.portfolio_id == portfolio_id
    )
    if after is not None:
        query = query.where(sa.tuple_(c.commit_seq, c.line) > sa.tuple_(*after))
    if symbol:
        query = query.where(c.symbol == symbol)
    if kind:
        query = query.where(c.kind == kind)
    if since:
        query = query.where(c.trade_date >= since)
    if until:
        query = query.where(c.trade_date <= until)
    rows = await conn.execute(query.order_by(c.commit_seq, c.line).limit(limit))
    return [dict(row._mapping) for row in rows]
