"""The negotiation's API shapes: the policy's versions, offers and rounds. Amounts and
percentages are exact decimals, written as strings ("12.50")."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel

from batonflow.apps.sales.policy import Policy


class PolicyVersion(BaseModel):
    """A version of the tenant's discount policy (see `policy.Policy`)."""

    version: int
    policy: Policy
    changed_by: str
    changed_at: datetime


class Offer(BaseModel):
    """An offer or counter-offer of a deal, with the policy's verdict on its terms."""

    id: str
    deal_id: str
    round: int
    party: Literal["customer", "us"]
    action: Literal["counter", "accept", "refuse"]
    terms: dict[str, Any]  # lines: [{position, sku, discount (percent), net}], asked, basis
    discount: Decimal  # overall, in percent
    net_amount: Decimal
    currency: str
    reasoning: str
    reply: str
    verdict: Literal["within", "needs_approval", "refused"]
    verdict_reasons: list[str]
    role_needed: Literal["reviewer", "admin"] | None
    policy_version: int
    approved_by: str | None
    approved_at: datetime | None
    run_id: str | None
    actor: str
    created_at: datetime


class NegotiationRound(BaseModel):
    """A round: the customer's offer, judged, and our response to it."""

    customer: Offer
    response: Offer
