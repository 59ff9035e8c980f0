"""A narrative states only computed numbers: what is extracted from the text, which display
forms of a computed value match, what is exempt, and the error that lists the offenders."""

from __future__ import annotations

from decimal import Decimal

import pytest

from batonflow.apps.portfolio.narrative import (
    Stated,
    numbers_in,
    stated,
    unsupported,
    validate,
)
from batonflow.errors import InvalidInput

RESULT = {
    "positions": [
        {
            "symbol": "AAPL",
            "quantity": "10",
            "price": "123.456",
            "market_value": "1234.56",
            "weight": "0.4123",
            "currency": "USD",
        },
        {
            "symbol": "BRK.B",
            "quantity": 4,
            "price": 312.5,
            "market_value": "1250",
            "weight": "0.5877",
            "currency": "USD",
        },
    ],
    "metrics": {
        "twr": "0.1234",
        "max_drawdown": "-0.125",
        "volatility": 0.18765,
        "total_value": Decimal("1234567.89"),
        "tracking_error_bp": "42",
        "benchmark": "S&P 500",
        "as_of": "2009-12-31",
        "beta": "1.05",
        "alive": True,
    },
    "narrative": "The portfolio returned 99.9% (the narrative does not vouch for itself).",
}


def forms(text: str) -> list[tuple[str, str, int, bool, str, int, bool]]:
    return [
        (s.text, str(s.magnitude), s.places, s.negative, s.unit, s.scale, s.bare)
        for s in stated(text)
    ]


def test_every_written_form_of_a_number_is_extracted() -> None:
    text = (
        "Up 12.5% (or 12.5 % or 12.5 percent), down -3.2% and \u22124.1, a value of 1,234.56 and "
        "$1,234, -$40, $-41, €12.5, £7, .5, 25bp, 30 bps, 15 basis points, $1.2 million, "
        "4.5bn and 3 thousand."
    )
    assert forms(text) == [
        ("12.5%", "12.5", 1, False, "percent", 0, False),
        ("12.5 %", "12.5", 1, False, "percent", 0, False),
        ("12.5 percent", "12.5", 1, False, "percent", 0, False),
        ("-3.2%", "3.2", 1, True, "percent", 0, False),
        ("\u22124.1", "4.1", 1, True, "plain", 0, False),
        ("1,234.56", "1234.56", 2, False, "plain", 0, False),
        ("$1,234", "1234", 0, False, "plain", 0, False),
        ("-$40", "40", 0, True, "plain", 0, False),
        ("$-41", "41", 0, True, "plain", 0, False),
        ("€12.5", "12.5", 1, False, "plain", 0, False),
        ("£7", "7", 0, False, "plain", 0, False),
        (".5", "0.5", 1, False, "plain", 0, False),
        ("25bp", "25", 0, False, "bp", 0, False),
        ("30 bps", "30", 0, False, "bp", 0, False),
        ("15 basis points", "15", 0, False, "bp", 0, False),
        ("$1.2 million", "1.2", 1, False, "plain", 6, False),
        ("4.5bn", "4.5", 1, False, "plain", 9, False),
        ("3 thousand", "3", 0, False, "plain", 3, False),
    ]


def test_names_units_dates_and_ranges_are_not_figures() -> None:
    text = (
        "DGS10 and Q3 and the 10y yield, the 2nd year, a 12-month window and 30-day volatility; "
        "on 2009-12-31, in 2009-12, on 12/31/2009, on 31 December, on Dec 31st, from 2019-2021; "
        "a 3-4 range; version 1.2.3."
    )
    assert forms(text) == [
        ("2019", "2019", 0, False, "plain", 0, True),
        ("2021", "2021", 0, False, "plain", 0, True),
        ("3", "3", 0, False, "plain", 0, True),
        ("4", "4", 0, False, "plain", 0, True),
        ("1.2", "1.2", 1, False, "plain", 0, False),
    ]


