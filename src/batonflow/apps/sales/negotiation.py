"""Negotiating a deal within the tenant's discount policy: the policy's versions, each
customer counter-offer with our response computed by code, and a person's approval of a round
beyond policy.

A customer asks for one of: a discount on every line (`discount`, percent), a discount per
line (`lines`, percent by line position; the lines it leaves out keep their discount), or a
target total (`total`, the net amount they want to pay: every line gets the same discount,
`(list value - total) / list value`, to a ten-thousandth of a percent).

Our response, each in the same round as the customer's offer:
- the customer's terms are within policy: we `accept` them;
- they need an approval, or sell below a floor: we `counter` with the best terms the agent may
  give on its own: each line at the smaller of what the customer asked and the most the policy
  lets the agent give that line (`policy.ceiling`: its band's and product's maximum, its floor,
  the approval thresholds). A person with the role the verdict names may then approve the
  customer's own terms (`approve`), and we `accept` them in that round;
- the customer is beyond the policy's rounds: we `refuse`, standing by our last offer.

Numbers are computed here, with `Decimal`; the agent (`negotiation_agent`) adds only the words.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal, Self

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, model_validator

from batonflow.apps.sales import money
from batonflow.apps.sales import negotiation_tables as nt
from batonflow.apps.sales import tables as t
from batonflow.apps.sales.policy import (
    HUNDRED,
    Deal,
    Line,
    Policy,
    Proposal,
    Verdict,
    ceiling,
    judge,
    shown,
)
from batonflow.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from batonflow.ids import new_id
from batonflow.store.db import Conn

NO_POLICY = (
    "the tenant has no discount policy yet; an admin sets one with PUT /api/v1/sales/policy "
    "or `batonflow sales policy set FILE.json`"
)


class CounterOffer(BaseModel):
    """What a customer asks for: exactly one of `discount`, `lines` and `total`."""

    model_config = ConfigDict(extra="forbid")

    discount: Decimal | None = Field(None, description="percent off every line, 0 to 100")
    lines: dict[int, Decimal] | None = Field(
        None, description="percent off by line position; lines left out keep their discount"
    )
    total: Decimal | None = Field(None, description="the net total asked for, deal's currency")
    message: str = Field("", max_length=4000, description="the customer's words, if any")

    @model_validator(mode="after")
    def _one(self) -> Self:
        given = [name for name in ("discount", "lines", "total") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(
                "a counter-offer asks for exactly one of `discount` (percent off every line), "
                f"`lines` (percent by line position) or `total` (the net total); got {given or 'none'}"
            )
        if self.lines is not None and not self.lines:
            raise ValueError("`lines` names at least one line position")
        return self


@dataclass(frozen=True, slots=True)
class Response:
    """Our answer to a proposal, computed by code."""

    action: Literal["accept", "counter", "refuse"]
    discounts: dict[int, Decimal]  # our terms: percent by line position
    verdict: Verdict  # the policy's verdict on our terms
    basis: str  # how code decided, in words


@dataclass(frozen=True, slots=True)
class Round:
    """A customer's counter-offer judged, and our response, ready to record."""

    deal_id: str
    number: int
    policy_version: int
    deal: Deal
    counter: CounterOffer
    asked: dict[int, Decimal]
    verdict: Verdict  # on the customer's terms
    response: Response


async def current_policy(conn: Conn, tenant_id: str) -> dict[str, Any] | None:
    """The tenant's latest policy version, or None before the first."""
    p = nt.discount_policies
    latest = sa.select(p).where(p.c.tenant_id == tenant_id).order_by(p.c.version.desc())
    row = (await conn.execute(latest.limit(1))).mappings().first()
    return dict(row) if row else None


async def get_policy(conn: Conn, tenant_id: str) -> dict[str, Any]:
    row = await current_policy(conn, tenant_id)
    if row is None:
        raise NotFound(NO_POLICY)
    return row


async def set_policy(
    conn: Conn, tenant_id: str, policy: Policy, *, actor: str, now: datetime
) -> dict[str, Any]:
    """Store `policy` as the tenant's next version (the earlier ones stay, for the rounds
    judged by them)."""
    latest = await current_policy(conn, tenant_id)
    row = {
        "id": new_id(),
        "tenant_id": tenant_id,
        "version": (latest["version"] if latest else 0) + 1,
        "policy": policy.model_dump(mode="json"),
        "changed_by": actor,
        "changed_at": now,
    }
    await conn.execute(nt.discount_policies.insert().values(row))
    return row


