"""A sales record's audit timeline: `GET /{leads|deals|contracts|invoices}/{id}/timeline`
(`runs:read`; another tenant's record is 404). See `timeline.py` for what it merges."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from batonflow.api.deps import State, require
from batonflow.apps.sales import timeline as timelines
from batonflow.auth.scopes import Principal

router = APIRouter(tags=["sales"])
Reader = Annotated[Principal, require("runs:read")]


class TimelineEvent(BaseModel):
    at: datetime
    kind: str = Field(description="what happened: lead.scored, deal.stage_moved, run.started...")
    actor_kind: Literal["user", "agent", "system"]
    actor: str = Field(description="a user's name, an agent (agent:NAME), or batonflow")
    summary: str = Field(description="one plain sentence")
    links: dict[str, str] = Field(
        description="ids of what the event concerns: run_id, review_id, email_id, offer_id..."
    )


class Timeline(BaseModel):
    entity: timelines.Entity
    entity_id: str
    events: list[TimelineEvent] = Field(description="oldest first")


async def _timeline(
    state: State, caller: Principal, entity: timelines.Entity, entity_id: str
) -> Timeline:
    found = await state.query(
        lambda conn: timelines.timeline(conn, caller.tenant_id, entity, entity_id)
    )
    return Timeline(
        entity=entity,
        entity_id=entity_id,
        events=[TimelineEvent(**event.as_dict()) for event in found],
    )


@router.get("/leads/{lead_id}/timeline", response_model=Timeline)
async def lead_timeline(state: State, caller: Reader, lead_id: str) -> Timeline:
    """The lead's timeline, oldest first: its creation and score, the emails to its contact and
    the replies, the runs that worked on it and their reviews, and audit entries about them."""
    return await _timeline(state, caller, "lead", lead_id)


@router.get("/deals/{deal_id}/timeline", response_model=Timeline)
async def deal_timeline(state: State, caller: Reader, deal_id: str) -> Timeline:
    """The deal's timeline, oldest first: stage moves, proposals, offers and approvals, its
    contracts and invoices, emails, the runs that worked on it and their reviews."""
    return await _timeline(state, caller, "deal", deal_id)


@router.get("/contracts/{contract_id}/timeline", response_model=Timeline)
async def contract_timeline(state: State, caller: Reader, contract_id: str) -> Timeline:
    """The contract's timeline, oldest first: versions, status, its deal's runs and the
    contract's reviews."""
    return await _timeline(state, caller, "contract", contract_id)


@router.get("/invoices/{invoice_id}/timeline", response_model=Timeline)
async def invoice_timeline(state: State, caller: Reader, invoice_id: str) -> Timeline:
    """The invoice's timeline, oldest first: issue, void, payments, reminders and emails, and
    the runs that issued it."""
    return await _timeline(state, caller, "invoice", invoice_id)
