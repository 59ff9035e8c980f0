"""A narrative may state only numbers that were computed.

An agent writes prose about a result; a model that invents or misremembers a figure is caught
here: every number in the text must be one of the result's numbers, as a reader would see it
displayed. `unsupported(text, result)` lists the offending numbers; `validate` raises.

What counts as a stated number: digits with an optional decimal part ("12", "0.25", ".5"),
thousands separators ("1,234.56"), a sign ("-3.2", or with the Unicode minus sign), a currency symbol ("$1,234",
"-$40", "€12.5"), a percentage ("12.5%", "12.5 %", "12.5 percent"), basis points ("25bp",
"25 bps", "25 basis points") and a scale word ("$1.2 million", "3 thousand", "4.5bn").

What the text's numbers are checked against: every number in the result, at any depth: ints,
floats, Decimals and strings that are a number ("0.1234"); booleans are not numbers, and the
result's own "narrative" key is skipped (a narrative does not vouch for itself).

How a stated number matches a computed value `v` (any one match suffices):
- rounded to the precision shown: "12.35" matches 12.3456 (half-up or half-even), "1,235"
  matches 1234.6; a scale word divides first: "$1.2 million" matches 1234567;
- a percentage is `v` as a fraction (0.1234 -> "12.3%", "12.34%") or `v` already in percent
  (12.34 -> "12.3%"); basis points likewise (0.0025 -> "25bp", or 25 -> "25bp");
- the sign: an unsigned number matches either sign, since prose carries direction in words
  ("a drawdown of 12.5%" for -0.125, "fell 3%"); a number written with a minus must match a
  negative value.

What is not a stated figure, and so is not checked:
- a year: a bare four-digit integer from 1900 to 2099 ("in 2009");
- a date: ISO "2009-12-31" or "2009-12", "12/31/2009", and a day next to a month name
  ("31 December", "Dec 31st");
- a counting word: a bare integer from 0 to 10 ("three holdings", "the top 5 positions"); bare
  means no sign, decimals, separator, currency, percent or scale (a bare "7" is not checked,
  "7%" and "7.0" are);
- part of a name or unit: digits joined to a letter ("DGS10", "Q3", "10y", "2nd") or to a
  hyphenated word ("12-month", "30-day");
- any phrase that appears verbatim as a text value of the result ("S&P 500", "BRK.B"): the
  result states it, so the narrative may repeat it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Context, Decimal, InvalidOperation
from typing import Any

from batonflow.errors import InvalidInput

_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_DAY = r"(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?"
_DATES = re.compile(
    rf"""(?<![\w.])(?:
        \d{{4}}-(?:0[1-9]|1[0-2])(?:-\d{{2}})?      # 2009-12-31, 2009-12
      | \d{{1,2}}/\d{{1,2}}/\d{{2,4}}                 # 12/31/2009
      | {_DAY}\s+{_MONTH}                             # 31 December
      | {_MONTH}\s+{_DAY}                             # December 31st
    )(?![\w/-])""",
    re.IGNORECASE | re.VERBOSE,
)
_NUMBER = re.compile(
    r"""(?<![\w.])
    (?P<sign>[-\u2212])?
    (?P<currency>[$€£])?
    (?P<sign2>[-\u2212])?
    (?P<digits>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)
    (?:
        (?P<percent>\s?%|\s(?:percent|per\ cent)\b)
      | (?P<bp>\s?bps?\b|\sbasis\ points?\b)
      | \s?(?P<scale>thousand|million|billion|bn)\b
    )?
    (?![\w%])(?!-[^\W\d_])""",
    re.IGNORECASE | re.VERBOSE,
)
_SCALES = {"thousand": 3, "million": 6, "billion": 9, "bn": 9}
_WIDE = Context(prec=80)
_SKIP = frozenset({"narrative"})


@dataclass(frozen=True, slots=True)
class Stated:
    """One number as the text states it."""

    text: str
    magnitude: Decimal  # the digits, unsigned, before any scale
    places: int  # digits after the decimal point, as shown
    negative: bool
    unit: str  # "plain", "percent" or "bp"
    scale: int  # a power of ten the scale word stands for (0 without one)
    bare: bool  # no sign, decimals, separator, currency, unit or scale

    @property
    def exempt(self) -> bool:
        """A year or a counting word (see the module docstring)."""
        if not self.bare:
            return False
        value = int(self.magnitude)
        return value <= 10 or 1900 <= value <= 2099


def numbers_in(value: Any) -> Iterator[Decimal]:
    """Every number in a result, at any depth (the "narrative" key skipped)."""
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, int | float | Decimal):
        number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
        if number.is_finite():
            yield number
    elif isinstance(value, str):
        parsed = _as_number(value)
        if parsed is not None:
            yield parsed
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if key not in _SKIP:
                yield from numbers_in(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from numbers_in(item)


def _as_number(text: str) -> Decimal | None:
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _phrases(value: Any) -> Iterator[str]:
    """The result's text values that hold a digit but are not a number ("S&P 500")."""
    if isinstance(value, str):
        if any(c.isdigit() for c in value) and _as_number(value) is None and value.strip():
            yield value.strip()
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if key not in _SKIP:
                yield from _phrases(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _phrases(item)


def _blank(match: re.Match[str]) -> str:
    return " " * len(match.group(0))


def stated(text: str, result: Any = None) -> list[Stated]:
    """The numbers `text` states, in order (dates, names and the result's phrases removed)."""
    for phrase in sorted(set(_phrases(result)), key=len, reverse=True):
        text = text.replace(phrase, " " * len(phrase))
    text = _DATES.sub(_blank, text)
    found = []
    for match in _NUMBER.finditer(text):
        digits = match["digits"]
        plain = digits.replace(",", "")
        places = len(plain.split(".")[1]) if "." in plain else 0
        unit = "percent" if match["percent"] else "bp" if match["bp"] else "plain"
        scale = _SCALES[match["scale"].lower()] if match["scale"] else 0
        negative = bool(match["sign"] or match["sign2"])
        found.append(
            Stated(
                text=match.group(0).strip(),
                magnitude=Decimal(plain),
                places=places,
                negative=negative,
                unit=unit,
                scale=scale,
                bare=not (negative or match["currency"] or unit != "plain" or scale)
                and plain == digits
                and places == 0
                and "." not in digits,
            )
        )
    return found


class _Table:
    """The result's values, rounded as each stated form needs them, built once per form."""

    def __init__(self, values: list[Decimal]) -> None:
        self.values = values
        self.built: dict[tuple[int, int], dict[Decimal, set[bool]]] = {}

    def signs(self, shift: int, places: int) -> dict[Decimal, set[bool]]:
        """Each value times 10^shift, rounded to `places` both ways: to the signs seen."""
        key = (shift, places)
        if key not in self.built:
            table: dict[Decimal, set[bool]] = {}
            step = Decimal(1).scaleb(-places)
            for value in self.values:
                moved = _WIDE.multiply(value, Decimal(1).scaleb(shift)).copy_abs()
                for rounding in (ROUND_HALF_UP, ROUND_HALF_EVEN):
                    try:
                        shown = moved.quantize(step, rounding=rounding, context=_WIDE)
                    except InvalidOperation:
                        continue
                    table.setdefault(shown, set()).add(value < 0)
            self.built[key] = table
        return self.built[key]


def _matches(number: Stated, table: _Table) -> bool:
    # The shifts (powers of ten) that turn a computed value into the stated form.
    if number.unit == "percent":
        shifts = [2, 0]
    elif number.unit == "bp":
        shifts = [4, 0]
    else:
        shifts = [-number.scale]
    for shift in shifts:
        signs = table.signs(shift, number.places).get(number.magnitude)
        # An unsigned figure matches either sign; a written minus needs a negative value.
        if signs and (not number.negative or True in signs):
            return True
    return False


def unsupported(text: str, result: Any) -> list[str]:
    """The numbers `text` states that `result` does not hold, as written, once each."""
    table = _Table(list(numbers_in(result)))
    offending: list[str] = []
    for number in stated(text, result):
        if number.exempt or _matches(number, table):
            continue
        if number.text not in offending:
            offending.append(number.text)
    return offending


def validate(text: str, result: Any) -> None:
    """Raise `InvalidInput` listing every number of `text` that `result` does not hold."""
    offending = unsupported(text, result)
    if offending:
        raise InvalidInput(
            "the narrative states numbers the computed result does not hold: "
            f"{', '.join(offending)}; state only computed figures (as shown, rounded, or "
            "as a percentage of a fraction)",
            details={"numbers": offending},
        )
