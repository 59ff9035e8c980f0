"""The tenant's discount policy and the judge of a proposal against it. Pure code: no I/O.

A policy holds, in percent (0 to 100):
- `bands`: the maximum overall discount by deal size, the size being the deal's list value
  (quantity times unit price, before any discount) in the deal's own currency. A band holds the
  deals below its `below` amount and at or above the band before it; the last band has no
  `below` and holds the rest. Bands are listed smallest first.
- `products`: by SKU, a maximum discount on that product's lines and a floor unit price (the
  least the product may sell for, per unit, after its discount).
- `reviewer_above`, `admin_above`: a proposal whose deepest discount (the overall one, or any
  line's) is above `reviewer_above` needs a person with the `reviewer` role to approve it, above
  `admin_above` an `admin`.
- `max_rounds`: how many counter-offers a customer may make on one deal.

`judge(policy, deal, proposal)` says:
- `refused` when a line would sell below its product's floor, or the round is beyond
  `max_rounds` (no one may approve these);
- `needs_approval` when a discount is above its band's or its product's maximum, or above an
  approval threshold: the role is `admin` when the deepest discount is above `admin_above`,
  else `reviewer`;
- `within` otherwise: the agent may agree on its own.

Discounts are computed exactly: the overall discount is the list value's share given away
before rounding (so lines each within a maximum are within it together); net amounts are each
line's rounded to the currency (`money.line_net`), then summed.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from batonflow.apps.sales import money
from batonflow.errors import InvalidInput

HUNDRED = Decimal(100)
Status = Literal["within", "needs_approval", "refused"]


def _percent(value: Decimal, name: str) -> Decimal:
    if not Decimal(0) <= value <= HUNDRED:
        raise ValueError(f"{name} is a percentage from 0 to 100, not {value}")
    return value


class Band(BaseModel):
    model_config = ConfigDict(extra="forbid")

    below: Decimal | None = Field(
        None, description="deals whose list value is below this amount; none: every larger deal"
    )
    max_discount: Decimal = Field(description="the most a deal of this size may get, in percent")

    @field_validator("max_discount")
    @classmethod
    def _max(cls, value: Decimal) -> Decimal:
        return _percent(value, "a band's max_discount")

    @field_validator("below")
    @classmethod
    def _below(cls, value: Decimal | None) -> Decimal | None:
        if value is not None and value <= 0:
            raise ValueError(f"a band's `below` is an amount above 0, not {value}")
        return value


class ProductRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: str = Field(min_length=1, max_length=64)
    max_discount: Decimal | None = Field(None, description="in percent; none: the band's")
    floor_price: Decimal | None = Field(
        None, description="the least unit price after discount, in the deal's currency"
    )

    @field_validator("max_discount")
    @classmethod
    def _max(cls, value: Decimal | None) -> Decimal | None:
        return None if value is None else _percent(value, "a product's max_discount")

    @field_validator("floor_price")
    @classmethod
    def _floor(cls, value: Decimal | None) -> Decimal | None:
        if value is not None and value < 0:
            raise ValueError(f"a floor_price is 0 or more, not {value}")
        return value


class Policy(BaseModel):
    """A tenant's discount policy (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")

    bands: list[Band] = Field(min_length=1)
    products: list[ProductRule] = Field(default_factory=list)
    reviewer_above: Decimal | None = Field(None, description="percent; none: no reviewer needed")
    admin_above: Decimal | None = Field(None, description="percent; none: no admin needed")
    max_rounds: int = Field(3, ge=1, le=100)

    @field_validator("reviewer_above", "admin_above")
    @classmethod
    def _threshold(cls, value: Decimal | None) -> Decimal | None:
        return None if value is None else _percent(value, "an approval threshold")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        *bounded, last = self.bands
        if last.below is not None:
            raise ValueError(
                "the last band must have no `below`, so that every deal size has a band"
            )
        limits: list[Decimal] = []
        for number, band in enumerate(bounded, start=1):
            if band.below is None:
                raise ValueError(f"band {number} has no `below`; only the last band may omit it")
            if limits and band.below <= limits[-1]:
                raise ValueError(
                    f"band {number} (below {band.below}) overlaps or precedes band {number - 1} "
                    f"(below {limits[-1]}); list the bands smallest first, each below a larger "
                    "amount"
                )
            limits.append(band.below)
        skus = [rule.sku for rule in self.products]
        twice = sorted({sku for sku in skus if skus.count(sku) > 1})
        if twice:
            raise ValueError(f"each SKU has one rule; {', '.join(twice)} has more")
        if (
            self.reviewer_above is not None
            and self.admin_above is not None
            and self.admin_above < self.reviewer_above
        ):
            raise ValueError(
                f"admin_above ({self.admin_above}) is below reviewer_above "
                f"({self.reviewer_above}); an admin approves the deeper discounts"
            )
        return self

    def band_for(self, size: Decimal) -> tuple[int, Band]:
        """The band (numbered from 1) a deal of list value `size` falls in."""
        for number, band in enumerate(self.bands, start=1):
            if band.below is None or size < band.below:
                return number, band
        raise AssertionError("a validated policy's last band is unbounded")

    def rule_for(self, sku: str) -> ProductRule | None:
        return next((rule for rule in self.products if rule.sku == sku), None)


