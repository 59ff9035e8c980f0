"""The metrics against empyrical (the library quant tooling is built on) run on the same
returns, the money-weighted return against scipy's root finder, and against short series worked
by hand. Each pitfall has its test: periods per year, calendar against 252-day years, an annual
risk-free rate, sample against population deviation, Sortino's denominator, a series that
starts with a loss, a benchmark on other dates, and a deposit that is not a gain."""

from __future__ import annotations

import json
import math
from datetime import date, timedelta
from decimal import Decimal

import empyrical
import numpy as np
import pytest
import scipy.optimize

from batonflow.apps.portfolio.metrics import compute, infer_periods, period_returns, xirr
from batonflow.apps.portfolio.model import Series
from batonflow.apps.portfolio.valuation import PositionValue, Valuation
from batonflow.errors import InvalidInput

D = Decimal


def month_ends(count: int, start: date = date(2020, 1, 31)) -> list[date]:
    out, day = [], start
    while len(out) < count:
        out.append(day)
        day = (day.replace(day=1) + timedelta(days=62)).replace(day=1) - timedelta(days=1)
    return out


def valuation(
    values: list[str],
    dates: list[date],
    flows: list[str] | None = None,
    positions: tuple[PositionValue, ...] = (),
) -> Valuation:
    return Valuation(
        base_currency="USD",
        dates=tuple(dates),
        values=tuple(D(v) for v in values),
        flows=tuple(D(f) for f in flows or ["0"] * len(values)),
        positions=positions,
        cash={},
        by_currency={},
    )


def random_valuation(count: int, seed: int = 7) -> tuple[Valuation, np.ndarray]:
    """Monthly values from seeded returns; the returns read back from the Decimal values."""
    rng = np.random.default_rng(seed)
    values = 1_000_000 * np.cumprod(np.concatenate([[1.0], 1 + rng.normal(0.006, 0.04, count)]))
    valued = valuation([f"{v:.2f}" for v in values], month_ends(count + 1))
    return valued, period_returns(valued)[1]


def test_every_figure_matches_empyrical_on_the_same_monthly_returns() -> None:
    valued, r = random_valuation(60)
    rf = 0.03
    rf_p = (1 + rf) ** (1 / 12) - 1  # the annual rate per month
    got = compute(valued, None, periods_per_year=12, risk_free_rate=rf)
    figures = {k: got[k] for k in ("twr", "volatility", "sharpe", "sortino")}
    assert figures | {"max_drawdown": got["max_drawdown"]["depth"]} == pytest.approx(
        {
            "twr": empyrical.cum_returns_final(r),
            "volatility": empyrical.annual_volatility(r, annualization=12),
            "sharpe": empyrical.sharpe_ratio(r, risk_free=rf_p, annualization=12),
            "sortino": empyrical.sortino_ratio(r, required_return=rf_p, annualization=12),
            "max_drawdown": empyrical.max_drawdown(r),
        },
        rel=1e-9,
    )


def test_periods_per_year_scales_volatility_and_is_inferred_from_the_dates() -> None:
    valued, r = random_valuation(36)
    monthly = compute(valued, None, periods_per_year=12)["volatility"]
    daily = compute(valued, None, periods_per_year=252)["volatility"]
    assert (monthly, daily) == pytest.approx(
        (
            empyrical.annual_volatility(r, period="monthly"),
            empyrical.annual_volatility(r, period="daily"),
        ),
        rel=1e-9,
    )
    weekdays = [d for d in (date(2024, 1, 1) + timedelta(n) for n in range(60)) if d.weekday() < 5]
    weeks = [date(2024, 1, 5) + timedelta(7 * n) for n in range(20)]
    quarters = [date(2024, 3, 31), date(2024, 6, 30), date(2024, 9, 30), date(2024, 12, 31)]
    assert [infer_periods(d) for d in (month_ends(24), weekdays, weeks, quarters, [])] == [
        12,
        252,
        52,
        4,
        252,
    ]


def test_the_risk_free_rate_is_annual() -> None:
    valued, r = random_valuation(48)
    got = compute(valued, None, periods_per_year=12, risk_free_rate=0.05)["sharpe"]
    per_month = empyrical.sharpe_ratio(r, risk_free=1.05 ** (1 / 12) - 1, annualization=12)
    taken_as_monthly = empyrical.sharpe_ratio(r, risk_free=0.05, annualization=12)
    assert got == pytest.approx(per_month, rel=1e-9)
    assert got != pytest.approx(taken_as_monthly, rel=1e-3)


def test_the_annualised_twr_is_empyrical_s_when_calendar_and_periods_agree() -> None:
    # four years of 365.25 days on average (one leap day): the calendar year and the yearly
    # period are the same length, so our calendar annualisation is empyrical's period one
    years = [date(2020 + n, 1, 1) for n in range(5)]
    valued = valuation(["100", "112", "98", "120", "131"], years)
    r = period_returns(valued)[1]
    got = compute(valued, None, periods_per_year=1)["twr_annualized"]
    assert got == pytest.approx(empyrical.annual_return(r, annualization=1), rel=1e-9)


