"""The ledger's rules without a database: decimals as written, amounts worked out exactly,
and the replay's average cost."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, localcontext

import pytest

from batonflow.apps.portfolio.ledger_rules import (
    NewTxn,
    Problem,
    parse_decimal,
    replay,
    text,
    validate,
)
from batonflow.apps.portfolio.model import Position, Txn

D = Decimal


@pytest.mark.parametrize(
    ("given", "value"),
    [
        ("1234.50", "1234.5"),
        ("-0.25", "-0.25"),
        (" 7 ", "7"),
        (".5", "0.5"),
        ("-0", "0"),
        ("100", "100"),
        ("+3.", "3"),
    ],
)
def test_plain_decimals_are_read_in_one_spelling(given: str, value: str) -> None:
    assert text(parse_decimal(given)) == value


@pytest.mark.parametrize("given", ["1e5", "NaN", "inf", "-Infinity", "1,000", "", "0x10", "1 2"])
def test_anything_else_is_refused(given: str) -> None:
    with pytest.raises(ValueError, match="is not a plain decimal number"):
        parse_decimal(given)


def test_a_number_too_long_for_the_column_is_refused() -> None:
    with pytest.raises(ValueError, match="too long to store: 48 characters at most"):
        parse_decimal("1" * 49)
    assert text(parse_decimal("1" * 48)) == "1" * 48


def test_a_trade_amount_is_exact_and_checked() -> None:
    quantity, price = D("3.333333333333333"), D("7.123456789012345678")
    buy = NewTxn("buy", date(2024, 1, 2), "a", "AAPL", quantity, price, fee=D("0.01"))
    txn, problems = validate(buy, "USD")
    with localcontext(prec=200):
        exact = -(quantity * price) - D("0.01")
    assert (problems, txn and txn.amount) == ([], exact)
    assert text(exact) == "-23.754855963374483218847736995884774"
    huge = NewTxn("buy", date(2024, 1, 2), "a", "AAPL", D("1" + "0" * 30), D("1" + "0" * 20))
    assert validate(huge, "USD") == (
        None,
        [
            Problem(
                "amount",
                "quantity * price gives an amount -1"
                + "0" * 50
                + " is too long to store: 48 characters at most, written out",
            )
        ],
    )


def trade(kind: str, qty: str, price: str, day: int, fee: str = "0") -> Txn:
    found, problems = validate(
        NewTxn(kind, date(2024, 1, day), "a", "IBM", D(qty), D(price), fee=D(fee)), "USD"
    )
    assert (problems, found is not None) == ([], True)
    assert found is not None
    return found


def test_the_cost_left_after_a_sell_is_its_share() -> None:
    state = replay([trade("buy", "3", "10", 1), trade("sell", "1", "12", 2)])
    assert state.positions == {("a", "IBM"): Position("a", "IBM", D("2"), D("20"), "USD")}
    assert state.cash == {"USD": D("-18")}
    thirds = replay([trade("buy", "3", "3.33", 1, fee="0.01"), trade("sell", "1", "4", 2)])
    # 10 of cost, two thirds kept: a ratio that does not end, rounded to 28 digits.
    assert thirds.positions[("a", "IBM")].cost == D("6.666666666666666666666666667")
