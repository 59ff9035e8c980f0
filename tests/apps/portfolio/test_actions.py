"""The pack's splits held against the ledger: a split of a symbol held the day before it and
not booked within a week is reported once, with the quantity it should have multiplied; one the
ledger books (on the day or a few days later), one of a symbol sold out or not yet bought, and a
dividend are not."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from batonflow.apps.portfolio.actions import unbooked_splits
from batonflow.apps.portfolio.model import PackData, Txn

D = Decimal


def trade(kind: str, day: date, symbol: str, quantity: str, account: str = "a1") -> Txn:
    amount = D(quantity) * (-1 if kind == "buy" else 1)
    return Txn(kind, day, account, symbol, D(quantity), D(1), amount, D(0), "USD", None)


def split(day: date, symbol: str, ratio: str, account: str = "a1") -> Txn:
    return Txn("split", day, account, symbol, None, None, D(0), D(0), "USD", D(ratio))


def action(kind: str, symbol: str, day: date, value: str) -> dict[str, Any]:
    return {
        "kind": kind,
        "symbol": symbol,
        "date": day,
        "value": D(value),
        "currency": None,
        "source": "fmp",
    }


PACK = PackData(
    "pack-1",
    date(2024, 12, 31),
    actions=[
        action("split", "AAA", date(2024, 3, 1), "2"),  # held in two accounts: unbooked
        action("split", "BBB", date(2024, 4, 1), "3"),  # booked three days later
        action("split", "CCC", date(2024, 5, 1), "4"),  # sold out before it
        action("split", "DDD", date(2024, 6, 3), "10"),  # bought on the day itself
        action("dividend", "AAA", date(2024, 7, 1), "0.5"),  # a dividend: not a split
        action("split", "AAA", date(2024, 9, 2), "0.5"),  # a reverse split, after the first
    ],
)

LEDGER = [
    trade("buy", date(2024, 1, 2), "AAA", "10"),
    trade("buy", date(2024, 1, 2), "AAA", "5", account="a2"),
    trade("buy", date(2024, 1, 2), "BBB", "7"),
    split(date(2024, 4, 4), "BBB", "3"),
    trade("buy", date(2024, 1, 2), "CCC", "4"),
    trade("sell", date(2024, 2, 1), "CCC", "4"),
    trade("buy", date(2024, 6, 3), "DDD", "1"),
    split(date(2024, 7, 1), "AAA", "2", account="a2"),  # months late: counts from its date
]


def test_the_splits_the_ledger_lacks_are_listed_once() -> None:
    assert unbooked_splits(LEDGER, PACK) == [
        {"symbol": "AAA", "date": "2024-03-01", "ratio": "2", "held": "15", "source": "fmp"},
        {"symbol": "AAA", "date": "2024-09-02", "ratio": "0.5", "held": "20", "source": "fmp"},
    ]


def test_a_ledger_that_books_every_split_has_none() -> None:
    booked = [*LEDGER, split(date(2024, 3, 1), "AAA", "2"), split(date(2024, 9, 6), "AAA", "0.5")]
    assert unbooked_splits(booked, PACK) == []
    assert unbooked_splits(LEDGER, PackData("pack-2", date(2024, 12, 31))) == []