def test_daily_returns_are_annualised_over_calendar_days_not_252_day_years() -> None:
    # the pitfall: 2024 has 262 weekdays, so counting 252 periods to a year stretches it by 4%
    days = [date(2024, 1, 1) + timedelta(n) for n in range(366)]
    weekdays = [d for d in days if d.weekday() < 5]
    rng = np.random.default_rng(3)
    values = 100 * np.cumprod(np.concatenate([[1.0], 1 + rng.normal(0.0004, 0.01, 261)]))
    valued = valuation([f"{v:.4f}" for v in values], weekdays)
    r = period_returns(valued)[1]
    got = compute(valued, None, periods_per_year=infer_periods(weekdays))
    span = (weekdays[-1] - weekdays[0]).days / 365.25
    assert (got["periods_per_year"], got["twr_annualized"]) == (
        252,
        pytest.approx((1 + empyrical.cum_returns_final(r)) ** (1 / span) - 1, rel=1e-9),
    )
    assert got["twr_annualized"] != pytest.approx(empyrical.annual_return(r), rel=1e-3)
    assert got["volatility"] == pytest.approx(empyrical.annual_volatility(r), rel=1e-9)


def test_the_money_weighted_return_is_the_root_scipy_finds() -> None:
    days = month_ends(25)
    rng = np.random.default_rng(5)
    flows = ["10000"] + [f"{f:.2f}" for f in rng.choice([0, 0, 500, -300], 24)]
    values, held = [], 0.0
    for flow, growth in zip(flows, 1 + rng.normal(0.005, 0.03, 25), strict=True):
        held = held * growth + float(flow)
        values.append(f"{held:.2f}")
    valued = valuation(values, days, flows=flows)
    t = [(d - days[0]).days / 365.25 for d in days]
    cash = [-float(values[0])] + [-float(f) for f in flows[1:]]
    cash[-1] += float(values[-1])

    def worth(rate: float) -> float:
        return sum(c / (1 + rate) ** years for c, years in zip(cash, t, strict=True))

    got = compute(valued, None, periods_per_year=12)["mwr_annualized"]
    assert got == pytest.approx(scipy.optimize.brentq(worth, -0.9, 10.0, xtol=1e-14), rel=1e-9)


# 100 -> 110 -> 104.5: returns +10% then -5%, mean 2.5%, deviations 7.5% either side.
TWO = valuation(["100", "110", "104.5"], [date(2023, 1, 1), date(2024, 1, 1), date(2025, 1, 1)])


def test_two_periods_by_hand() -> None:
    years = 731 / 365.25
    assert compute(TWO, None, periods_per_year=1) == {
        "base_currency": "USD",
        "start": "2023-01-01",
        "end": "2025-01-01",
        "periods": 2,
        "periods_per_year": 1,
        "risk_free_rate": 0.0,
        "value_start": "100.00",
        "value_end": "104.50",
        "net_flows": "0.00",
        "twr": 0.045,
        "twr_annualized": pytest.approx(1.045 ** (1 / years) - 1, rel=1e-9),
        # no flows: the money-weighted rate is the time-weighted one
        "mwr_annualized": pytest.approx(1.045 ** (1 / years) - 1, rel=1e-9),
        # sample deviation sqrt(2 x 0.075^2 / 1) = 0.10607 (the population one is 0.075)
        "volatility": pytest.approx(math.sqrt(0.01125), rel=1e-9),
        "sharpe": pytest.approx(0.025 / math.sqrt(0.01125), rel=1e-9),
        # downside deviation sqrt((0 + 0.05^2) / 2): every period in the denominator, so 0.7071;
        # dividing by the one losing period alone would give 0.5
        "sortino": pytest.approx(0.025 / math.sqrt(0.0025 / 2), rel=1e-9),
        "max_drawdown": {
            "depth": pytest.approx(-0.05, rel=1e-9),
            "peak": "2024-01-01",
            "trough": "2025-01-01",
        },
        "benchmark": None,
        "concentration": {
            "largest_weight": "0.000000",
            "herfindahl": "0.000000",
            "top5_share": "0.000000",
        },
        "positions": [],
        "cash": {},
        "by_currency": {},
    }


def test_a_series_that_starts_with_a_loss_is_in_drawdown_from_the_start() -> None:
    valued = valuation(["100", "90", "95", "80", "120"], month_ends(5))
    r = period_returns(valued)[1]
    assert compute(valued, None, periods_per_year=12)["max_drawdown"] == {
        "depth": pytest.approx(-0.2, rel=1e-9),
        "peak": "2020-01-31",
        "trough": "2020-04-30",
    }
    assert empyrical.max_drawdown(r) == pytest.approx(-0.2, rel=1e-9)


