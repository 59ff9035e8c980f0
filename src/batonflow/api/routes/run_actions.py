"""Acting on runs: start one (idempotently), cancel, retry, dismiss a dead one, override a step,
through the same service functions the CLI uses; each answers with the run as it is now. And
reviews: the queue of `review` and `input` steps waiting for a person, and their decisions. A
decision applies exactly once (a second one is 409); the decider must hold `reviews:decide` and
one of the roles the step names in `reviewers`. A run private to another user, and its reviews,
are not there for the caller (404; lists leave them out), admins aside."""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request, Response, status
from pydantic import BaseModel, Field

from batonflow.api.deps import ApiState, PageSize, State, client_address, require
from batonflow.api.routes.auth import Strict
from batonflow.api.routes.runs import RunDetail, run_detail
from batonflow.auth.scopes import Principal
from batonflow.errors import Conflict
from batonflow.runs import reviews as review_service
from batonflow.runs import service as run_service
from batonflow.runs.run import run_viewer
from batonflow.runs.service import Actor
from batonflow.runs.state import RunRow
from batonflow.store import reviews as review_store
from batonflow.store import run_pages
from batonflow.store import workflows as workflow_store
from batonflow.store.db import Conn
from batonflow.store.reviews import ReviewRow
from batonflow.telemetry.traces import starting_run
from batonflow.workflows.checkpoint import CommitResult

router = APIRouter(prefix="/api/v1/runs", tags=["runs"])
reviews_router = APIRouter(prefix="/api/v1/reviews", tags=["reviews"])
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=200,
        description="the same key returns the run it started the first time",
    ),
]


class StartRun(Strict):
    workflow_id: str = Field(max_length=128)
    version: str | None = Field(None, max_length=64, description="default: the newest version")
    inputs: dict[str, Any] = Field(default_factory=dict)
    ctx: dict[str, Any] = Field(
        default_factory=dict, description="values templates read as ctx.<key>"
    )


class CancelRun(Strict):
    reason: str = Field("", max_length=2000)


class OverrideStep(Strict):
    output: Any = Field(description="the step's output, set by hand")
    reason: str = Field(min_length=1, max_length=2000, description="why; kept with the run")


def _actor(caller: Principal, request: Request) -> Actor:
    return Actor(
        caller.name, caller.roles, kind=caller.kind, id=caller.id, address=client_address(request)
    )


def _request_hash(body: StartRun) -> str:
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


async def _replay(
    state: ApiState, caller: Principal, key: str, request_hash: str
) -> RunDetail | None:
    tenant_id = caller.tenant_id
    found = await state.query(lambda conn: run_pages.by_idempotency_key(conn, tenant_id, key))
    if found is None:
        return None
    run_id, stored_hash = found
    if stored_hash != request_hash:
        raise Conflict(
            f"Idempotency-Key '{key}' already started run {run_id} with a different request; "
            "use a new key for a different run",
            details={"run_id": run_id},
        )
    return await run_detail(state, caller, run_id)


@router.post(
    "",
    response_model=RunDetail,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": RunDetail, "description": "the run this Idempotency-Key started"}},
)
async def start_run(
    state: State,
    request: Request,
    body: StartRun,
    response: Response,
    caller: Annotated[Principal, require("runs:write")],
    idempotency_key: IdempotencyKey = None,
) -> RunDetail:
    """Start a run of a stored workflow version. It is queued and picked up at once."""
    request_hash = _request_hash(body)
    if idempotency_key is not None:
        replayed = await _replay(state, caller, idempotency_key, request_hash)
        if replayed is not None:
            response.status_code = status.HTTP_200_OK
            return replayed
    try:
        with starting_run(state.telemetry.tracing, body.workflow_id) as run_span:

            async def work(conn: Conn) -> RunRow:
                version = await workflow_store.get_version(
                    conn, caller.tenant_id, body.workflow_id, body.version
                )
                return await run_service.start_run(
                    conn,
                    tenant_id=caller.tenant_id,
                    version=version,
                    inputs=body.inputs,
                    # The run's trace context travels with it to whichever worker runs its steps.
                    ctx={**body.ctx, **run_span.carrier},
                    actor=_actor(caller, request),
                    now=state.now(),
                    idempotency=(idempotency_key, request_hash) if idempotency_key else None,
                    max_active_runs=state.settings.tenant_max_active_runs,
                )

            row = await state.transact(work)
            run_span.started(row)
    except Conflict:
        # Another request with the same key committed first (a lost unique race): answer with
        # its run.
        if idempotency_key is None:
            raise
        replayed = await _replay(state, caller, idempotency_key, request_hash)
        if replayed is None:
            raise
        response.status_code = status.HTTP_200_OK
        return replayed
    state.committed([])
    return await run_detail(state, caller, row.id)


