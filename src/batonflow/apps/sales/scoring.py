"""Scoring a lead by the tenant's rules: pure code, no I/O.

A tenant's rules (`ScoreRules`) give points for the lead's fit: its company's industry (points per
industry), its company's size (bands of employees), its budget (bands in one currency) and its
contact's title (keywords such as "head" or "vp", matched as whole words, the best one counting).
`score(rules, lead)` adds the points of the rules that fired and clamps the sum to 0..100, with
one reason per rule that fired. A budget in another currency than the bands' is not converted:
it scores nothing, and a reason of 0 points says so.

The model's reading of the lead's notes then moves the score by at most `model_weight` points
either way (`combine`); the lead is qualified when the final score reaches `threshold`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from itertools import pairwise
from typing import Any

from pydantic import BaseModel, Field, field_validator, model_validator

from batonflow.apps.sales import money
from batonflow.errors import InvalidInput

Reason = dict[str, Any]  # {"source": "rules"|"model", "rule": ..., "points": n, "why": ...}


class ScoreBand(BaseModel):
    """`points` for a value from `min` (included) up to `max` (excluded; None: no upper end)."""

    min: Decimal = Field(ge=0)
    max: Decimal | None = None
    points: int = Field(ge=-100, le=100)

    @model_validator(mode="after")
    def _ordered(self) -> ScoreBand:
        if self.max is not None and self.max <= self.min:
            raise ValueError(f"a band's max ({self.max}) must be above its min ({self.min})")
        return self

    def holds(self, value: Decimal) -> bool:
        return self.min <= value and (self.max is None or value < self.max)

    def label(self) -> str:
        return f"{self.min}+" if self.max is None else f"{self.min}-{self.max}"


def _bands_in_order(bands: list[ScoreBand], what: str) -> list[ScoreBand]:
    for before, after in pairwise(bands):
        if before.max is None or after.min < before.max:
            raise ValueError(
                f"{what} bands overlap or are out of order: {before.label()} then "
                f"{after.label()}; list them from low to high, each starting at or above the "
                "previous one's max"
            )
    return bands


def _keyed(points: dict[str, int], what: str) -> dict[str, int]:
    cleaned: dict[str, int] = {}
    for key, value in points.items():
        name = " ".join(key.split()).casefold()
        if not name:
            raise ValueError(f"{what} names must not be blank")
        if not -100 <= value <= 100:
            raise ValueError(f"{what} '{key}' gives {value} points; points are -100..100")
        if name in cleaned:
            raise ValueError(f"{what} '{key}' is listed twice (names ignore case)")
        cleaned[name] = value
    return cleaned


class ScoreRules(BaseModel):
    """A tenant's scoring rules (one version of them)."""

    industries: dict[str, int] = Field(default_factory=dict, description="points per industry")
    employee_bands: list[ScoreBand] = Field(default_factory=list, description="company size bands")
    budget_currency: str = Field("EUR", description="the currency of the budget bands")
    budget_bands: list[ScoreBand] = Field(default_factory=list, description="budget bands")
    title_keywords: dict[str, int] = Field(
        default_factory=dict, description="points per keyword in the contact's title"
    )
    threshold: int = Field(50, ge=0, le=100, description="the score that qualifies a lead")
    model_weight: int = Field(
        15, ge=0, le=20, description="how far (in points, either way) the model's reading moves it"
    )

    @field_validator("industries")
    @classmethod
    def _industries(cls, value: dict[str, int]) -> dict[str, int]:
        return _keyed(value, "industry")

    @field_validator("title_keywords")
    @classmethod
    def _keywords(cls, value: dict[str, int]) -> dict[str, int]:
        return _keyed(value, "title keyword")

    @field_validator("budget_currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        try:
            return money.currency(value)
        except InvalidInput as exc:
            raise ValueError(exc.message) from None

    @field_validator("employee_bands")
    @classmethod
    def _employees(cls, value: list[ScoreBand]) -> list[ScoreBand]:
        return _bands_in_order(value, "employee")

    @field_validator("budget_bands")
    @classmethod
    def _budgets(cls, value: list[ScoreBand]) -> list[ScoreBand]:
        return _bands_in_order(value, "budget")


def _band(low: int, high: int | None, points: int) -> ScoreBand:
    return ScoreBand(min=Decimal(low), max=None if high is None else Decimal(high), points=points)


DEFAULT_RULES = ScoreRules(
    industries={
        "software": 25,
        "saas": 25,
        "fintech": 20,
        "e-commerce": 15,
        "manufacturing": 10,
        "retail": 10,
    },
    employee_bands=[
        _band(1, 10, 5),
        _band(10, 50, 10),
        _band(50, 250, 20),
        _band(250, 1000, 25),
        _band(1000, None, 20),
    ],
    budget_currency="EUR",
    budget_bands=[
        _band(5_000, 25_000, 10),
        _band(25_000, 100_000, 20),
        _band(100_000, None, 30),
    ],
    title_keywords={"chief": 20, "vp": 15, "head": 15, "director": 15, "manager": 5},
    threshold=50,
    model_weight=15,
)


@dataclass(frozen=True, slots=True)
class LeadFacts:
    """What the rules look at, from the lead, its company and its contact."""

    industry: str | None = None
    employees: int | None = None
    budget: Decimal | None = None
    currency: str | None = None
    title: str | None = None


def _reason(rule: str, points: int, why: str) -> Reason:
    return {"source": "rules", "rule": rule, "points": points, "why": why}


def _title_match(keywords: dict[str, int], title: str) -> tuple[str, int] | None:
    """The keyword worth most that the title holds as whole words (first listed on a tie)."""
    best: tuple[str, int] | None = None
    folded = title.casefold()
    for keyword, points in keywords.items():
        words = r"\s+".join(re.escape(word) for word in keyword.split())
        if re.search(rf"(?<!\w){words}(?!\w)", folded) and (best is None or points > best[1]):
            best = (keyword, points)
    return best


def _rule_reasons(rules: ScoreRules, lead: LeadFacts) -> list[Reason]:
    reasons = []
    industry = " ".join((lead.industry or "").split()).casefold()
    if industry and industry in rules.industries:
        points = rules.industries[industry]
        fit = "a target industry" if points >= 0 else "an industry we do not target"
        reasons.append(_reason("industry", points, f"{industry} is {fit}"))
    if lead.employees is not None:
        for band in rules.employee_bands:
            if band.holds(Decimal(lead.employees)):
                why = f"{lead.employees} employees is in the {band.label()} band"
                reasons.append(_reason("employees", band.points, why))
                break
    if lead.budget is not None:
        currency = (lead.currency or "").upper()
        if currency != rules.budget_currency:
            why = (
                f"a budget in {currency or 'no currency'} is not scored: the budget bands are "
                f"in {rules.budget_currency}"
            )
            reasons.append(_reason("budget", 0, why))
        else:
            for band in rules.budget_bands:
                if band.holds(lead.budget):
                    why = f"a budget of {lead.budget} {currency} is in the {band.label()} band"
                    reasons.append(_reason("budget", band.points, why))
                    break
    if lead.title:
        matched = _title_match(rules.title_keywords, lead.title)
        if matched is not None:
            why = f"the title '{lead.title}' has the keyword '{matched[0]}'"
            reasons.append(_reason("title", matched[1], why))
    return reasons


def clamp(points: int, low: int = 0, high: int = 100) -> int:
    return max(low, min(high, points))


def score(rules: ScoreRules, lead: LeadFacts) -> tuple[int, list[Reason]]:
    """The lead's points by the rules (0..100), and one reason per rule that fired."""
    reasons = _rule_reasons(rules, lead)
    return clamp(sum(r["points"] for r in reasons)), reasons


def combine(
    rules: ScoreRules, points: int, reasons: list[Reason], adjustment: int, why: str
) -> tuple[int, list[Reason]]:
    """The rules' points moved by the model's adjustment (bounded by `model_weight`), clamped to
    0..100; the model's reason joins the rules' (even at 0 points: it read the notes)."""
    bounded = clamp(adjustment, -rules.model_weight, rules.model_weight)
    model = {"source": "model", "rule": "notes", "points": bounded, "why": why}
    return clamp(points + bounded), [*reasons, model]


def status_for(rules: ScoreRules, final: int) -> str:
    """The status a new lead takes for its final score."""
    return "qualified" if final >= rules.threshold else "disqualified"
