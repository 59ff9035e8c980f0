"""A deal's proposals under `/api/v1/sales/`: `GET /deals/{id}/proposals` (the latest version
first) and `GET /proposals/{id}`. The sales agent's `deal.propose` writes them. Reads need
`runs:read`; another tenant's deals and proposals are 404."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, Field

from batonflow.api.deps import State, require
from batonflow.apps.sales import proposals
from batonflow.apps.sales.sales_agent import ProposalLine, ProposalTotals, Text
from batonflow.auth.scopes import Principal

router = APIRouter(tags=["sales"])
Reader = Annotated[Principal, require("runs:read")]


class Proposal(BaseModel):
    id: str
    deal_id: str
    version: int = Field(description="1, 2, ... per deal")
    currency: str
    lines: list[ProposalLine] = Field(description="priced from the catalog, by code")
    totals: ProposalTotals
    text: Text = Field(description="written by the model: title, summary, a statement per line")
    note: str | None
    model: str | None = Field(description="the model that wrote the text")
    run_id: str | None = Field(description="the agent run that wrote it")
    created_at: datetime


@router.get("/deals/{deal_id}/proposals", response_model=list[Proposal])
async def list_proposals(state: State, caller: Reader, deal_id: str) -> list[Proposal]:
    """The deal's proposals, the latest version first."""
    rows = await state.query(lambda conn: proposals.list_proposals(conn, caller.tenant_id, deal_id))
    return [Proposal.model_validate(row) for row in rows]


@router.get("/proposals/{proposal_id}", response_model=Proposal)
async def get_proposal(state: State, caller: Reader, proposal_id: str) -> Proposal:
    """A proposal: its priced lines, totals and text."""
    row = await state.query(
        lambda conn: proposals.get_proposal(conn, caller.tenant_id, proposal_id)
    )
    return Proposal.model_validate(row)
