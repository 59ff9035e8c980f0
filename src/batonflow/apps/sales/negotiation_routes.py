"""The negotiation's API: the tenant's discount policy (`GET`, and `PUT` for an admin: each
change a new version), a deal's offers, a customer's counter-offer answered by code within the
policy, and a person's approval of a round beyond it. Reads need `runs:read`, a counter-offer
`runs:write`; an approval needs the role the round's verdict names (an admin may approve any).
Another tenant's deal is 404."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, status

from batonflow.api.deps import State, require
from batonflow.apps.sales import negotiation
from batonflow.apps.sales.negotiation import CounterOffer
from batonflow.apps.sales.negotiation_schemas import NegotiationRound, Offer, PolicyVersion
from batonflow.apps.sales.policy import Policy
from batonflow.auth.scopes import Principal
from batonflow.store.db import Conn

router = APIRouter(tags=["sales"])
Reader = Annotated[Principal, require("runs:read")]
Writer = Annotated[Principal, require("runs:write")]
Admin = Annotated[Principal, require("admin")]
OFFERS = "/deals/{deal_id}/offers"


@router.get("/policy", response_model=PolicyVersion)
async def get_policy(state: State, caller: Reader) -> PolicyVersion:
    """The tenant's discount policy, its latest version."""
    row = await state.query(lambda conn: negotiation.get_policy(conn, caller.tenant_id))
    return PolicyVersion.model_validate(row)


@router.put("/policy", response_model=PolicyVersion)
async def set_policy(state: State, caller: Admin, body: Policy) -> PolicyVersion:
    """Replace the discount policy (admins only): a new version, the earlier ones kept for the
    rounds they judged."""
    row = await state.transact(
        lambda conn: negotiation.set_policy(
            conn, caller.tenant_id, body, actor=caller.name, now=state.now()
        )
    )
    return PolicyVersion.model_validate(row)


@router.get(OFFERS, response_model=list[Offer])
async def list_offers(state: State, caller: Reader, deal_id: str) -> list[Offer]:
    """The deal's negotiation: each round's customer offer, then our response."""
    rows = await state.query(lambda conn: negotiation.list_offers(conn, caller.tenant_id, deal_id))
    return [Offer.model_validate(row) for row in rows]


@router.post(OFFERS, response_model=NegotiationRound, status_code=status.HTTP_201_CREATED)
async def counter_offer(
    state: State, caller: Writer, deal_id: str, body: CounterOffer
) -> NegotiationRound:
    """Record a customer's counter-offer as the deal's next round, with the policy's verdict
    on it and our response computed by code (no model): accept within policy, else counter
    with the most the policy allows, or refuse beyond the round limit."""

    async def work(conn: Conn) -> dict[str, Any]:
        found = await negotiation.prepare(conn, caller.tenant_id, deal_id, body)
        return await negotiation.record(
            conn, caller.tenant_id, found, actor=caller.name, now=state.now()
        )

    return NegotiationRound.model_validate(await state.transact(work))


@router.post(f"{OFFERS}/{{offer_id}}/approve", response_model=NegotiationRound)
async def approve(state: State, caller: Reader, deal_id: str, offer_id: str) -> NegotiationRound:
    """Approve the customer's terms of the latest round beyond policy; 403 naming the role it
    needs when the caller lacks it. We then accept those terms in that round."""
    found = await state.transact(
        lambda conn: negotiation.approve(
            conn,
            caller.tenant_id,
            deal_id,
            offer_id,
            approver=caller.name,
            roles=caller.roles,
            now=state.now(),
        )
    )
    return NegotiationRound.model_validate(found)