def test_a_year_and_a_small_count_are_exempt_other_bare_numbers_are_not() -> None:
    found = {s.text: s.exempt for s in stated("0 1 10 11 1899 1900 2099 2100 7.0 7% $7")}
    assert found == {
        "0": True,
        "1": True,
        "10": True,
        "11": False,
        "1899": False,
        "1900": True,
        "2099": True,
        "2100": False,
        "7.0": False,
        "7%": False,
        "$7": False,
    }


def test_numbers_of_a_result_are_found_at_any_depth_but_not_in_its_narrative() -> None:
    assert sorted(numbers_in(RESULT)) == sorted(
        Decimal(v)
        for v in (
            "10",
            "123.456",
            "1234.56",
            "0.4123",
            "4",
            "312.5",
            "1250",
            "0.5877",
            "0.1234",
            "-0.125",
            "0.18765",
            "1234567.89",
            "42",
            "1.05",
        )
    )


@pytest.mark.parametrize(
    "text",
    [
        "The portfolio returned 12.3% (12.34% exactly), the TWR was 0.12 as a fraction.",
        "Its largest drawdown was 12.5%, written with its sign -12.5%, or -0.125.",
        "Volatility ran at 18.8% (0.188, 0.19, 18.77%).",
        "AAPL: 10 shares at 123.46 (123.5, $123), worth $1,234.56 or $1,235 or 1,234.6.",
        "BRK.B: 4 shares at $312.50, worth $1,250 or $1.25 thousand, 58.8% of the portfolio.",
        "In total $1.2 million ($1.23 million, 1,234,568 exactly).",
        "Tracking error 42bp, beta 1.05 against the S&P 500 on 2009-12-31.",
        "Two holdings, three years since 2006, rounded half-even 0.1234 shows as 12%.",
    ],
)
def test_a_narrative_of_computed_figures_passes(text: str) -> None:
    assert unsupported(text, RESULT) == []
    validate(text, RESULT)


def test_invented_misrounded_and_wrongly_signed_figures_are_listed_once_each() -> None:
    text = (
        "The portfolio returned 12.4% (not 12.3%), made 99.9%, gained -12.3%, holds 11 "
        "positions worth $1,300 and $1.3 million, with a drawdown of -12.5% and -12.4%; "
        "again 12.4%. Tracking error 43bp."
    )
    assert unsupported(text, RESULT) == [
        "12.4%",
        "99.9%",
        "-12.3%",
        "11",
        "$1,300",
        "$1.3 million",
        "-12.4%",
        "43bp",
    ]


def test_validate_raises_with_the_offending_numbers() -> None:
    with pytest.raises(InvalidInput) as raised:
        validate("Up 14% with a Sharpe of 2.5, in 2009.", RESULT)
    assert (str(raised.value), raised.value.details) == (
        "the narrative states numbers the computed result does not hold: 14%, 2.5; state only "
        "computed figures (as shown, rounded, or as a percentage of a fraction)",
        {"numbers": ["14%", "2.5"]},
    )


def test_a_number_inside_a_result_phrase_is_the_result_s_own() -> None:
    result = {"benchmark": "S&P 500", "series": "DGS10", "value": "1"}
    assert unsupported("Against the S&P 500 index: 500.", result) == ["500"]


def test_a_stated_percent_matches_a_value_already_in_percent() -> None:
    assert unsupported("Inflation was 3.4% and 3.35%.", {"inflation": "3.35"}) == []


def test_an_empty_result_supports_only_exempt_numbers() -> None:
    assert unsupported("Five holdings in 2024, 3 of them new; up 4%.", {}) == ["4%"]


def test_stated_carries_the_display_precision() -> None:
    assert stated("1.50") == [
        Stated(
            text="1.50",
            magnitude=Decimal("1.50"),
            places=2,
            negative=False,
            unit="plain",
            scale=0,
            bare=False,
        )
    ]
    assert unsupported("1.50", {"x": "1.5"}) == []
    assert unsupported("1.50", {"x": "1.49"}) == ["1.50"]
    assert unsupported("1.5", {"x": "1.49"}) == []