async def load_deal(conn: Conn, tenant_id: str, deal_id: str) -> Deal:
    """The deal's currency and lines (with their products' SKUs); another tenant's is 404."""
    d, lines, products = t.deals, t.deal_lines, t.products
    currency = (
        await conn.execute(
            sa.select(d.c.currency).where(d.c.tenant_id == tenant_id, d.c.id == deal_id)
        )
    ).scalar_one_or_none()
    if currency is None:
        raise NotFound(f"no deal '{deal_id}'")
    found = await conn.execute(
        sa.select(lines, products.c.sku)
        .join(products, products.c.id == lines.c.product_id)
        .where(lines.c.tenant_id == tenant_id, lines.c.deal_id == deal_id)
        .order_by(lines.c.position)
    )
    return Deal(
        currency,
        tuple(
            Line(r.position, r.sku, r.quantity, r.unit_price, r.discount) for r in found.mappings()
        ),
    )


async def list_offers(conn: Conn, tenant_id: str, deal_id: str) -> list[dict[str, Any]]:
    """A deal's negotiation, round by round, each customer offer before our reply."""
    await load_deal(conn, tenant_id, deal_id)
    o = nt.offers
    rows = await conn.execute(
        sa.select(o)
        .where(o.c.tenant_id == tenant_id, o.c.deal_id == deal_id)
        .order_by(o.c.round, o.c.created_at, o.c.id)
    )
    return [dict(row) for row in rows.mappings()]


def proposal_for(deal: Deal, counter: CounterOffer, number: int) -> Proposal:
    """The customer's counter-offer as a discount per line (see the module docstring)."""
    if counter.discount is not None:
        return Proposal({line.position: counter.discount for line in deal.lines}, number)
    if counter.lines is not None:
        return Proposal(dict(counter.lines), number)
    assert counter.total is not None
    gross = deal.gross
    if gross <= 0:
        raise InvalidInput("the deal has no priced lines, so a target total means nothing")
    if not Decimal(0) <= counter.total <= gross:
        raise InvalidInput(
            f"a target total is from 0 to the deal's list value of {shown(gross)} "
            f"{deal.currency}, not {shown(counter.total)}"
        )
    share = (HUNDRED * (gross - counter.total) / gross).quantize(
        Decimal("0.0001"), rounding=ROUND_HALF_UP
    )
    return Proposal({line.position: share for line in deal.lines}, number)


def respond(
    policy: Policy, deal: Deal, proposal: Proposal, standing: dict[int, Decimal]
) -> tuple[Verdict, Response]:
    """The verdict on the customer's proposal and our response; `standing` is our last offer
    (or the deal's own discounts), which a refusal stands by."""
    verdict = judge(policy, deal, proposal)
    if verdict.status == "within":
        basis = "the customer's terms are within the discount policy, so we accept them"
        return verdict, Response("accept", _full(deal, proposal), verdict, basis)
    if proposal.round > policy.max_rounds:
        ours = judge(policy, deal, Proposal(standing, policy.max_rounds))
        basis = (
            f"the customer has had the {policy.max_rounds} rounds the policy allows, so we "
            "stand by our last offer"
        )
        return verdict, Response("refuse", standing, ours, basis)
    asked = _full(deal, proposal)
    capped = {
        line.position: min(asked[line.position], ceiling(policy, deal, line)) for line in deal.lines
    }
    ours = judge(policy, deal, Proposal(capped, proposal.round))
    caps = ", ".join(f"line {p}: {shown(d)} %" for p, d in capped.items())
    basis = (
        f"the customer's terms are {'refused' if verdict.status == 'refused' else 'beyond policy'}"
        f" ({'; '.join(verdict.reasons)}); we counter with the most the policy lets us give "
        f"on our own ({caps}), {shown(ours.discount)} % overall"
    )
    if verdict.role:
        basis += f"; a person with the {verdict.role} role may approve the customer's terms"
    return verdict, Response("counter", capped, ours, basis)


def _full(deal: Deal, proposal: Proposal) -> dict[int, Decimal]:
    return {
        line.position: proposal.discounts.get(line.position, line.discount * HUNDRED)
        for line in deal.lines
    }


async def prepare(conn: Conn, tenant_id: str, deal_id: str, counter: CounterOffer) -> Round:
    """Judge the customer's counter-offer as the deal's next round and compute our response."""
    deal = await load_deal(conn, tenant_id, deal_id)
    row = await current_policy(conn, tenant_id)
    if row is None:
        raise Conflict(NO_POLICY)
    policy = Policy.model_validate(row["policy"])
    history = await list_offers(conn, tenant_id, deal_id)
    number = max((o["round"] for o in history), default=0) + 1
    ours = [o for o in history if o["party"] == "us" and o["action"] != "refuse"]
    standing = (
        {int(line["position"]): Decimal(line["discount"]) for line in ours[-1]["terms"]["lines"]}
        if ours
        else {line.position: line.discount * HUNDRED for line in deal.lines}
    )
    proposal = proposal_for(deal, counter, number)
    verdict, response = respond(policy, deal, proposal, standing)
    return Round(
        deal_id, number, row["version"], deal, counter, _full(deal, proposal), verdict, response
    )