def test_a_deposit_is_not_a_gain() -> None:
    days = month_ends(3)
    # +10% in the first month; then 150 deposited at the end of the second, a flat month
    valued = valuation(["100", "110", "260"], days, flows=["100", "0", "150"])
    got = compute(valued, None, periods_per_year=12)
    assert (got["twr"], got["net_flows"], period_returns(valued)[1].tolist()) == (
        pytest.approx(0.1, rel=1e-12),
        "150.00",
        [pytest.approx(0.1, rel=1e-12), 0.0],
    )
    # money-weighted: the rate at which -100 then -150 grow into 260
    rate = got["mwr_annualized"]
    t = [(d - days[0]).days / 365.25 for d in days]
    assert -100 - 150 / (1 + rate) ** t[2] + 260 / (1 + rate) ** t[2] == pytest.approx(0, abs=1e-6)


def test_xirr_solves_known_rates() -> None:
    assert [
        xirr([(0, -100), (1, 110)]),
        xirr([(0, -100), (2, 121)]),
        xirr([(0, -100), (1, -100), (2, 231)]),
        xirr([(0, 100), (1, 10)]),
    ] == [
        pytest.approx(0.1, rel=1e-12),
        pytest.approx(0.1, rel=1e-12),
        pytest.approx(0.1, rel=1e-12),
        None,  # money only out: no rate
    ]


def test_beta_pairs_returns_over_the_dates_both_series_have() -> None:
    days = month_ends(7)
    valued = valuation(["100", "104", "101", "108", "110", "107", "115"], days)
    # the benchmark has no close on days[2] and one on a date the portfolio lacks
    extra = date(2020, 5, 15)
    bench_days = [days[0], days[1], days[3], extra, days[4], days[5], days[6]]
    bench = Series(
        "SPY",
        tuple(bench_days),
        tuple(D(v) for v in ["50", "51", "53", "52", "54", "53", "56"]),
        "test",
    )
    common_p = np.array([100, 104, 108, 110, 107, 115], dtype=float)
    common_b = np.array([50, 51, 53, 54, 53, 56], dtype=float)
    rp, rb = np.diff(common_p) / common_p[:-1], np.diff(common_b) / common_b[:-1]
    got = compute(valued, bench, periods_per_year=12)["benchmark"]
    assert got == {
        "key": "SPY",
        "periods": 5,
        "beta": pytest.approx(empyrical.beta(rp, rb), rel=1e-9),
        "correlation": pytest.approx(np.corrcoef(rp, rb)[0, 1], rel=1e-9),
    }


def test_concentration_and_positions() -> None:
    weights = ["0.4", "0.3", "0.1", "0.05", "0.05", "0.05"]  # and 0.05 in cash
    positions = tuple(
        PositionValue(f"S{i}", D(10), D(w) * 100, "USD", D(w) * 1000, D(w))
        for i, w in enumerate(weights)
    )
    valued = valuation(["1000", "1000"], month_ends(2), positions=positions)
    got = compute(valued, None)
    assert (got["concentration"], got["positions"][0]) == (
        {"largest_weight": "0.400000", "herfindahl": "0.267500", "top5_share": "0.900000"},
        {
            "symbol": "S0",
            "quantity": "10",
            "price": "40.0",
            "currency": "USD",
            "market_value": "400.00",
            "weight": "0.400000",
        },
    )


def test_the_output_is_json_and_the_same_every_time() -> None:
    valued, _ = random_valuation(120, seed=11)
    bench = Series("B", valued.dates, valued.values, "test")
    first = json.dumps(compute(valued, bench, periods_per_year=12, risk_free_rate=0.02))
    assert json.dumps(compute(valued, bench, periods_per_year=12, risk_free_rate=0.02)) == first
    assert json.loads(first)["benchmark"] == {
        "key": "B",
        "periods": 120,
        "beta": 1.0,
        "correlation": 1.0,
    }


def test_a_single_date_has_no_rates() -> None:
    got = compute(valuation(["500"], [date(2024, 1, 31)], flows=["500"]), None)
    rates = ("twr", "twr_annualized", "mwr_annualized", "volatility", "sharpe", "sortino")
    assert ({k: got[k] for k in rates}, got["max_drawdown"], got["periods"]) == (
        {
            "twr": 0.0,
            "twr_annualized": None,
            "mwr_annualized": None,
            "volatility": None,
            "sharpe": None,
            "sortino": None,
        },
        {"depth": 0.0, "peak": None, "trough": None},
        0,
    )


def test_impossible_conventions_are_refused() -> None:
    with pytest.raises(InvalidInput) as raised:
        compute(TWO, None, periods_per_year=0)
    assert str(raised.value) == (
        "periods_per_year must be at least 1 (got 0) and risk_free_rate above -1 (got 0.0)"
    )