@dataclass(frozen=True, slots=True)
class Line:
    """A deal's line item as the judge sees it; `discount` is the line's current one, as a
    fraction (0.15 is 15 %), as `sales_deal_lines` stores it."""

    position: int
    sku: str
    quantity: Decimal
    unit_price: Decimal
    discount: Decimal = Decimal(0)

    @property
    def gross(self) -> Decimal:
        return self.quantity * self.unit_price


@dataclass(frozen=True, slots=True)
class Deal:
    currency: str
    lines: tuple[Line, ...]

    @property
    def gross(self) -> Decimal:
        """The list value: quantity times unit price, summed, before discounts."""
        return sum((line.gross for line in self.lines), Decimal(0))


@dataclass(frozen=True, slots=True)
class Proposal:
    """A discount in percent for each line, by position, in round `round`."""

    discounts: dict[int, Decimal]
    round: int = 1


class Verdict(BaseModel):
    status: Status
    role: Literal["reviewer", "admin"] | None = None  # who may approve, when it needs approval
    reasons: list[str]
    gross: Decimal  # the list value
    net: Decimal  # what the customer would pay, rounded to the currency
    discount: Decimal  # overall, in percent, to a hundredth
    band_max: Decimal  # the band's maximum discount, in percent


def shown(value: Decimal) -> str:
    """A percentage or amount as a person reads it: 12.50 -> 12.5, 15.00 -> 15."""
    return format(value.normalize(), "f")


def overall(deal: Deal, discounts: dict[int, Decimal]) -> Decimal:
    """The overall discount in percent, exact: the share of the list value given away."""
    if deal.gross == 0:
        return Decimal(0)
    given = sum((line.gross * discounts[line.position] for line in deal.lines), Decimal(0))
    return given / deal.gross


def net(deal: Deal, discounts: dict[int, Decimal]) -> Decimal:
    """What the customer pays: each line's net, rounded to the currency, summed."""
    return sum(
        (
            money.line_net(
                line.quantity, line.unit_price, discounts[line.position] / HUNDRED, deal.currency
            )
            for line in deal.lines
        ),
        Decimal(0),
    )


def floor_ceiling(line: Line, rule: ProductRule | None) -> Decimal:
    """The deepest discount (percent) that keeps the line's unit price at its floor or above."""
    if rule is None or rule.floor_price is None or line.unit_price == 0:
        return HUNDRED
    if rule.floor_price >= line.unit_price:
        return Decimal(0)
    return (HUNDRED * (line.unit_price - rule.floor_price) / line.unit_price).quantize(
        Decimal("0.0001"), rounding=ROUND_DOWN
    )


def ceiling(policy: Policy, deal: Deal, line: Line) -> Decimal:
    """The deepest discount (percent) the agent may give a line on its own: within the band's
    and the product's maximum, the floor price and the approval thresholds."""
    _, band = policy.band_for(deal.gross)
    rule = policy.rule_for(line.sku)
    limits = [band.max_discount, floor_ceiling(line, rule)]
    if rule is not None and rule.max_discount is not None:
        limits.append(rule.max_discount)
    limits += [t for t in (policy.reviewer_above, policy.admin_above) if t is not None]
    return min(limits)


