"""Money in the sales app: ISO 4217 currencies and rounding to each one's minor unit.

Every price, discount, total and tax is computed here or from here, with `Decimal`, and rounded
half up (the commercial rule) only where an amount is shown or billed: a line's net amount, a
tax amount, a total. A model never computes a number.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from batonflow.errors import InvalidInput

# Digits after the point of the currencies a tenant may bill in.
MINOR_UNITS: dict[str, int] = {
    "AUD": 2, "BRL": 2, "CAD": 2, "CHF": 2, "CNY": 2, "CZK": 2, "DKK": 2, "EUR": 2, "GBP": 2,
    "HKD": 2, "INR": 2, "JPY": 0, "KRW": 0, "MXN": 2, "NOK": 2, "NZD": 2, "PLN": 2, "SEK": 2,
    "SGD": 2, "USD": 2, "ZAR": 2, "BHD": 3, "KWD": 3,
}  # fmt: skip


def currency(code: str) -> str:
    """`code` as a known currency (upper-cased), or an error naming the ones we bill in."""
    upper = code.strip().upper()
    if upper not in MINOR_UNITS:
        known = ", ".join(sorted(MINOR_UNITS))
        raise InvalidInput(f"currency {code!r} is not one we bill in; use one of {known}")
    return upper


def rounded(amount: Decimal, code: str) -> Decimal:
    """`amount` rounded half up to `code`'s minor unit (2.345 EUR -> 2.35, 1234.5 JPY -> 1235)."""
    exponent = Decimal(1).scaleb(-MINOR_UNITS[currency(code)])
    return amount.quantize(exponent, rounding=ROUND_HALF_UP)


def line_net(quantity: Decimal, unit_price: Decimal, discount: Decimal, code: str) -> Decimal:
    """A line's net amount: quantity times unit price less its discount (a fraction), rounded."""
    if not Decimal(0) <= discount <= Decimal(1):
        raise InvalidInput(f"a discount is a fraction from 0 to 1 (0.15 is 15 %), not {discount}")
    return rounded(quantity * unit_price * (Decimal(1) - discount), code)


def tax_rate(rate: Decimal) -> Decimal:
    """`rate` as a tax rate: a fraction from 0 to 1 (0.075 is 7.5 %)."""
    if not rate.is_finite() or not Decimal(0) <= rate <= Decimal(1):
        raise InvalidInput(f"a tax rate is a fraction from 0 to 1 (0.075 is 7.5 %), not {rate}")
    return rate


@dataclass(frozen=True, slots=True)
class Totals:
    """An invoice's amounts, each in the currency's minor unit."""

    subtotal: Decimal
    tax: Decimal
    total: Decimal


def totals(nets: Iterable[Decimal], rate: Decimal, code: str) -> Totals:
    """The subtotal of the lines' (already rounded) net amounts, the tax on that subtotal
    rounded once per invoice (not per line), and their sum."""
    subtotal = rounded(sum(nets, Decimal(0)), code)
    tax = rounded(subtotal * tax_rate(rate), code)
    return Totals(subtotal=subtotal, tax=tax, total=subtotal + tax)


def text(amount: Decimal, code: str) -> str:
    """`amount` as shown on an invoice: every minor digit written ("1.10", "1101")."""
    return f"{rounded(amount, code):f}"
