"""Performance and risk figures of a `Valuation`, with every convention stated.

Returns
    Period t runs from date t-1 to date t. A flow counts at the END of its date: it is in V_t
    but earned nothing during period t, so r_t = (V_t - F_t) / V_{t-1} - 1. A deposit therefore
    never shows as a gain. A period that starts with V_{t-1} <= 0 has no capital at risk and is
    left out. V_t - F_t is exact (Decimal); it and V_{t-1} are then rounded to float64 once, and
    the division and every statistic below are float64 (elementwise IEEE operations and numpy
    reductions of fixed order: the same input gives the same bits).
Time-weighted return (TWR)
    cumulative = prod(1 + r_t) - 1; annualised over calendar time,
    (1 + cumulative) ** (365.25 / days) - 1, days from the first to the last date.
Money-weighted return (MWR)
    The annual rate x that makes the flows' present value zero (XIRR): the first value -V_0 (the
    money in at the start), -F_t at each later date (a deposit is money in), +V_T at the end,
    each discounted by (1 + x) ** (days since the first date / 365.25), the TWR's year, so a
    portfolio without flows has MWR == annualised TWR. Solved by Newton steps kept inside a
    sign-changing bracket (a bisection step when Newton would leave it); None without a root.
Volatility
    sample standard deviation (ddof=1) of r_t times sqrt(periods_per_year).
Sharpe
    `risk_free_rate` is ANNUAL; per period it is rf_p = (1 + rf) ** (1 / ppy) - 1.
    mean(r - rf_p) / std(r - rf_p, ddof=1) * sqrt(ppy).
Sortino
    mean(r - rf_p) * ppy / (downside deviation * sqrt(ppy)), the downside deviation being
    sqrt(sum(min(r - rf_p, 0) ** 2) / N) over ALL N periods (not only the losing ones),
    as empyrical computes it. None when there is no downside.
Maximum drawdown
    on the TWR wealth index W (W = 1 at the first date, W_t = W_{t-1} * (1 + r_t)): the lowest
    W_t / max(W_0..W_t) - 1, with the date of that peak and of the trough. The first date is
    part of the index, so a series that starts with a loss is in drawdown from the start.
Benchmark (beta, correlation)
    On the dates the valuation and the benchmark series share: the period returns of W and of
    the benchmark's values between consecutive common dates (so flows stay out, and a date
    missing on either side merges two periods instead of pairing different periods).
    beta = cov(rp, rb) / var(rb) (same ddof on both), correlation = Pearson's.
Concentration
    over the positions' weights (value / total value, cash included, so weights sum to 1 with
    the cash): the largest weight, the Herfindahl index sum(w ** 2), the five largest weights'
    sum.

`value_start` is the value at the first date (that date's flows are in it, as the money the
period starts with); `net_flows` sums the flows after it. Output is JSON-ready and the same to
the byte for the same input: money is a string of a Decimal quantized to 0.01 (half-even),
weights to 0.000001, quantities and prices are exact strings, figures are floats rounded to 10
significant digits, and an undefined figure is None (no NaN or infinity).
"""

from __future__ import annotations

import itertools
import math
import operator
from collections.abc import Sequence
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from typing import Any

import numpy as np

from batonflow.errors import InvalidInput

from .model import Series
from .valuation import CONTEXT, Valuation

CENT = Decimal("0.01")
MICRO = Decimal("0.000001")
YEAR_DAYS = 365.25


