"""The sales pipeline's API: start the workflow that works on a lead or a deal, and decide the
review a record's run waits on by the record ("by subject").

Starting goes through the core's run start (`POST /api/v1/runs`), so it has its rules: the same
`Idempotency-Key` answers with the run it started (200), a key reused for another request is a
409, and the tenant's active-run quota applies. A decision goes through the core's review
decision (`POST /api/v1/reviews/{id}/decision`): the same body, roles and once-only rule.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, Field

from batonflow.api.deps import State, require
from batonflow.api.routes import run_actions
from batonflow.api.routes.auth import Strict
from batonflow.apps.sales import pipeline
from batonflow.auth.scopes import Principal

router = APIRouter(tags=["sales"])
Writer = Annotated[Principal, require("runs:write")]
Decider = Annotated[Principal, require("reviews:decide")]


class PipelineStart(Strict):
    lead_id: str | None = Field(None, max_length=36, description="starts sales-outreach")
    deal_id: str | None = Field(None, max_length=36, description="starts sales-deal")


class PipelineRun(BaseModel):
    run_id: str
    workflow_id: str
    status: str


@router.post(
    "/pipeline/run",
    response_model=PipelineRun,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": PipelineRun, "description": "the run this Idempotency-Key started"}},
)
async def run_pipeline(
    state: State,
    request: Request,
    response: Response,
    body: PipelineStart,
    caller: Writer,
    idempotency_key: run_actions.IdempotencyKey = None,
) -> PipelineRun:
    """Start `sales-outreach` on a lead (`lead_id`) or `sales-deal` on a deal (`deal_id`); the
    run is queued and picked up at once. Another tenant's record is 404."""
    workflow_id, inputs = pipeline.start_request(body.lead_id, body.deal_id)
    await state.query(lambda conn: pipeline.check_record(conn, caller.tenant_id, inputs))
    started = await run_actions.start_run(
        state,
        request,
        run_actions.StartRun(workflow_id=workflow_id, inputs=inputs, ctx={"labels": inputs}),
        response,
        caller,
        idempotency_key,
    )
    return PipelineRun(run_id=started.id, workflow_id=workflow_id, status=started.status)


@router.post("/reviews/{entity_type}/{entity_id}/decision", response_model=run_actions.ReviewOut)
async def decide_by_subject(
    state: State,
    request: Request,
    entity_type: pipeline.Entity,
    entity_id: str,
    body: run_actions.DecisionIn,
    caller: Decider,
) -> run_actions.ReviewOut:
    """Decide the open review of the run working on a lead, a deal, a contract (its contract
    review) or a negotiation offer (its over-policy review), as `POST /api/v1/reviews/{id}/
    decision` would; 404 naming the record when no run waits on it."""
    review_id = await state.query(
        lambda conn: pipeline.open_review(conn, caller.tenant_id, entity_type, entity_id)
    )
    return await run_actions.decide(state, request, review_id, body, caller)
