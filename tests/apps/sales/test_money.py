"""Money: currencies, rounding half up to the minor unit, line nets, and invoice totals with the
tax rounded once per invoice."""

from __future__ import annotations

from decimal import Decimal

import pytest

from batonflow.apps.sales import money
from batonflow.errors import InvalidInput

D = Decimal


def test_rounding_at_the_half_goes_up_in_every_minor_unit() -> None:
    assert [
        money.rounded(D("2.345"), "EUR"),
        money.rounded(D("2.344"), "eur"),
        money.rounded(D("1234.5"), "JPY"),
        money.rounded(D("0.0005"), "KWD"),
    ] == [D("2.35"), D("2.34"), D("1235"), D("0.001")]


def test_line_net_takes_the_discount_then_rounds() -> None:
    assert money.line_net(D("3"), D("0.335"), D("0"), "EUR") == D("1.01")
    assert money.line_net(D("2"), D("99.99"), D("0.15"), "EUR") == D("169.98")
    with pytest.raises(InvalidInput, match="a discount is a fraction from 0 to 1"):
        money.line_net(D("1"), D("1"), D("15"), "EUR")


def test_tax_is_rounded_once_on_the_subtotal_not_per_line() -> None:
    # Three lines of 1 x 0.335 EUR: each net 0.34. Per line, 7.5 % tax would be 3 x 0.03 = 0.09;
    # on the subtotal 1.02 it is 0.0765 -> 0.08.
    nets = [money.line_net(D("1"), D("0.335"), D("0"), "EUR") for _ in range(3)]
    assert money.totals(nets, D("0.075"), "EUR") == money.Totals(
        subtotal=D("1.02"), tax=D("0.08"), total=D("1.10")
    )


def test_yen_has_no_minor_unit() -> None:
    nets = [money.line_net(D("3"), D("333.5"), D("0"), "JPY")]  # 1000.5 -> 1001
    assert money.totals(nets, D("0.1"), "JPY") == money.Totals(
        subtotal=D("1001"), tax=D("100"), total=D("1101")
    )
    assert money.text(D("1101"), "JPY") == "1101"
    assert money.text(D("1.1"), "EUR") == "1.10"


def test_bad_rates_and_currencies_say_what_to_send() -> None:
    with pytest.raises(InvalidInput, match=r"a tax rate is a fraction from 0 to 1 \(0.075"):
        money.totals([D("1")], D("7.5"), "EUR")
    with pytest.raises(InvalidInput, match="currency 'XYZ' is not one we bill in"):
        money.currency("XYZ")
