"""The macro regime from hand-made FRED series: each rule, the figures behind it, the 12-month
look-back, `as_of`, and the errors that name what is missing."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from batonflow.apps.portfolio.macro import Regime, classify, decide
from batonflow.apps.portfolio.model import Series
from batonflow.errors import InvalidInput


def series(key: str, points: dict[str, str]) -> Series:
    return Series(
        key=key,
        dates=tuple(date.fromisoformat(d) for d in points),
        values=tuple(Decimal(v) for v in points.values()),
        source="fred",
    )


def economy(
    *, ten: str, two: str, unrate: tuple[str, str], cpi: tuple[str, str]
) -> dict[str, Series]:
    """Yields on 2024-06-28; unemployment and CPI on 2023-06-01 and 2024-06-01."""
    return {
        "DGS10": series("DGS10", {"2024-06-27": "9.99", "2024-06-28": ten}),
        "DGS2": series("DGS2", {"2024-06-27": "9.99", "2024-06-28": two}),
        "UNRATE": series("UNRATE", {"2023-06-01": unrate[0], "2024-06-01": unrate[1]}),
        "CPIAUCSL": series("CPIAUCSL", {"2023-06-01": cpi[0], "2024-06-01": cpi[1]}),
    }


def test_an_expansion_and_every_figure_behind_it() -> None:
    found = classify(economy(ten="4.25", two="3.75", unrate=("3.6", "3.5"), cpi=("300", "306")))
    assert found == Regime(
        regime="expansion",
        as_of=date(2024, 6, 28),
        ten_year=Decimal("4.25"),
        two_year=Decimal("3.75"),
        slope=Decimal("0.50"),
        unemployment=Decimal("3.5"),
        unemployment_change=Decimal("-0.10"),
        inflation=Decimal("2.00"),
        rule="no sign of slowdown, contraction or recovery",
    )


def test_as_of_reads_each_series_on_or_before_the_day() -> None:
    found = classify(
        economy(ten="4.25", two="3.75", unrate=("3.6", "3.5"), cpi=("300", "306")),
        as_of=date(2024, 6, 27),
    )
    assert found.as_dict() == {
        "regime": "expansion",
        "as_of": "2024-06-27",
        "ten_year": "9.99",
        "two_year": "9.99",
        "slope": "0.00",
        "unemployment": "3.5",
        "unemployment_change": "-0.10",
        "inflation": "2.00",
        "rule": "no sign of slowdown, contraction or recovery",
    }


@pytest.mark.parametrize(
    ("ten", "two", "unrate", "cpi", "regime", "rule"),
    [
        (
            "4.00",
            "4.50",
            ("3.6", "3.7"),
            ("300", "306"),
            "slowdown",
            "the curve is inverted (slope -0.50)",
        ),
        (
            "4.50",
            "4.00",
            ("3.6", "3.8"),
            ("300", "306"),
            "slowdown",
            "unemployment rose 0.20 points (>= 0.2)",
        ),
        (
            "4.50",
            "4.00",
            ("3.6", "3.6"),
            ("300", "315"),
            "slowdown",
            "inflation is 5.00% (>= 5.0%)",
        ),
        (
            "4.00",
            "4.50",
            ("3.6", "3.9"),
            ("300", "318"),
            "slowdown",
            "the curve is inverted (slope -0.50); unemployment rose 0.30 points (>= 0.2); "
            "inflation is 6.00% (>= 5.0%)",
        ),
        (
            "4.00",
            "4.50",
            ("3.6", "4.1"),
            ("300", "306"),
            "contraction",
            "unemployment rose 0.50 points in 12 months (>= 0.5)",
        ),
        (
            "3.50",
            "1.50",
            ("9.9", "9.1"),
            ("300", "303"),
            "recovery",
            "unemployment fell 0.80 points in 12 months (>= 0.5) with a slope of 2.00 (>= 1.0)",
        ),
        (
            "3.50",
            "2.60",
            ("9.9", "9.1"),
            ("300", "303"),
            "expansion",
            "no sign of slowdown, contraction or recovery",
        ),
    ],
)
def test_each_rule(
    ten: str, two: str, unrate: tuple[str, str], cpi: tuple[str, str], regime: str, rule: str
) -> None:
    found = classify(economy(ten=ten, two=two, unrate=unrate, cpi=cpi), as_of=date(2024, 6, 28))
    assert (found.regime, found.rule) == (regime, rule)


def test_decide_thresholds_are_inclusive_where_documented() -> None:
    assert [
        decide(Decimal(slope), Decimal(change), Decimal(inflation))[0]
        for slope, change, inflation in [
            ("0.00", "0.19", "4.99"),
            ("-0.01", "0.00", "2.00"),
            ("1.00", "-0.50", "2.00"),
            ("0.99", "-0.50", "2.00"),
            ("-1.00", "0.49", "9.00"),
            ("3.00", "0.50", "1.00"),
        ]
    ] == ["expansion", "slowdown", "recovery", "expansion", "slowdown", "contraction"]


def test_the_year_before_the_29th_of_february_is_the_28th() -> None:
    data = economy(ten="4.25", two="3.75", unrate=("3.6", "3.5"), cpi=("300", "306"))
    data["UNRATE"] = series(
        "UNRATE", {"2023-02-28": "4.0", "2023-03-01": "9.0", "2024-02-29": "4.6"}
    )
    data["CPIAUCSL"] = series("CPIAUCSL", {"2023-02-28": "300", "2024-02-29": "303"})
    found = classify(data, as_of=date(2024, 6, 28))
    assert (found.unemployment_change, found.inflation, found.regime) == (
        Decimal("0.60"),
        Decimal("1.00"),
        "contraction",
    )


def test_missing_series_are_named_all_at_once() -> None:
    data = economy(ten="4.25", two="3.75", unrate=("3.6", "3.5"), cpi=("300", "306"))
    del data["DGS2"]
    data["CPIAUCSL"] = series("CPIAUCSL", {})
    with pytest.raises(InvalidInput) as raised:
        classify(data)
    assert (str(raised.value), raised.value.details) == (
        "the macro regime needs the FRED series DGS10, DGS2, UNRATE, CPIAUCSL; missing or "
        "empty: DGS2, CPIAUCSL",
        {"missing": ["DGS2", "CPIAUCSL"]},
    )


def test_a_series_too_short_for_the_12_month_look_back_is_named() -> None:
    data = economy(ten="4.25", two="3.75", unrate=("3.6", "3.5"), cpi=("300", "306"))
    data["UNRATE"] = series("UNRATE", {"2023-09-01": "3.6", "2024-06-01": "3.5"})
    with pytest.raises(InvalidInput) as raised:
        classify(data)
    assert str(raised.value) == (
        "UNRATE needs an observation on or before 2023-06-01 (12 months before its observation "
        "of 2024-06-01); it starts on 2023-09-01"
    )


def test_a_day_before_a_series_starts_is_refused() -> None:
    data = economy(ten="4.25", two="3.75", unrate=("3.6", "3.5"), cpi=("300", "306"))
    with pytest.raises(InvalidInput) as raised:
        classify(data, as_of=date(2024, 1, 1))
    assert str(raised.value) == "DGS10 has no observation on or before 2024-01-01"


def test_dates_out_of_order_are_refused() -> None:
    data = economy(ten="4.25", two="3.75", unrate=("3.6", "3.5"), cpi=("300", "306"))
    data["DGS2"] = Series(
        key="DGS2",
        dates=(date(2024, 6, 28), date(2024, 6, 27)),
        values=(Decimal("1"), Decimal("2")),
        source="fred",
    )
    with pytest.raises(InvalidInput) as raised:
        classify(data)
    assert str(raised.value) == "DGS2's dates must be increasing, oldest first"
