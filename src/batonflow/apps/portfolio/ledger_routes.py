"""The ledger's API: portfolios, accounts, transactions (committed, imported from CSV, paged),
positions at any commit, commits, and reconciliations with custodian statements.

A CSV (an import, a statement) is the request body: `text/csv`, or a `multipart/form-data` form
whose first file part is the CSV. Reads need `runs:read`, changes `runs:write`; a portfolio of
another tenant is a 404.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from email.parser import BytesParser
from email.policy import HTTP
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status

from batonflow.api.cursors import NOT_OURS
from batonflow.api.deps import PageSize, State, require
from batonflow.apps.portfolio import csv_import, ledger, ledger_commits, reconcile
from batonflow.apps.portfolio.ledger_rules import NewTxn
from batonflow.apps.portfolio.ledger_schemas import (
    Account,
    Commit,
    ImportReport,
    NewAccount,
    NewPortfolio,
    NewTransaction,
    Portfolio,
    PortfolioPatch,
    PositionOut,
    Positions,
    Reconciliation,
    Transaction,
    TransactionPage,
)
from batonflow.auth.scopes import Principal
from batonflow.errors import InvalidInput
from batonflow.store.db import Conn

router = APIRouter(tags=["portfolio"])
Reader = Annotated[Principal, require("runs:read")]
Writer = Annotated[Principal, require("runs:write")]
P = "/portfolios/{portfolio_id}"
CSV_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            },
        },
    }
}


async def csv_body(request: Request) -> tuple[bytes, str | None]:
    """The CSV a request carries, and its file name when a form named one."""
    data = await request.body()
    kind = request.headers.get("content-type", "")
    if not kind.lower().startswith("multipart/"):
        return data, None
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + kind.encode("latin-1") + b"\r\n\r\n" + data
    )
    for part in message.iter_parts() if message.is_multipart() else ():
        if part.get_filename() is not None:
            payload = part.get_payload(decode=True)
            return (payload if isinstance(payload, bytes) else b""), part.get_filename()
    raise InvalidInput("the form has no file part; send the CSV as a file (or as text/csv)")


def _portfolio(row: dict[str, Any]) -> Portfolio:
    return Portfolio.model_validate(row)


@router.post("/portfolios", response_model=Portfolio, status_code=status.HTTP_201_CREATED)
async def create_portfolio(state: State, caller: Writer, body: NewPortfolio) -> Portfolio:
    """Create a portfolio; its name is unique in the tenant."""
    row = await state.transact(
        lambda conn: ledger.create_portfolio(
            conn,
            caller.tenant_id,
            name=body.name,
            base_currency=body.base_currency,
            benchmark=body.benchmark,
            actor=caller.name,
            now=state.now(),
        )
    )
    return _portfolio(row)


@router.get("/portfolios", response_model=list[Portfolio])
async def list_portfolios(state: State, caller: Reader) -> list[Portfolio]:
    """The tenant's portfolios, by name."""
    rows = await state.query(lambda conn: ledger.list_portfolios(conn, caller.tenant_id))
    return [_portfolio(row) for row in rows]


@router.get(P, response_model=Portfolio)
async def get_portfolio(state: State, caller: Reader, portfolio_id: str) -> Portfolio:
    return _portfolio(
        await state.query(lambda conn: ledger.get_portfolio(conn, caller.tenant_id, portfolio_id))
    )


@router.patch(P, response_model=Portfolio)
async def update_portfolio(
    state: State, caller: Writer, portfolio_id: str, body: PortfolioPatch
) -> Portfolio:
    """Rename a portfolio or change its benchmark ("" clears it)."""
    row = await state.transact(
        lambda conn: ledger.update_portfolio(
            conn,
            caller.tenant_id,
            portfolio_id,
            state.now(),
            name=body.name,
            benchmark=body.benchmark,
            clear_benchmark=body.benchmark == "",
        )
    )
    return _portfolio(row)


