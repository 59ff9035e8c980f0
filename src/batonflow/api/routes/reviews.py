"""Reviews: the queue of `review` and `input` steps waiting for a person, and their decisions.

A decision applies exactly once: a second one on the same review is 409. The decider must hold
`reviews:decide` and one of the roles the step names in `reviewers`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from batonflow.api.deps import PageSize, State, client_address, require
from batonflow.api.routes.auth import Strict
from batonflow.auth.scopes import Principal
from batonflow.runs import reviews as review_service
from batonflow.runs.service import Actor
from batonflow.store import reviews as review_store
from batonflow.store.db import Conn
from batonflow.store.reviews import ReviewRow
from batonflow.workflows.checkpoint import CommitResult

router = APIRouter(prefix="/api/v1/reviews", tags=["reviews"])
ReviewStatus = Literal["pending", "approved", "edited", "rejected", "submitted", "cancelled", "any"]


class ReviewOut(BaseModel):
    id: str
    run_id: str
    step_key: str
    attempt: int
    kind: Literal["review", "input"]
    status: str
    subject: Any = Field(description="what the reviewer is asked to approve")
    instructions: str
    input_schema: dict[str, Any] | None = Field(description="what an input step must be given")
    reviewers: list[str] = Field(description="roles that may decide")
    allow_edit: bool
    decision: str | None
    data: Any
    comment: str | None
    decided_by: str | None
    decided_at: datetime | None
    created_at: datetime


class ReviewList(BaseModel):
    items: list[ReviewOut]


class DecisionIn(Strict):
    decision: Literal["approve", "edit", "reject", "submit"] = Field(
        description="approve, edit (approve with `data` as the edited subject) or reject a "
        "review step; submit `data` to an input step"
    )
    data: Any = Field(None, description="the edited subject (edit) or the input (submit)")
    comment: str | None = Field(None, max_length=4000)


def _out(row: ReviewRow) -> ReviewOut:
    return ReviewOut.model_validate({name: getattr(row, name) for name in ReviewOut.model_fields})


@router.get("", response_model=ReviewList)
async def list_reviews(
    state: State,
    limit: PageSize,
    caller: Annotated[Principal, require("reviews:read")],
    status: ReviewStatus = "pending",
    run_id: Annotated[str | None, Query(max_length=36)] = None,
) -> ReviewList:
    """The tenant's reviews, oldest first; by default those still waiting for a decision
    (`status=any` lists every one)."""
    rows = await state.query(
        lambda conn: review_store.list_reviews(
            conn,
            caller.tenant_id,
            status=None if status == "any" else status,
            run_id=run_id,
            limit=limit,
        )
    )
    return ReviewList(items=[_out(r) for r in rows])


@router.get("/{review_id}", response_model=ReviewOut)
async def get_review(
    state: State, review_id: str, caller: Annotated[Principal, require("reviews:read")]
) -> ReviewOut:
    """Everything a reviewer needs to decide."""
    return _out(
        await state.query(lambda conn: review_store.get_review(conn, caller.tenant_id, review_id))
    )


@router.post("/{review_id}/decision", response_model=ReviewOut)
async def decide(
    state: State,
    request: Request,
    review_id: str,
    body: DecisionIn,
    caller: Annotated[Principal, require("reviews:decide")],
) -> ReviewOut:
    """Decide a review (approve, edit, reject) or give an input step its data, exactly once."""

    async def work(conn: Conn) -> CommitResult:
        return await review_service.decide(
            conn,
            state.specs,
            tenant_id=caller.tenant_id,
            review_id=review_id,
            decision=body.decision,
            actor=Actor(
                caller.name,
                caller.roles,
                kind=caller.kind,
                id=caller.id,
                address=client_address(request),
            ),
            now=state.now(),
            data=body.data,
            comment=body.comment,
        )

    result = await state.transact(work)  # with the executor's checkpoints, in turn
    state.committed(result.events)
    return _out(
        await state.query(lambda conn: review_store.get_review(conn, caller.tenant_id, review_id))
    )
