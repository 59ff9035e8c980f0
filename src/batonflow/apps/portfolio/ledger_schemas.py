"""The ledger API's bodies. Decimals travel as strings ("1234.5"): JSON numbers are floats to
most clients, and a float cannot hold an amount exactly."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer

from batonflow.apps.portfolio.ledger_rules import parse_decimal


def _decimal(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return parse_decimal(value)
        except ValueError as exc:
            raise ValueError(str(exc)) from None
    if isinstance(value, Decimal):
        return value
    raise ValueError('a decimal is sent as a string, like "1234.5"')


DecimalText = Annotated[
    Decimal,
    BeforeValidator(_decimal),
    PlainSerializer(lambda d: format(d, "f"), return_type=str, when_used="json"),
    Field(json_schema_extra={"type": "string", "format": "decimal"}),
]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217, like USD")]


class NewPortfolio(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    base_currency: Currency
    benchmark: str | None = Field(None, max_length=32, description="a symbol, like SPY")


class PortfolioPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, min_length=1, max_length=200)
    benchmark: str | None = Field(None, max_length=32, description='"" clears it')


class Portfolio(BaseModel):
    id: str
    name: str
    base_currency: str
    benchmark: str | None
    created_by: str
    created_at: dt.datetime
    updated_at: dt.datetime


class NewAccount(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    custodian: str | None = Field(None, max_length=200)


class Account(BaseModel):
    id: str
    portfolio_id: str
    name: str
    custodian: str | None
    created_at: dt.datetime


class NewTransaction(BaseModel):
    """A transaction to commit. `amount` left out is worked out (a trade's), `currency` left
    out is the portfolio's; signs as in the CSV import."""

    model_config = ConfigDict(extra="forbid")
    kind: str = Field(description="buy, sell, dividend, fee, deposit, withdrawal or split")
    date: dt.date
    account_id: str
    symbol: str | None = Field(None, max_length=32)
    quantity: DecimalText | None = None
    price: DecimalText | None = None
    amount: DecimalText | None = None
    fee: DecimalText = Decimal(0)
    currency: str | None = Field(None, max_length=3)
    ratio: DecimalText | None = None
    note: str = Field("", max_length=500)


class Commit(BaseModel):
    seq: int
    hash: str
    parent_hash: str
    count: int
    source: str
    created_by: str
    created_at: dt.datetime


class Transaction(BaseModel):
    id: str
    commit_seq: int
    line: int
    account_id: str
    kind: str
    date: dt.date
    symbol: str | None
    quantity: DecimalText | None
    price: DecimalText | None
    amount: DecimalText
    fee: DecimalText
    currency: str
    ratio: DecimalText | None
    note: str


class TransactionPage(BaseModel):
    items: list[Transaction]
    next_cursor: str | None


class RowProblem(BaseModel):
    row: int = Field(description="the file's line (the header is row 1)")
    column: str
    message: str


class CommitRef(BaseModel):
    seq: int
    hash: str
    count: int


class ImportReport(BaseModel):
    rows: int
    errors: list[RowProblem]
    accounts_created: list[str]
    dry_run: bool
    commit: CommitRef | None


class PositionOut(BaseModel):
    account_id: str
    symbol: str
    quantity: DecimalText
    cost: DecimalText
    currency: str


class Positions(BaseModel):
    portfolio_id: str
    ledger_commit_hash: str
    base_currency: str
    positions: list[PositionOut]
    cash: dict[str, DecimalText]


class Break(BaseModel):
    symbol: str
    ledger: str
    custodian: str
    difference: str


class Reconciliation(BaseModel):
    id: str
    account_id: str
    account: str
    statement_date: dt.date
    ledger_commit_hash: str
    breaks: list[Break]
    created_by: str
    created_at: dt.datetime