def _terms(deal: Deal, discounts: dict[int, Decimal]) -> list[dict[str, Any]]:
    return [
        {
            "position": line.position,
            "sku": line.sku,
            "discount": str(off),
            "net": str(
                money.line_net(line.quantity, line.unit_price, off / HUNDRED, deal.currency)
            ),
        }
        for line in deal.lines
        for off in (discounts[line.position],)
    ]


def _offer(tenant_id: str, found: Round, verdict: Verdict, **values: Any) -> dict[str, Any]:
    return {
        "id": new_id(),
        "tenant_id": tenant_id,
        "deal_id": found.deal_id,
        "round": found.number,
        "discount": verdict.discount,
        "net_amount": verdict.net,
        "currency": found.deal.currency,
        "verdict": verdict.status,
        "verdict_reasons": verdict.reasons,
        "role_needed": verdict.role,
        "policy_version": found.policy_version,
        "approved_by": None,
        "approved_at": None,
        **values,
    }


async def record(
    conn: Conn,
    tenant_id: str,
    found: Round,
    *,
    actor: str,
    now: datetime,
    run_id: str | None = None,
    reasoning: str | None = None,
    reply: str = "",
) -> dict[str, Any]:
    """Store the round: the customer's offer and our response (a race for the same round is a
    409). `reasoning` is the agent's; without one, how code decided."""
    asked = found.counter.model_dump(mode="json", exclude_none=True)
    by = {"run_id": run_id, "actor": actor, "created_at": now}
    customer = _offer(
        tenant_id, found, found.verdict, party="customer", action="counter", reasoning="", reply=""
    ) | {"terms": {"asked": asked, "lines": _terms(found.deal, found.asked)}, **by}
    response = found.response
    ours = _offer(
        tenant_id, found, response.verdict, party="us", action=response.action, reply=reply
    ) | {
        "terms": {"lines": _terms(found.deal, response.discounts), "basis": response.basis},
        "reasoning": reasoning or response.basis,
        **by,
    }
    await conn.execute(nt.offers.insert(), [customer, ours])
    return await _stored(conn, tenant_id, found.deal_id, customer["id"], ours["id"])


async def _stored(
    conn: Conn, tenant_id: str, deal_id: str, customer: str, response: str
) -> dict[str, Any]:
    """A round's two offers as stored (amounts in their canonical form)."""
    rows = {row["id"]: row for row in await list_offers(conn, tenant_id, deal_id)}
    return {"customer": rows[customer], "response": rows[response]}


async def approve(
    conn: Conn,
    tenant_id: str,
    deal_id: str,
    offer_id: str,
    *,
    approver: str,
    roles: frozenset[str],
    now: datetime,
) -> dict[str, Any]:
    """A person approves the customer's offer of the deal's latest round, which needed their
    role (an admin may approve what a reviewer may): we accept the customer's terms."""
    o = nt.offers
    history = await list_offers(conn, tenant_id, deal_id)
    offer = next((row for row in history if row["id"] == offer_id), None)
    if offer is None:
        raise NotFound(f"no offer '{offer_id}' on deal '{deal_id}'")
    if offer["party"] != "customer" or offer["verdict"] != "needs_approval":
        raise Conflict(
            f"offer {offer_id} is {offer['party']}'s with the verdict {offer['verdict']}: only a "
            "customer's offer that needs approval is approved"
        )
    if offer["approved_by"] is not None:
        raise Conflict(f"round {offer['round']} was approved by {offer['approved_by']} already")
    latest = max(row["round"] for row in history)
    if offer["round"] != latest:
        raise Conflict(
            f"round {offer['round']} was followed by round {latest}; approve the latest round"
        )
    needed = offer["role_needed"]
    if needed not in roles and "admin" not in roles:
        raise PermissionDenied(
            f"{approver} may not approve round {offer['round']}: it needs the {needed} role"
            + ("" if needed == "admin" else " (or admin)"),
            details={"role": needed},
        )
    await conn.execute(
        o.update()
        .where(o.c.tenant_id == tenant_id, o.c.id == offer_id)
        .values(approved_by=approver, approved_at=now)
    )
    accepted = {
        "id": new_id(),
        **{k: offer[k] for k in ("tenant_id", "deal_id", "round", "discount", "net_amount")},
        **{k: offer[k] for k in ("currency", "verdict", "verdict_reasons", "role_needed")},
        "policy_version": offer["policy_version"],
        "party": "us",
        "action": "accept",
        "terms": {"lines": offer["terms"]["lines"], "basis": f"approved by {approver}"},
        "reasoning": (
            f"{approver}, with the authority of the {needed} role, approved the customer's "
            "terms beyond policy, so we accept them"
        ),
        "reply": "",
        "approved_by": approver,
        "approved_at": now,
        "run_id": None,
        "actor": approver,
        "created_at": now,
    }
    await conn.execute(o.insert().values(accepted))
    return await _stored(conn, tenant_id, deal_id, offer_id, accepted["id"])