def infer_periods(dates: Sequence[date]) -> int:
    """Periods per year from the median spacing of `dates`: 252 daily, 52 weekly, 12 monthly,
    4 quarterly, 1 yearly (252 when there are fewer than two dates)."""
    if len(dates) < 2:
        return 252
    gaps = sorted((b - a).days for a, b in itertools.pairwise(dates))
    median = gaps[len(gaps) // 2]
    for limit, periods in ((4, 252), (10, 52), (45, 12), (120, 4)):
        if median <= limit:
            return periods
    return 1


def period_returns(valuation: Valuation) -> tuple[list[date], np.ndarray]:
    """The time-weighted period returns and the date each period ends on."""
    values = valuation.values
    with localcontext(CONTEXT):  # V_t - F_t is exact; then one rounding to float64 each
        net = np.array(list(map(operator.sub, values[1:], valuation.flows[1:])), dtype=np.float64)
    before = np.array(values[:-1], dtype=np.float64)
    kept = before > 0
    ends = [d for d, keep in zip(valuation.dates[1:], kept.tolist(), strict=True) if keep]
    return ends, net[kept] / before[kept] - 1.0


def compute(
    valuation: Valuation,
    benchmark: Series | None,
    *,
    periods_per_year: int = 252,
    risk_free_rate: float = 0.0,
) -> dict[str, Any]:
    """Every figure of the module docstring for `valuation`, JSON-ready."""
    if periods_per_year < 1 or risk_free_rate <= -1:
        raise InvalidInput(
            f"periods_per_year must be at least 1 (got {periods_per_year}) and risk_free_rate "
            f"above -1 (got {risk_free_rate})"
        )
    ends, r = period_returns(valuation)
    ppy = periods_per_year
    with localcontext(CONTEXT):
        net_flows = sum(valuation.flows[1:], Decimal(0))
    rf_p = (1.0 + risk_free_rate) ** (1.0 / ppy) - 1.0
    first, last = valuation.dates[0], valuation.dates[-1]
    days = (last - first).days
    growth = float(np.prod(1.0 + r)) if r.size else 1.0
    wealth = _wealth(valuation.dates, ends, r)
    return {
        "base_currency": valuation.base_currency,
        "start": first.isoformat(),
        "end": last.isoformat(),
        "periods": int(r.size),
        "periods_per_year": ppy,
        "risk_free_rate": _f(risk_free_rate),
        "value_start": _money(valuation.values[0]),
        "value_end": _money(valuation.values[-1]),
        "net_flows": _money(net_flows),
        "twr": _f(growth - 1.0),
        "twr_annualized": _f(growth ** (YEAR_DAYS / days) - 1.0) if days and growth > 0 else None,
        "mwr_annualized": _f(xirr(_cash_flows(valuation))) if days > 0 else None,
        "volatility": _f(_std(r) * math.sqrt(ppy)) if r.size > 1 else None,
        "sharpe": _f(sharpe(r, rf_p, ppy)),
        "sortino": _f(sortino(r, rf_p, ppy)),
        "max_drawdown": max_drawdown(valuation.dates, wealth),
        "benchmark": _versus(valuation.dates, wealth, benchmark),
        "concentration": _concentration(valuation),
        "positions": [
            {
                "symbol": p.symbol,
                "quantity": str(p.quantity),
                "price": str(p.price),
                "currency": p.currency,
                "market_value": _money(p.value),
                "weight": _weight(p.weight),
            }
            for p in valuation.positions
        ],
        "cash": {ccy: _money(amount) for ccy, amount in valuation.cash.items()},
        "by_currency": {ccy: _money(v) for ccy, v in valuation.by_currency.items()},
    }


def sharpe(r: np.ndarray, rf_p: float, ppy: int) -> float | None:
    if r.size < 2:
        return None
    excess = r - rf_p
    spread = _std(excess)
    return float(np.mean(excess) / spread * math.sqrt(ppy)) if spread > 0 else None


def sortino(r: np.ndarray, rf_p: float, ppy: int) -> float | None:
    if r.size < 2:
        return None
    excess = r - rf_p
    downside = math.sqrt(float(np.mean(np.minimum(excess, 0.0) ** 2)))
    if downside == 0:
        return None
    return float(np.mean(excess)) * ppy / (downside * math.sqrt(ppy))


def max_drawdown(dates: Sequence[date], wealth: np.ndarray) -> dict[str, Any]:
    """The deepest fall of `wealth` (one value per date) from its running peak."""
    peaks = np.maximum.accumulate(wealth)
    falls = wealth / peaks - 1.0
    trough = int(np.argmin(falls))
    peak = int(np.argmax(wealth[: trough + 1]))
    if falls[trough] >= 0:
        return {"depth": 0.0, "peak": None, "trough": None}
    return {
        "depth": _f(float(falls[trough])),
        "peak": dates[peak].isoformat(),
        "trough": dates[trough].isoformat(),
    }


def xirr(flows: Sequence[tuple[float, float]]) -> float | None:
    """The annual rate x with sum(amount / (1 + x) ** years) == 0, for (years, amount) pairs."""
    years = np.array([y for y, _ in flows])
    amounts = np.array([a for _, a in flows])
    if not (amounts > 0).any() or not (amounts < 0).any():
        return None

    def npv(x: float) -> float:
        with np.errstate(over="ignore"):  # near -100% over decades: +-inf still has a sign
            return float(np.sum(amounts * (1.0 + x) ** -years))

    lo, hi = -0.999999, 1.0
    while npv(lo) * npv(hi) > 0:
        if hi > 1e6:
            return None
        hi *= 4.0
    x = 0.1 if lo < 0.1 < hi else (lo + hi) / 2
    for _ in range(200):
        value = npv(x)
        if value == 0:
            return x
        if (npv(lo) > 0) == (value > 0):
            lo = x
        else:
            hi = x
        with np.errstate(over="ignore"):
            slope = float(np.sum(-years * amounts * (1.0 + x) ** (-years - 1.0)))
        step = x - value / slope if slope else math.nan
        x = step if lo < step < hi else (lo + hi) / 2
        if hi - lo < 1e-15 or abs(value) < 1e-12 * float(np.abs(amounts).max()):
            break
    return x


def _cash_flows(valuation: Valuation) -> list[tuple[float, float]]:
    first = valuation.dates[0]
    flows = [(0.0, -float(valuation.values[0]))]
    for d, flow in zip(valuation.dates[1:], valuation.flows[1:], strict=True):
        if flow:
            flows.append(((d - first).days / YEAR_DAYS, -float(flow)))
    flows.append(((valuation.dates[-1] - first).days / YEAR_DAYS, float(valuation.values[-1])))
    return flows


def _wealth(dates: Sequence[date], ends: list[date], r: np.ndarray) -> np.ndarray:
    """The TWR wealth index at every valuation date (flat over periods left out)."""
    growth = dict(zip(ends, (1.0 + r).tolist(), strict=True))
    return np.cumprod([1.0] + [growth.get(d, 1.0) for d in dates[1:]])


def _versus(
    dates: Sequence[date], wealth: np.ndarray, benchmark: Series | None
) -> dict[str, Any] | None:
    if benchmark is None:
        return None
    ours = dict(zip(dates, wealth.tolist(), strict=True))
    common = sorted(set(ours) & set(benchmark.dates))
    theirs = dict(zip(benchmark.dates, benchmark.values, strict=True))
    rp = np.diff([ours[d] for d in common]) / np.array([ours[d] for d in common[:-1]])
    b = np.array([float(theirs[d]) for d in common])
    rb = np.diff(b) / b[:-1] if b.size > 1 else np.array([])
    out: dict[str, Any] = {"key": benchmark.key, "periods": int(rb.size)}
    if rb.size < 2 or _std(rb) == 0:
        return out | {"beta": None, "correlation": None}
    cov = float(np.cov(rp, rb, ddof=1)[0, 1])
    beta = cov / float(np.var(rb, ddof=1))
    spread = _std(rp)
    correlation = cov / (spread * _std(rb)) if spread > 0 else None
    return out | {"beta": _f(beta), "correlation": _f(correlation)}


def _concentration(valuation: Valuation) -> dict[str, str]:
    with localcontext(CONTEXT):
        weights = sorted((p.weight for p in valuation.positions), reverse=True)
        return {
            "largest_weight": _weight(weights[0] if weights else Decimal(0)),
            "herfindahl": _weight(sum((w * w for w in weights), Decimal(0))),
            "top5_share": _weight(sum(weights[:5], Decimal(0))),
        }


def _std(x: np.ndarray) -> float:
    """Sample standard deviation, 0 for a constant series (no rounding residue)."""
    if x.size < 2 or float(x.max()) == float(x.min()):
        return 0.0
    return float(np.std(x, ddof=1))


def _f(x: float | None) -> float | None:
    if x is None or not math.isfinite(x):
        return None
    return float(f"{x:.10g}")


def _money(amount: Decimal) -> str:
    return str(amount.quantize(CENT, rounding=ROUND_HALF_EVEN, context=CONTEXT))


def _weight(weight: Decimal) -> str:
    return str(weight.quantize(MICRO, rounding=ROUND_HALF_EVEN, context=CONTEXT))
