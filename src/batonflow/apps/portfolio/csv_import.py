"""Importing a ledger CSV as one commit, all or nothing.

The file is UTF-8 with a header row naming its columns, any of

    date,kind,account,symbol,quantity,price,amount,fee,currency,ratio,note

in any order (`date`, `kind` and `account` are required; a column not in this list is refused
by name). `date` is YYYY-MM-DD; numbers are plain decimals (1234.5; no exponents, no thousands
separators); an empty cell is "not given": an amount is then worked out, a fee is 0, the
currency is the portfolio's. An account is named; one the portfolio lacks is created with the
commit. Signs follow `model`: a withdrawal's or a fee's amount is negative.

Every row is checked and the report names each bad cell by row (the file's line number, the
header being row 1), column and message. If any row is bad nothing is written; a dry run checks
and writes nothing either.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from batonflow import csvfile
from batonflow.apps.portfolio import ledger, ledger_commits
from batonflow.apps.portfolio.ledger_rules import NewTxn, parse_decimal
from batonflow.csvfile import Row
from batonflow.errors import InvalidInput
from batonflow.store.db import Conn

COLUMNS = (
    "date",
    "kind",
    "account",
    "symbol",
    "quantity",
    "price",
    "amount",
    "fee",
    "currency",
    "ratio",
    "note",
)
REQUIRED = ("date", "kind", "account")
NUMBERS = ("quantity", "price", "amount", "fee", "ratio")
MAX_ROWS = 100_000
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True, slots=True)
class RowError:
    row: int
    column: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "message": self.message}


@dataclass
class Report:
    """What an import found and did: `commit` is None when nothing was written."""

    rows: int = 0
    errors: list[RowError] = field(default_factory=list)
    accounts_created: list[str] = field(default_factory=list)
    dry_run: bool = False
    commit: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        commit = self.commit
        return {
            "rows": self.rows,
            "errors": [e.as_dict() for e in self.errors],
            "accounts_created": self.accounts_created,
            "dry_run": self.dry_run,
            "commit": None
            if commit is None
            else {"seq": commit["seq"], "hash": commit["hash"], "count": commit["count"]},
        }


class ImportRefused(InvalidInput):
    """A CSV with bad rows; `details` is the whole report."""

    def __init__(self, report: Report) -> None:
        super().__init__(
            f"{len(report.errors)} problem(s) in {len({e.row for e in report.errors})} row(s); "
            "nothing was imported",
            details=report.as_dict(),
        )
        self.report = report


class _DryRun(Exception):
    """Rolls a dry run's transaction back (the accounts it created go with it)."""

    def __init__(self, report: Report) -> None:
        self.report = report


def read_rows(data: bytes) -> list[Row]:
    """The file's rows as cells by column; `InvalidInput` when the file itself is unusable."""
    return csvfile.read_rows(data, COLUMNS, REQUIRED, MAX_ROWS)


def parse_row(row: Row, accounts: dict[str, str]) -> tuple[NewTxn | None, list[RowError]]:
    """The transaction a row gives (accounts by name to id), or its errors."""
    if "" in row.cells:
        return None, [RowError(row.number, "", row.cells[""])]
    cells = row.cells
    errors: list[RowError] = []
    numbers: dict[str, Any] = {}
    for column in NUMBERS:
        given = cells.get(column, "")
        try:
            numbers[column] = parse_decimal(given) if given else None
        except ValueError as exc:
            errors.append(RowError(row.number, column, str(exc)))
    day: date | None = None
    given_date = cells.get("date", "")
    try:
        if not _DATE.fullmatch(given_date):
            raise ValueError
        day = date.fromisoformat(given_date)
    except ValueError:
        errors.append(RowError(row.number, "date", f"'{given_date}' is not a date (YYYY-MM-DD)"))
    if not cells.get("kind"):
        errors.append(RowError(row.number, "kind", "every row needs a kind"))
    if not cells.get("account"):
        errors.append(RowError(row.number, "account", "every row needs an account name"))
    if len(cells.get("note", "")) > 500:
        errors.append(RowError(row.number, "note", "a note has at most 500 characters"))
    if errors or day is None:
        return None, errors
    return (
        NewTxn(
            kind=cells["kind"].lower(),
            trade_date=day,
            account_id=accounts[cells["account"]],
            symbol=cells.get("symbol", "").upper() or None,
            quantity=numbers["quantity"],
            price=numbers["price"],
            amount=numbers["amount"],
            fee=numbers["fee"] if numbers["fee"] is not None else parse_decimal("0"),
            currency=cells.get("currency", "").upper() or None,
            ratio=numbers["ratio"],
            note=cells.get("note", ""),
        ),
        [],
    )


async def _import(
    conn: Conn,
    tenant_id: str,
    portfolio_id: str,
    rows: list[Row],
    *,
    source: str,
    actor: str,
    now: datetime,
    dry_run: bool,
) -> Report:
    portfolio = await ledger.get_portfolio(conn, tenant_id, portfolio_id)
    report = Report(rows=len(rows), dry_run=dry_run)
    if not rows:
        raise InvalidInput("the CSV has a header but no rows")
    accounts = {
        a["name"]: a["id"] for a in await ledger.list_accounts(conn, tenant_id, portfolio_id)
    }
    for name in sorted({r.cells.get("account", "") for r in rows} - set(accounts) - {""}):
        if len(name) > 200:
            continue  # reported with its row
        made = await ledger.create_account(
            conn, tenant_id, portfolio_id, name=name, custodian=None, now=now
        )
        accounts[name] = made["id"]
        report.accounts_created.append(name)
    parsed: list[tuple[Row, NewTxn]] = []
    doubtful: set[str] = set()
    for row in rows:
        if len(row.cells.get("account", "")) > 200:
            report.errors.append(
                RowError(row.number, "account", "an account name is 1 to 200 characters")
            )
            continue
        txn, errors = parse_row(row, accounts)
        report.errors.extend(errors)
        if errors:
            doubtful.add(row.cells.get("symbol", "").upper())
        if txn is not None:
            parsed.append((row, txn))
    checked, problems = await ledger_commits.prepare(
        conn, tenant_id, portfolio, [p[1] for p in parsed], doubtful=frozenset(doubtful)
    )
    for index, problem in problems:
        report.errors.append(RowError(parsed[index][0].number, problem.field, problem.message))
    if report.errors:
        report.errors.sort(
            key=lambda e: (e.row, COLUMNS.index(e.column) if e.column in COLUMNS else -1)
        )
        raise ImportRefused(report)
    if dry_run:
        raise _DryRun(report)
    report.commit = await ledger_commits.write_commit(
        conn, tenant_id, portfolio_id, checked, [p[1].note for p in parsed], source, actor, now
    )
    return report


async def import_csv(
    write: ledger_commits.Write[Report],
    tenant_id: str,
    portfolio_id: str,
    data: bytes,
    *,
    source: str,
    actor: str,
    now: datetime,
    dry_run: bool = False,
) -> Report:
    """Import the CSV `data` as one commit (through `write`, the caller's write transaction);
    the report. `ImportRefused` (with the whole report) when any row is bad."""
    rows = read_rows(data)
    try:
        return await ledger_commits.retrying(
            write,
            lambda conn: _import(
                conn,
                tenant_id,
                portfolio_id,
                rows,
                source=source,
                actor=actor,
                now=now,
                dry_run=dry_run,
            ),
        )
    except _DryRun as done:
        return done.report