async def _act(
    state: ApiState,
    request: Request,
    caller: Principal,
    run_id: str,
    action: Callable[..., Awaitable[CommitResult]],
    **arguments: Any,
) -> RunDetail:
    """Commit an action on a run in the executor's database thread (with its checkpoints, in
    turn), tell the run's followers, and answer with the run as it is now."""
    change = functools.partial(
        action,
        tenant_id=caller.tenant_id,
        run_id=run_id,
        actor=_actor(caller, request),
        now=state.now(),
        **arguments,
    )
    result = await state.transact(change)
    state.committed(result.events)
    return await run_detail(state, caller, run_id)


@router.post("/{run_id}/cancel", response_model=RunDetail)
async def cancel_run(
    state: State,
    request: Request,
    run_id: str,
    body: CancelRun,
    caller: Annotated[Principal, require("runs:write")],
) -> RunDetail:
    """Cancel a queued, running or waiting run (and its child runs)."""
    return await _act(state, request, caller, run_id, run_service.cancel_run, reason=body.reason)


@router.post("/{run_id}/dismiss", response_model=RunDetail)
async def dismiss_run(
    state: State,
    run_id: str,
    body: CancelRun,
    request: Request,
    caller: Annotated[Principal, require("runs:write")],
) -> RunDetail:
    """Take a dead run off the dead-letter list without retrying it: it becomes cancelled and
    keeps its error and attempts. Another status is a 409."""
    return await _act(state, request, caller, run_id, run_service.dismiss_run, reason=body.reason)


@router.post("/{run_id}/retry", response_model=RunDetail)
async def retry_run(
    state: State, request: Request, run_id: str, caller: Annotated[Principal, require("runs:write")]
) -> RunDetail:
    """Run a failed or dead run again from its failed step; finished steps are kept."""
    return await _act(state, request, caller, run_id, run_service.retry_run, specs=state.specs)


@router.post("/{run_id}/steps/{step_key}/override", response_model=RunDetail)
async def override_step(
    state: State,
    request: Request,
    run_id: str,
    step_key: str,
    body: OverrideStep,
    caller: Annotated[Principal, require("runs:write")],
) -> RunDetail:
    """Set an unfinished step's output by hand (recorded with who and why); the run continues."""
    return await _act(
        state,
        request,
        caller,
        run_id,
        run_service.override_step,
        specs=state.specs,
        step_key=step_key,
        output=body.output,
        reason=body.reason,
    )


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


@reviews_router.get("", response_model=ReviewList)
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
            viewer=run_viewer(caller.id, caller.roles),
        )
    )
    return ReviewList(items=[_out(r) for r in rows])


@reviews_router.get("/{review_id}", response_model=ReviewOut)
async def get_review(
    state: State, review_id: str, caller: Annotated[Principal, require("reviews:read")]
) -> ReviewOut:
    """Everything a reviewer needs to decide."""
    return await _review(state, caller, review_id)


async def _review(state: ApiState, caller: Principal, review_id: str) -> ReviewOut:
    viewer = run_viewer(caller.id, caller.roles)
    return _out(
        await state.query(
            lambda conn: review_store.get_review(conn, caller.tenant_id, review_id, viewer=viewer)
        )
    )


@reviews_router.post("/{review_id}/decision", response_model=ReviewOut)
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
    return await _review(state, caller, review_id)
