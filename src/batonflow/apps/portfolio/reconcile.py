"""Reconciliation: an account's positions at the ledger's head against a custodian statement.

A statement is a UTF-8 CSV with the header `symbol,quantity` and an optional third column
`currency`. Each row is what the custodian says the account holds of a symbol; a cash balance is
a row with the symbol `CASH` and its currency (one row per currency):

    symbol,quantity,currency
    AAPL,200,
    MSFT,150,
    CASH,1520.35,USD

Every symbol the ledger or the statement holds is compared (one missing on a side counts as 0
there); cash is compared for the currencies the statement lists. A break is a difference:
`{symbol, ledger, custodian, difference}` with difference = custodian - ledger, decimals as
strings, cash named `CASH:<currency>`. The reconciliation is recorded with the ledger commit
hash it compared against, so it can be repeated on the same ledger state.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from batonflow.apps.portfolio import ledger
from batonflow.apps.portfolio import tables as t
from batonflow.apps.portfolio.csv_import import RowError
from batonflow.apps.portfolio.ledger_rules import ZERO, check_currency, parse_decimal, replay, text
from batonflow.errors import InvalidInput, NotFound
from batonflow.ids import new_id
from batonflow.store.db import Conn

CASH = "CASH"


def read_statement(data: bytes) -> dict[str, Decimal]:
    """Quantities by symbol (cash as `CASH:<currency>`); `InvalidInput` listing every bad row
    (in `details["errors"]`: row, column, message)."""
    try:
        content = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("the statement is not UTF-8 text; save it as UTF-8") from None
    reader = csv.reader(io.StringIO(content, newline=""))
    header = [h.strip().lower() for h in next(reader, [])]
    if header not in (["symbol", "quantity"], ["symbol", "quantity", "currency"]):
        raise InvalidInput(
            "a statement's header is symbol,quantity or symbol,quantity,currency; got "
            f"{','.join(header) or 'nothing'}"
        )
    held: dict[str, Decimal] = {}
    errors: list[RowError] = []
    for values in reader:
        if not any(v.strip() for v in values):
            continue
        row = reader.line_num
        cells = [v.strip() for v in values] + [""] * (len(header) - len(values))
        if len(values) > len(header):
            errors.append(RowError(row, "", f"{len(values)} cells; the header has {len(header)}"))
            continue
        symbol, quantity, currency = (
            cells[0].upper(),
            cells[1],
            cells[2].upper() if len(cells) > 2 else "",
        )
        try:
            amount = parse_decimal(quantity)
        except ValueError as exc:
            errors.append(RowError(row, "quantity", str(exc)))
            continue
        if not symbol:
            errors.append(RowError(row, "symbol", "every row needs a symbol (or CASH)"))
            continue
        key = symbol
        if symbol == CASH:
            try:
                key = f"{CASH}:{check_currency(currency)}"
            except ValueError as exc:
                errors.append(RowError(row, "currency", f"a cash row needs its currency: {exc}"))
                continue
        if key in held:
            errors.append(RowError(row, "symbol", f"{key} is listed twice"))
            continue
        held[key] = amount
    if errors:
        raise InvalidInput(
            f"{len(errors)} problem(s) in the statement; nothing was recorded",
            details={"errors": [e.as_dict() for e in errors]},
        )
    return held


async def _account(conn: Conn, tenant_id: str, portfolio_id: str, name: str) -> dict[str, Any]:
    for account in await ledger.list_accounts(conn, tenant_id, portfolio_id):
        if name in (account["name"], account["id"]):
            return account
    raise NotFound(f"no account '{name}' in this portfolio")


async def reconcile(
    conn: Conn,
    tenant_id: str,
    portfolio_id: str,
    *,
    account: str,
    statement: dict[str, Decimal],
    statement_date: date,
    actor: str,
    now: datetime,
) -> dict[str, Any]:
    """Compare `account` (a name or id) with the statement at the ledger's head; the recorded
    reconciliation with its breaks."""
    found = await _account(conn, tenant_id, portfolio_id, account)
    commit_hash = await ledger.head(conn, tenant_id, portfolio_id)
    txns = [
        txn
        for txn in await ledger.history(conn, tenant_id, portfolio_id)
        if txn.account_id == found["id"]
    ]
    state = replay(txns)
    ours = {p.symbol: p.quantity for p in state.positions.values()}
    ours |= {
        f"{CASH}:{currency}": balance
        for currency, balance in state.cash.items()
        if f"{CASH}:{currency}" in statement
    }
    breaks = []
    for symbol in sorted(set(ours) | set(statement)):
        mine, theirs = ours.get(symbol, ZERO), statement.get(symbol, ZERO)
        if mine != theirs:
            breaks.append(
                {
                    "symbol": symbol,
                    "ledger": text(mine),
                    "custodian": text(theirs),
                    "difference": text(theirs - mine),
                }
            )
    row = {
        "id": new_id(),
        "tenant_id": tenant_id,
        "portfolio_id": portfolio_id,
        "account_id": found["id"],
        "statement_date": statement_date,
        "ledger_commit_hash": commit_hash,
        "breaks": breaks,
        "created_by": actor,
        "created_at": now,
    }
    await conn.execute(t.reconciliations.insert().values(row))
    return row | {"account": found["name"]}


async def list_reconciliations(
    conn: Conn, tenant_id: str, portfolio_id: str
) -> list[dict[str, Any]]:
    """The portfolio's reconciliations, newest first, each with its account's name."""
    await ledger.get_portfolio(conn, tenant_id, portfolio_id)
    r, a = t.reconciliations, t.accounts
    rows = await conn.execute(
        sa.select(r, a.c.name.label("account"))
        .join(a, sa.and_(a.c.id == r.c.account_id, a.c.tenant_id == r.c.tenant_id))
        .where(r.c.tenant_id == tenant_id, r.c.portfolio_id == portfolio_id)
        .order_by(r.c.created_at.desc(), r.c.id.desc())
    )
    return [dict(row._mapping) for row in rows]