@router.delete(P, status_code=status.HTTP_204_NO_CONTENT)
async def delete_portfolio(state: State, caller: Writer, portfolio_id: str) -> Response:
    """Delete a portfolio with its accounts, ledger and reconciliations."""
    await state.transact(lambda conn: ledger.delete_portfolio(conn, caller.tenant_id, portfolio_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(f"{P}/accounts", response_model=Account, status_code=status.HTTP_201_CREATED)
async def create_account(
    state: State, caller: Writer, portfolio_id: str, body: NewAccount
) -> Account:
    row = await state.transact(
        lambda conn: ledger.create_account(
            conn,
            caller.tenant_id,
            portfolio_id,
            name=body.name,
            custodian=body.custodian,
            now=state.now(),
        )
    )
    return Account.model_validate(row)


@router.get(f"{P}/accounts", response_model=list[Account])
async def list_accounts(state: State, caller: Reader, portfolio_id: str) -> list[Account]:
    async def work(conn: Conn) -> list[dict[str, Any]]:
        await ledger.get_portfolio(conn, caller.tenant_id, portfolio_id)
        return await ledger.list_accounts(conn, caller.tenant_id, portfolio_id)

    return [Account.model_validate(row) for row in await state.query(work)]


@router.post(f"{P}/transactions", response_model=Commit, status_code=status.HTTP_201_CREATED)
async def commit_transactions(
    state: State, caller: Writer, portfolio_id: str, body: list[NewTransaction]
) -> Commit:
    """Commit the transactions, in order, as the ledger's next commit (all or none: a 422
    lists every problem by line)."""
    txns = [
        NewTxn(
            kind=t.kind,
            trade_date=t.date,
            account_id=t.account_id,
            symbol=t.symbol,
            quantity=t.quantity,
            price=t.price,
            amount=t.amount,
            fee=t.fee,
            currency=t.currency,
            ratio=t.ratio,
            note=t.note,
        )
        for t in body
    ]
    row = await ledger_commits.retrying(
        state.transact,
        lambda conn: ledger_commits.commit(
            conn,
            caller.tenant_id,
            portfolio_id,
            txns,
            source="api",
            actor=caller.name,
            now=state.now(),
        ),
    )
    return Commit.model_validate(row)


def _cursor(seq: int, line: int) -> str:
    return base64.urlsafe_b64encode(f"{seq}|{line}".encode()).decode()


def _position(cursor: str) -> tuple[int, int]:
    try:
        seq, line = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return int(seq), int(line)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput(NOT_OURS) from None


@router.get(f"{P}/transactions", response_model=TransactionPage)
async def list_transactions(
    state: State,
    caller: Reader,
    portfolio_id: str,
    limit: PageSize,
    cursor: Annotated[str | None, Query(description="the `next_cursor` of the last page")] = None,
    symbol: Annotated[str | None, Query(max_length=32)] = None,
    kind: Annotated[str | None, Query(max_length=16)] = None,
    since: Annotated[dt.date | None, Query(alias="from", description="trade date, from")] = None,
    until: Annotated[
        dt.date | None, Query(alias="to", description="trade date, to (incl.)")
    ] = None,
) -> TransactionPage:
    """The ledger in ledger order (commit, then line), a page at a time."""
    after = _position(cursor) if cursor else None
    rows = await state.query(
        lambda conn: ledger.transactions_page(
            conn,
            caller.tenant_id,
            portfolio_id,
            limit=limit,
            after=after,
            symbol=symbol,
            kind=kind,
            since=since,
            until=until,
        )
    )
    last = rows[-1] if len(rows) == limit else None
    return TransactionPage(
        items=[Transaction.model_validate(row | {"date": row["trade_date"]}) for row in rows],
        next_cursor=_cursor(last["commit_seq"], last["line"]) if last else None,
    )


@router.post(
    f"{P}/import",
    response_model=ImportReport,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=CSV_BODY,
    responses={200: {"model": ImportReport, "description": "a dry run: checked, not written"}},
)
async def import_transactions(
    state: State,
    caller: Writer,
    portfolio_id: str,
    request: Request,
    response: Response,
    dry_run: bool = False,
    source: Annotated[str | None, Query(max_length=150, description="the file's name")] = None,
) -> ImportReport:
    """Import a ledger CSV as one commit (see `csv_import` for the columns); a 422 whose
    `details` is the report of every bad row when any row is bad, and nothing is written."""
    data, filename = await csv_body(request)
    name = source or filename or "upload.csv"
    report = await csv_import.import_csv(
        state.transact,
        caller.tenant_id,
        portfolio_id,
        data,
        source=f"csv:{name}",
        actor=caller.name,
        now=state.now(),
        dry_run=dry_run,
    )
    if dry_run:
        response.status_code = status.HTTP_200_OK
    return ImportReport.model_validate(report.as_dict())


@router.get(f"{P}/positions", response_model=Positions)
async def positions(
    state: State,
    caller: Reader,
    portfolio_id: str,
    commit: Annotated[str | None, Query(description="a commit hash (default: the head)")] = None,
) -> Positions:
    """Positions (average cost) and cash by currency, replayed from the ledger at a commit."""
    found = await state.query(
        lambda conn: ledger.holdings(conn, caller.tenant_id, portfolio_id, commit_hash=commit)
    )
    return Positions(
        portfolio_id=found.portfolio_id,
        ledger_commit_hash=found.ledger_commit_hash,
        base_currency=found.base_currency,
        positions=[
            PositionOut(
                account_id=p.account_id,
                symbol=p.symbol,
                quantity=p.quantity,
                cost=p.cost,
                currency=p.currency,
            )
            for p in found.positions
        ],
        cash=found.cash,
    )


@router.get(f"{P}/commits", response_model=list[Commit])
async def list_commits(state: State, caller: Reader, portfolio_id: str) -> list[Commit]:
    """The ledger's commits, newest first: each one's hash links to its parent's."""
    rows = await state.query(lambda conn: ledger.list_commits(conn, caller.tenant_id, portfolio_id))
    return [Commit.model_validate(row) for row in rows]


@router.post(
    f"{P}/reconciliations",
    response_model=Reconciliation,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=CSV_BODY,
)
async def create_reconciliation(
    state: State,
    caller: Writer,
    portfolio_id: str,
    request: Request,
    account: Annotated[str, Query(min_length=1, max_length=200, description="account name")],
    statement_date: Annotated[dt.date | None, Query(description="default: today")] = None,
) -> Reconciliation:
    """Compare an account at the ledger's head with a custodian statement (see `reconcile`
    for its format) and record the breaks."""
    data, _ = await csv_body(request)
    statement = reconcile.read_statement(data)
    row = await state.transact(
        lambda conn: reconcile.reconcile(
            conn,
            caller.tenant_id,
            portfolio_id,
            account=account,
            statement=statement,
            statement_date=statement_date or state.now().date(),
            actor=caller.name,
            now=state.now(),
        )
    )
    return Reconciliation.model_validate(row)


@router.get(f"{P}/reconciliations", response_model=list[Reconciliation])
async def list_reconciliations(
    state: State, caller: Reader, portfolio_id: str
) -> list[Reconciliation]:
    rows = await state.query(
        lambda conn: reconcile.list_reconciliations(conn, caller.tenant_id, portfolio_id)
    )
    return [Reconciliation.model_validate(row) for row in rows]
