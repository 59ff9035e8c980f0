"""The macro regime, from FRED series, by rules a reader can check by hand.

Series (FRED ids, as a pricing pack's macro series are keyed):

    DGS10     10-year Treasury yield, percent (daily)
    DGS2      2-year Treasury yield, percent (daily)
    UNRATE    unemployment rate, percent (monthly)
    CPIAUCSL  consumer price index, all urban consumers (monthly)

The figures, each series read at its last observation on or before `as_of` (default: the
newest observation of any of them; monthly series lag the daily yields):

    slope                DGS10 - DGS2, percentage points (negative: an inverted curve)
    unemployment_change  UNRATE now minus UNRATE 12 months earlier, percentage points
    inflation            CPIAUCSL now over CPIAUCSL 12 months earlier, minus 1, in percent

"12 months earlier" is the last observation on or before the same day a year before the
current observation's date (29 February falls back to 28 February).

The rules, first match wins:

    contraction  unemployment_change >= +0.5   (unemployment rising fast: the Sahm-rule
                                                 threshold, on the 12-month change)
    recovery     unemployment_change <= -0.5 and slope >= 1.0
                                                (unemployment falling fast, a steep curve
                                                 after easing)
    slowdown     slope < 0, or unemployment_change >= +0.2, or inflation >= 5.0
                                                (an inverted curve, joblessness creeping
                                                 up, or inflation that forces tightening)
    expansion    otherwise

Figures are exact decimals rounded half-up to two places (the inputs have two).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from batonflow.apps.portfolio.model import Series
from batonflow.errors import InvalidInput

REQUIRED = ("DGS10", "DGS2", "UNRATE", "CPIAUCSL")
REGIMES = ("expansion", "slowdown", "contraction", "recovery")
CONTRACTION_RISE = Decimal("0.5")
RECOVERY_FALL = Decimal("-0.5")
RECOVERY_SLOPE = Decimal("1.0")
SLOWDOWN_RISE = Decimal("0.2")
HIGH_INFLATION = Decimal("5.0")
_CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class Regime:
    """A regime and the figures behind it."""

    regime: str
    as_of: date
    ten_year: Decimal
    two_year: Decimal
    slope: Decimal
    unemployment: Decimal
    unemployment_change: Decimal
    inflation: Decimal
    rule: str  # which rule decided, in words

    def as_dict(self) -> dict[str, str]:
        """JSON-ready: every figure a decimal string, the date ISO."""
        return {
            "regime": self.regime,
            "as_of": self.as_of.isoformat(),
            "ten_year": str(self.ten_year),
            "two_year": str(self.two_year),
            "slope": str(self.slope),
            "unemployment": str(self.unemployment),
            "unemployment_change": str(self.unemployment_change),
            "inflation": str(self.inflation),
            "rule": self.rule,
        }


def _at(series: Series, day: date) -> tuple[date, Decimal] | None:
    """The last observation on or before `day`."""
    index = bisect_right(series.dates, day)
    if index == 0:
        return None
    return series.dates[index - 1], series.values[index - 1]


def _year_before(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def _latest(series: Series, day: date) -> Decimal:
    found = _at(series, day)
    if found is None:
        raise InvalidInput(f"{series.key} has no observation on or before {day}")
    return found[1]


def _now_and_year_ago(series: Series, as_of: date) -> tuple[Decimal, Decimal]:
    current = _at(series, as_of)
    if current is None:
        raise InvalidInput(f"{series.key} has no observation on or before {as_of}")
    then = _year_before(current[0])
    earlier = _at(series, then)
    if earlier is None:
        raise InvalidInput(
            f"{series.key} needs an observation on or before {then} (12 months before its "
            f"observation of {current[0]}); it starts on {series.dates[0]}"
        )
    return current[1], earlier[1]


def _checked(series: Mapping[str, Series]) -> None:
    missing = [key for key in REQUIRED if key not in series or not series[key].dates]
    if missing:
        raise InvalidInput(
            f"the macro regime needs the FRED series {', '.join(REQUIRED)}; missing or empty: "
            f"{', '.join(missing)}",
            details={"missing": missing},
        )
    for key in REQUIRED:
        found = series[key]
        if len(found.dates) != len(found.values):
            raise InvalidInput(f"{key} has {len(found.dates)} dates but {len(found.values)} values")
        if any(b <= a for a, b in zip(found.dates, found.dates[1:], strict=False)):
            raise InvalidInput(f"{key}'s dates must be increasing, oldest first")


def classify(series: Mapping[str, Series], as_of: date | None = None) -> Regime:
    """The regime on `as_of` (default: the newest observation of any of the series)."""
    _checked(series)
    day = as_of or max(series[key].dates[-1] for key in REQUIRED)
    ten, two = _latest(series["DGS10"], day), _latest(series["DGS2"], day)
    unemployment, unemployment_then = _now_and_year_ago(series["UNRATE"], day)
    cpi, cpi_then = _now_and_year_ago(series["CPIAUCSL"], day)
    if cpi_then <= 0:
        raise InvalidInput("CPIAUCSL must be positive to give inflation")
    slope = (ten - two).quantize(_CENT, ROUND_HALF_UP)
    change = (unemployment - unemployment_then).quantize(_CENT, ROUND_HALF_UP)
    inflation = ((cpi / cpi_then - 1) * 100).quantize(_CENT, ROUND_HALF_UP)
    regime, rule = decide(slope, change, inflation)
    return Regime(
        regime=regime,
        as_of=day,
        ten_year=ten,
        two_year=two,
        slope=slope,
        unemployment=unemployment,
        unemployment_change=change,
        inflation=inflation,
        rule=rule,
    )


def decide(slope: Decimal, unemployment_change: Decimal, inflation: Decimal) -> tuple[str, str]:
    """The regime for the three figures, and the rule that decided it (see the docstring)."""
    if unemployment_change >= CONTRACTION_RISE:
        return "contraction", (
            f"unemployment rose {unemployment_change} points in 12 months (>= {CONTRACTION_RISE})"
        )
    if unemployment_change <= RECOVERY_FALL and slope >= RECOVERY_SLOPE:
        return "recovery", (
            f"unemployment fell {-unemployment_change} points in 12 months "
            f"(>= {-RECOVERY_FALL}) with a slope of {slope} (>= {RECOVERY_SLOPE})"
        )
    signs = []
    if slope < 0:
        signs.append(f"the curve is inverted (slope {slope})")
    if unemployment_change >= SLOWDOWN_RISE:
        signs.append(f"unemployment rose {unemployment_change} points (>= {SLOWDOWN_RISE})")
    if inflation >= HIGH_INFLATION:
        signs.append(f"inflation is {inflation}% (>= {HIGH_INFLATION}%)")
    if signs:
        return "slowdown", "; ".join(signs)
    return "expansion", "no sign of slowdown, contraction or recovery"
