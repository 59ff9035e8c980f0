"""Scoring a lead by the rules: every rule firing and not, bands at their edges, clamping, the
model's bounded adjustment, the threshold, and rules that cannot work refused saying why."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from batonflow.apps.sales.scoring import (
    DEFAULT_RULES,
    LeadFacts,
    ScoreBand,
    ScoreRules,
    combine,
    score,
    status_for,
)


def rules(**changes: Any) -> ScoreRules:
    return ScoreRules.model_validate({**DEFAULT_RULES.model_dump(mode="json"), **changes})


def band(low: int, high: int | None, points: int) -> dict[str, Any]:
    return {"min": low, "max": high, "points": points}


def reason(rule: str, points: int, why: str) -> dict[str, Any]:
    return {"source": "rules", "rule": rule, "points": points, "why": why}


def test_a_lead_that_fits_on_every_rule_has_one_reason_per_rule() -> None:
    lead = LeadFacts(
        industry="Software",
        employees=120,
        budget=Decimal("40000"),
        currency="eur",
        title="VP of Engineering",
    )

    assert score(DEFAULT_RULES, lead) == (
        80,
        [
            reason("industry", 25, "software is a target industry"),
            reason("employees", 20, "120 employees is in the 50-250 band"),
            reason("budget", 20, "a budget of 40000 EUR is in the 25000-100000 band"),
            reason("title", 15, "the title 'VP of Engineering' has the keyword 'vp'"),
        ],
    )


def test_a_lead_with_nothing_known_scores_zero_with_no_reasons() -> None:
    assert score(DEFAULT_RULES, LeadFacts()) == (0, [])


def test_rules_that_do_not_fire_give_no_reason() -> None:
    lead = LeadFacts(industry="mining", employees=0, budget=Decimal("1000"), currency="EUR")

    assert score(DEFAULT_RULES, lead) == (0, [])


@pytest.mark.parametrize(
    ("employees", "points", "label"),
    [(1, 5, "1-10"), (9, 5, "1-10"), (10, 10, "10-50"), (249, 20, "50-250"), (250, 25, "250-1000"),
     (1000, 20, "1000+"), (250_000, 20, "1000+")],
)  # fmt: skip
def test_a_band_holds_its_min_and_not_its_max(employees: int, points: int, label: str) -> None:
    assert score(DEFAULT_RULES, LeadFacts(employees=employees)) == (
        points,
        [reason("employees", points, f"{employees} employees is in the {label} band")],
    )


def test_a_budget_in_another_currency_scores_nothing_and_says_so() -> None:
    lead = LeadFacts(budget=Decimal("500000"), currency="USD")

    assert score(DEFAULT_RULES, lead) == (
        0,
        [reason("budget", 0, "a budget in USD is not scored: the budget bands are in EUR")],
    )
    assert score(DEFAULT_RULES, LeadFacts(budget=Decimal("500000"))) == (
        0,
        [reason("budget", 0, "a budget in no currency is not scored: the budget bands are in EUR")],
    )


@pytest.mark.parametrize(
    ("title", "matched"),
    [
        ("Chief Revenue Officer", ("chief", 20)),
        ("Head of Data and VP Sales", ("vp", 15)),  # a tie: the first listed (vp) counts
        ("Chief of Staff, Director", ("chief", 20)),  # the keyword worth most counts
        ("Sales Manager", ("manager", 5)),
        ("MVP evangelist", None),  # "vp" only as a whole word
        ("Headhunter", None),
        ("", None),
    ],
)
def test_the_best_title_keyword_counts_as_a_whole_word(
    title: str, matched: tuple[str, int] | None
) -> None:
    expected = (
        (0, [])
        if matched is None
        else (
            matched[1],
            [reason("title", matched[1], f"the title '{title}' has the keyword '{matched[0]}'")],
        )
    )

    assert score(DEFAULT_RULES, LeadFacts(title=title)) == expected


def test_keywords_of_several_words_and_negative_points() -> None:
    custom = rules(
        title_keywords={"Vice  President": 18, "intern": -10},
        industries={"Gambling": -30},
    )

    assert score(custom, LeadFacts(title="vice president, sales")) == (
        18,
        [reason("title", 18, "the title 'vice president, sales' has the keyword 'vice president'")],
    )
    assert score(custom, LeadFacts(industry="gambling ", title="Marketing Intern")) == (
        0,  # -40 clamped
        [
            reason("industry", -30, "gambling is an industry we do not target"),
            reason("title", -10, "the title 'Marketing Intern' has the keyword 'intern'"),
        ],
    )


def test_points_are_clamped_to_100() -> None:
    generous = rules(industries={"software": 90}, title_keywords={"chief": 90})

    points, reasons = score(generous, LeadFacts(industry="software", title="Chief"))

    assert (points, [r["points"] for r in reasons]) == (100, [90, 90])


def test_the_models_adjustment_is_bounded_by_its_weight() -> None:
    base = [reason("industry", 25, "software is a target industry")]

    assert combine(DEFAULT_RULES, 25, base, 40, "urgent need, budget approved") == (
        40,
        [*base, {"source": "model", "rule": "notes", "points": 15,
                 "why": "urgent need, budget approved"}],
    )  # fmt: skip
    assert combine(DEFAULT_RULES, 25, base, -40, "no budget")[0] == 10
    assert combine(DEFAULT_RULES, 5, [], -10, "just browsing") == (
        0,
        [{"source": "model", "rule": "notes", "points": -10, "why": "just browsing"}],
    )
    assert combine(rules(model_weight=0), 60, [], 20, "keen")[0] == 60
    assert combine(DEFAULT_RULES, 95, [], 15, "keen")[0] == 100


def test_the_threshold_decides_the_status() -> None:
    assert [status_for(DEFAULT_RULES, s) for s in (0, 49, 50, 100)] == [
        "disqualified",
        "disqualified",
        "qualified",
        "qualified",
    ]


def test_rules_normalise_names_and_currency() -> None:
    custom = rules(industries={"  FinTech  ": 20}, budget_currency="usd")

    assert (custom.industries, custom.budget_currency) == ({"fintech": 20}, "USD")


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        (
            {"employee_bands": [band(10, 50, 5), band(40, None, 10)]},
            "employee bands overlap or are out of order: 10-50 then 40+",
        ),
        (
            {"budget_bands": [band(1000, None, 5), band(5000, 9000, 10)]},
            "budget bands overlap or are out of order: 1000+ then 5000-9000",
        ),
        ({"budget_bands": [band(10, 10, 5)]}, "a band's max (10) must be above its min (10)"),
        ({"budget_bands": [band(-5, 10, 5)]}, "greater than or equal to 0"),
        ({"budget_bands": [band(0, 10, 500)]}, "less than or equal to 100"),
        ({"industries": {"software": 101}}, "industry 'software' gives 101 points"),
        ({"industries": {"Software": 1, "software ": 2}}, "'software ' is listed twice"),
        ({"title_keywords": {" ": 5}}, "title keyword names must not be blank"),
        ({"budget_currency": "XYZ"}, "currency 'XYZ' is not one we bill in"),
        ({"threshold": 101}, "less than or equal to 100"),
        ({"model_weight": 25}, "less than or equal to 20"),
        ({"model_weight": -1}, "greater than or equal to 0"),
    ],
)
def test_rules_that_cannot_work_are_refused_saying_why(
    changes: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        rules(**changes)

    assert problem in str(refused.value)


def test_a_band_without_a_max_holds_everything_from_its_min() -> None:
    open_ended = ScoreBand(min=Decimal(100), points=1)

    assert [open_ended.holds(Decimal(v)) for v in (99, 100, 10**9)] == [False, True, True]
