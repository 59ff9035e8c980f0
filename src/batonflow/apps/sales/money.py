"""Money in the sales app: ISO 4217 currencies and rounding to each one's minor unit.

Every price, discount, total and tax is computed here or from here, with `Decimal`, and rounded
half up (the commercial rule) only where an amount is shown or billed: a line's net amount, a
tax amount, a total. A model never computes a number.
"""

from __future__ import annotations

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