def _complete(deal: Deal, proposal: Proposal) -> dict[int, Decimal]:
    positions = {line.position for line in deal.lines}
    unknown = sorted(set(proposal.discounts) - positions)
    if unknown:
        named = ", ".join(map(str, unknown))
        raise InvalidInput(f"the deal has no line {named}; its lines are {sorted(positions)}")
    for position, value in proposal.discounts.items():
        if not Decimal(0) <= value <= HUNDRED:
            raise InvalidInput(
                f"line {position}'s discount is a percentage from 0 to 100, not {value}"
            )
    return {
        line.position: proposal.discounts.get(line.position, line.discount * HUNDRED)
        for line in deal.lines
    }


def judge(policy: Policy, deal: Deal, proposal: Proposal) -> Verdict:
    """`within`, `needs_approval` (with the role) or `refused`, with every reason."""
    discounts = _complete(deal, proposal)
    gross = deal.gross
    number, band = policy.band_for(gross)
    whole = overall(deal, discounts)
    refusals: list[str] = []
    over: list[str] = []
    if proposal.round > policy.max_rounds:
        refusals.append(
            f"round {proposal.round} is beyond the policy's limit of {policy.max_rounds} rounds"
        )
    for line in deal.lines:
        asked = discounts[line.position]
        rule = policy.rule_for(line.sku)
        if rule is not None and rule.floor_price is not None:
            unit = line.unit_price * (HUNDRED - asked) / HUNDRED
            if unit < rule.floor_price:
                refusals.append(
                    f"line {line.position} ({line.sku}) at {shown(asked)} % off sells at "
                    f"{shown(money.rounded(unit, deal.currency))} {deal.currency} a unit, below "
                    f"its floor of {shown(rule.floor_price)}"
                )
        if rule is not None and rule.max_discount is not None and asked > rule.max_discount:
            over.append(
                f"line {line.position} ({line.sku}) at {shown(asked)} % off is above the "
                f"product's maximum of {shown(rule.max_discount)} %"
            )
    size = _size(policy, number, deal.currency)
    if whole > band.max_discount:
        over.append(
            f"{shown(_hundredth(whole))} % overall is above the maximum of "
            f"{shown(band.max_discount)} % for deals {size}"
        )
    deepest = max([whole, *discounts.values()])
    role: Literal["reviewer", "admin"] | None = None
    if policy.admin_above is not None and deepest > policy.admin_above:
        role = "admin"
        over.append(
            f"a discount of {shown(_hundredth(deepest))} % is above {shown(policy.admin_above)} "
            "%, which an admin approves"
        )
    elif policy.reviewer_above is not None and deepest > policy.reviewer_above:
        role = "reviewer"
        over.append(
            f"a discount of {shown(_hundredth(deepest))} % is above "
            f"{shown(policy.reviewer_above)} %, which a reviewer approves"
        )
    elif over:
        role = "reviewer"
    numbers = {
        "gross": gross,
        "net": net(deal, discounts),
        "discount": _hundredth(whole),
        "band_max": band.max_discount,
    }
    if refusals:
        return Verdict(status="refused", reasons=refusals + over, **numbers)
    if over:
        return Verdict(status="needs_approval", role=role, reasons=over, **numbers)
    within = (
        f"{shown(_hundredth(whole))} % overall is within the maximum of "
        f"{shown(band.max_discount)} % for deals {size}"
    )
    return Verdict(status="within", reasons=[within], **numbers)


def _size(policy: Policy, number: int, currency: str) -> str:
    """Band `number`'s sizes in words: "of any size", "below 10000 EUR", "of 50000 EUR or more"."""
    band = policy.bands[number - 1]
    if band.below is not None:
        return f"below {shown(band.below)} {currency}"
    if number == 1:
        return "of any size"
    return f"of {shown(policy.bands[number - 2].below or Decimal(0))} {currency} or more"


def _hundredth(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
