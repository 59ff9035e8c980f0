"""The portfolio app's values, shared by the ledger, the packs, valuation and the metrics.

Conventions: every amount is an exact `Decimal` in the currency it names. A transaction's
`amount` is its signed effect on the account's cash in `currency`: a buy is -(quantity * price)
- fee, a sell quantity * price - fee, a dividend and a deposit are positive, a fee and a
withdrawal negative, a split 0. An FX series named "EURUSD" gives the price of one EUR in USD.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

KINDS = ("buy", "sell", "dividend", "fee", "deposit", "withdrawal", "split")
TRADES = ("buy", "sell")  # the kinds that change a position's quantity at a price
FLOWS = ("deposit", "withdrawal")  # external cash flows: what time-weighting removes


@dataclass(frozen=True, slots=True)
class Txn:
    """One transaction of the ledger, in ledger order."""

    kind: str
    trade_date: date
    account_id: str
    symbol: str | None
    quantity: Decimal | None
    price: Decimal | None
    amount: Decimal
    fee: Decimal
    currency: str
    ratio: Decimal | None = None  # a split's new shares per old share


@dataclass(frozen=True, slots=True)
class Position:
    """What the ledger holds of one symbol in one account: quantity and cost basis."""

    account_id: str
    symbol: str
    quantity: Decimal
    cost: Decimal  # what the shares held cost, fees included, in `currency`
    currency: str


@dataclass(frozen=True, slots=True)
class Holdings:
    """A portfolio's positions and cash at one ledger state."""

    portfolio_id: str
    ledger_commit_hash: str
    base_currency: str
    positions: tuple[Position, ...]
    cash: dict[str, Decimal]  # by currency, over all accounts


@dataclass(frozen=True, slots=True)
class Series:
    """A dated series (daily closes, an FX rate, a macro series), oldest first."""

    key: str
    dates: tuple[date, ...]
    values: tuple[Decimal, ...]
    source: str
    currency: str | None = None


@dataclass(frozen=True, slots=True)
class PackData:
    """What a fresh pricing pack holds (or the part of it that was loaded)."""

    pack_id: str
    as_of: date
    prices: dict[str, Series] = field(default_factory=dict)  # by symbol
    fx: dict[str, Series] = field(default_factory=dict)  # by pair, "EURUSD"
    # splits and dividends by date: {kind, symbol, date, value, currency, source} (packs.load)
    actions: list[dict[str, Any]] = field(default_factory=list)
    macro: dict[str, Series] = field(default_factory=dict)  # by series id, "DGS10"
    news: list[dict[str, Any]] = field(default_factory=list)
    sources: tuple[str, ...] = ()  # every source that contributed
