"""The discount policy and its judge, as pure code: bands by deal size, product maxima and
floors, approval thresholds by role, the round limit; and a policy that does not hold together
is refused saying why."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import pytest
from pydantic import ValidationError

from batonflow.apps.sales.policy import (
    Deal,
    Line,
    Policy,
    Proposal,
    Verdict,
    ceiling,
    floor_ceiling,
    judge,
)
from batonflow.errors import InvalidInput

RULES: dict[str, Any] = {
    "bands": [
        {"below": "10000", "max_discount": "10"},
        {"below": "50000", "max_discount": "15"},
        {"max_discount": "20"},
    ],
    "products": [
        {"sku": "SEAT", "max_discount": "12", "floor_price": "80"},
        {"sku": "SUPPORT", "floor_price": "900"},
    ],
    "reviewer_above": "20",
    "admin_above": "30",
    "max_rounds": 3,
}
POLICY = Policy.model_validate(RULES)


def deal(*lines: tuple[str, str, str], currency: str = "EUR") -> Deal:
    return Deal(
        currency,
        tuple(
            Line(position, sku, D(quantity), D(price))
            for position, (sku, quantity, price) in enumerate(lines, start=1)
        ),
    )


SMALL = deal(("SEAT", "50", "100"), ("SUPPORT", "1", "1000"))  # 6000 EUR
MEDIUM = deal(("SEAT", "200", "100"), ("TRAINING", "10", "1000"))  # 30000 EUR
LARGE = deal(("SEAT", "500", "100"), ("TRAINING", "50", "1000"))  # 100000 EUR


def offer(*discounts: str, round: int = 1) -> Proposal:
    return Proposal({n: D(d) for n, d in enumerate(discounts, start=1)}, round=round)


def test_a_discount_within_the_band_is_within() -> None:
    assert judge(POLICY, MEDIUM, offer("12", "12")) == Verdict(
        status="within",
        role=None,
        reasons=["12 % overall is within the maximum of 15 % for deals below 50000 EUR"],
        gross=D("30000"),
        net=D("26400.00"),
        discount=D("12.00"),
        band_max=D("15"),
    )


@pytest.mark.parametrize(
    ("size", "band"),
    [("0.01", 1), ("9999.99", 1), ("10000", 2), ("49999.99", 2), ("50000", 3), ("1E+9", 3)],
)
def test_a_band_holds_the_deals_below_its_amount_and_the_last_the_rest(
    size: str, band: int
) -> None:
    assert POLICY.band_for(D(size)) == (band, POLICY.bands[band - 1])


def test_above_the_bands_and_the_products_maximum_a_reviewer_approves() -> None:
    assert judge(POLICY, MEDIUM, offer("16", "16")) == Verdict(
        status="needs_approval",
        role="reviewer",
        reasons=[
            "line 1 (SEAT) at 16 % off is above the product's maximum of 12 %",
            "16 % overall is above the maximum of 15 % for deals below 50000 EUR",
        ],
        gross=D("30000"),
        net=D("25200.00"),
        discount=D("16.00"),
        band_max=D("15"),
    )


def test_the_overall_discount_is_weighted_by_each_lines_list_value() -> None:
    # 12 % of 20000 and 18 % of 10000: 4200 of 30000 is 14 %, within 15 %.
    verdict = judge(POLICY, MEDIUM, offer("12", "18"))
    assert (verdict.status, verdict.discount, verdict.net) == ("within", D("14.00"), D("25800.00"))


def test_a_discount_above_the_reviewer_threshold_needs_a_reviewer_even_within_the_band() -> None:
    # 18.5 % overall is within the large band's 20 %, but one line at 25 % is above 20 %.
    assert judge(POLICY, LARGE, offer("12", "25")) == Verdict(
        status="needs_approval",
        role="reviewer",
        reasons=["a discount of 25 % is above 20 %, which a reviewer approves"],
        gross=D("100000"),
        net=D("81500.00"),
        discount=D("18.50"),
        band_max=D("20"),
    )


def test_a_discount_above_the_admin_threshold_needs_an_admin() -> None:
    assert judge(POLICY, LARGE, offer("12", "35")) == Verdict(
        status="needs_approval",
        role="admin",
        reasons=[
            "23.5 % overall is above the maximum of 20 % for deals of 50000 EUR or more",
            "a discount of 35 % is above 30 %, which an admin approves",
        ],
        gross=D("100000"),
        net=D("76500.00"),
        discount=D("23.50"),
        band_max=D("20"),
    )


def test_without_thresholds_anything_over_the_maximum_is_a_reviewers() -> None:
    lax = Policy.model_validate(RULES | {"reviewer_above": None, "admin_above": None})
    verdict = judge(lax, LARGE, offer("12", "60"))
    assert (verdict.status, verdict.role) == ("needs_approval", "reviewer")
    assert verdict.reasons == [
        "36 % overall is above the maximum of 20 % for deals of 50000 EUR or more"
    ]


def test_below_a_products_floor_is_refused() -> None:
    assert judge(POLICY, SMALL, Proposal({2: D("15")})) == Verdict(
        status="refused",
        role=None,
        reasons=["line 2 (SUPPORT) at 15 % off sells at 850 EUR a unit, below its floor of 900"],
        gross=D("6000"),
        net=D("5850.00"),
        discount=D("2.50"),
        band_max=D("10"),
    )


def test_a_floor_refusal_lists_the_over_policy_reasons_too() -> None:
    verdict = judge(POLICY, MEDIUM, offer("25", "0"))
    assert verdict.status == "refused"
    assert verdict.reasons == [
        "line 1 (SEAT) at 25 % off sells at 75 EUR a unit, below its floor of 80",
        "line 1 (SEAT) at 25 % off is above the product's maximum of 12 %",
        "16.67 % overall is above the maximum of 15 % for deals below 50000 EUR",
        "a discount of 25 % is above 20 %, which a reviewer approves",
    ]


def test_a_round_beyond_the_limit_is_refused() -> None:
    assert judge(POLICY, MEDIUM, offer("12", "12", round=3)).status == "within"
    verdict = judge(POLICY, MEDIUM, offer("12", "12", round=4))
    assert (verdict.status, verdict.reasons) == (
        "refused",
        ["round 4 is beyond the policy's limit of 3 rounds"],
    )


def test_lines_a_proposal_leaves_out_keep_their_discount() -> None:
    priced = Deal("EUR", (Line(1, "SEAT", D(200), D(100), D("0.05")), MEDIUM.lines[1]))
    verdict = judge(POLICY, priced, Proposal({2: D("10")}))
    # 5 % of 20000 and 10 % of 10000: 2000 of 30000.
    assert (verdict.discount, verdict.net) == (D("6.67"), D("28000.00"))


def test_net_amounts_round_to_the_currencys_minor_unit() -> None:
    yen = deal(("TRAINING", "3", "333"), currency="JPY")
    verdict = judge(POLICY, yen, offer("7.5"))
    assert (verdict.gross, verdict.net) == (D("999"), D("924"))  # 924.075 yen


def test_a_deal_without_lines_has_no_discount() -> None:
    verdict = judge(POLICY, Deal("EUR", ()), Proposal({}))
    assert (verdict.status, verdict.gross, verdict.net, verdict.discount) == (
        "within",
        D(0),
        D(0),
        D("0.00"),
    )


@pytest.mark.parametrize(
    ("discounts", "message"),
    [
        ({3: D(5)}, "the deal has no line 3; its lines are [1, 2]"),
        ({1: D(101)}, "line 1's discount is a percentage from 0 to 100, not 101"),
        ({2: D(-1)}, "line 2's discount is a percentage from 0 to 100, not -1"),
    ],
)
def test_a_proposal_off_the_deal_is_invalid(discounts: dict[int, D], message: str) -> None:
    with pytest.raises(InvalidInput) as error:
        judge(POLICY, MEDIUM, Proposal(discounts))
    assert error.value.message == message


def test_what_the_agent_may_give_a_line_on_its_own() -> None:
    assert [ceiling(POLICY, MEDIUM, line) for line in MEDIUM.lines] == [D("12"), D("15")]
    assert [ceiling(POLICY, SMALL, line) for line in SMALL.lines] == [D("10"), D("10.0000")]
    support = POLICY.rule_for("SUPPORT")
    assert floor_ceiling(Line(1, "SUPPORT", D(1), D("850")), support) == D(0)
    assert floor_ceiling(Line(1, "SUPPORT", D(1), D("999")), support) == D("9.9099")
    assert floor_ceiling(Line(1, "OTHER", D(1), D("10")), None) == D(100)


def broken(**changes: Any) -> str:
    with pytest.raises(ValidationError) as error:
        Policy.model_validate(RULES | changes)
    (problem,) = error.value.errors()
    return str(problem["msg"]).removeprefix("Value error, ")


def test_a_policy_whose_bands_overlap_or_are_out_of_order_is_refused() -> None:
    unordered = [{"below": "50000", "max_discount": "15"}, {"below": "10000", "max_discount": "10"}]
    assert broken(bands=[*unordered, {"max_discount": "20"}]) == (
        "band 2 (below 10000) overlaps or precedes band 1 (below 50000); list the bands "
        "smallest first, each below a larger amount"
    )
    same = [{"below": "10000", "max_discount": "10"}, {"below": "10000", "max_discount": "15"}]
    assert broken(bands=[*same, {"max_discount": "20"}]).startswith(
        "band 2 (below 10000) overlaps or precedes band 1 (below 10000)"
    )
    assert broken(bands=[{"below": "10000", "max_discount": "10"}]) == (
        "the last band must have no `below`, so that every deal size has a band"
    )
    assert broken(bands=[{"max_discount": "10"}, {"max_discount": "20"}]) == (
        "band 1 has no `below`; only the last band may omit it"
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"bands": [{"max_discount": "101"}]}, "a band's max_discount is a percentage from 0 to 100, not 101"),
        ({"bands": [{"max_discount": "-1"}]}, "a band's max_discount is a percentage from 0 to 100, not -1"),
        ({"bands": [{"below": "0", "max_discount": "5"}, {"max_discount": "5"}]}, "a band's `below` is an amount above 0, not 0"),
        ({"products": [{"sku": "SEAT", "max_discount": "150"}]}, "a product's max_discount is a percentage from 0 to 100, not 150"),
        ({"products": [{"sku": "SEAT", "floor_price": "-5"}]}, "a floor_price is 0 or more, not -5"),
        ({"reviewer_above": "100.5"}, "an approval threshold is a percentage from 0 to 100, not 100.5"),
        ({"admin_above": "10"}, "admin_above (10) is below reviewer_above (20); an admin approves the deeper discounts"),
        ({"products": [{"sku": "SEAT"}, {"sku": "SEAT"}]}, "each SKU has one rule; SEAT has more"),
    ],
)  # fmt: skip
def test_a_policy_out_of_bounds_is_refused_saying_what_to_fix(
    changes: dict[str, Any], message: str
) -> None:
    assert broken(**changes) == message


def test_a_policy_needs_a_band_and_a_round() -> None:
    assert broken(bands=[]) == "List should have at least 1 item after validation, not 0"
    assert broken(max_rounds=0) == "Input should be greater than or equal to 1"
    assert broken(surprise=1) == "Extra inputs are not permitted"
