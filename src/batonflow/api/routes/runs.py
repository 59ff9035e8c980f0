"""Runs: start (idempotently), list with keyset pages and filters, read, operate.

Operator actions (cancel, retry, override) go through the same service functions the CLI uses,
so the engine decides what runs next whoever acted. A started run is queued; the in-process
executor (or any `batonflow worker`) picks it up at once.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response, status
from pydantic import BaseModel, Field

from batonflow.api.body import Body
from batonflow.api.cursors import decode_cursor, encode_cursor
from batonflow.api.deps import ApiState, PageSize, State, require
from batonflow.auth.scopes import Principal
from batonflow.errors import Conflict, InvalidInput, NotFound
from batonflow.llm.records import ModelCall
from batonflow.runs import service as run_service
from batonflow.runs.run import RunStatus
from batonflow.runs.service import Actor
from batonflow.runs.state import RunRow
from batonflow.store import llm_calls as call_store
from batonflow.store import reviews as review_store
from batonflow.store import run_pages
from batonflow.store import runs as run_store
from batonflow.store import workflows as workflow_store
from batonflow.store.db import Conn
from batonflow.telemetry.traces import starting_run
from batonflow.workflows.checkpoint import CommitResult

router = APIRouter(prefix="/api/v1/runs", tags=["runs"])
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=200,
        description="the same key returns the run it started the first time",
    ),
]


class StartRun(BaseModel):
    workflow_id: str = Field(max_length=128)
    version: str | None = Field(None, max_length=64, description="default: the newest version")
    inputs: dict[str, Any] = Field(default_factory=dict)
    ctx: dict[str, Any] = Field(
        default_factory=dict, description="values templates read as ctx.<key>"
    )


class RunSummary(BaseModel):
    id: str
    workflow_id: str
    workflow_version: str
    status: RunStatus
    created_by: str
    parent_run_id: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    duration_s: float | None
    llm_calls: int
    tokens: int
    cost_usd: Decimal
    error: dict[str, Any] | None


class StepOut(BaseModel):
    key: str
    kind: str
    status: str
    attempt: int
    parent_key: str | None
    item_index: int | None
    result: Any
    error: dict[str, Any] | None
    started_at: datetime | None
    finished_at: datetime | None
    overridden_by: str | None
    override_reason: str | None


STEP_FIELDS = tuple(StepOut.model_fields)


class AttemptOut(BaseModel):
    step_key: str
    attempt: int
    dispatch: int
    status: str
    worker: str
    idempotency_key: str
    started_at: datetime
    finished_at: datetime
    duration_ms: float
    error: dict[str, Any] | None


class PendingReview(BaseModel):
    id: str
    step_key: str
    kind: str


class RunDetail(RunSummary):
    content_hash: str
    inputs: dict[str, Any]
    ctx: dict[str, Any]
    outputs: dict[str, Any] | None
    steps: list[StepOut]
    reviews: list[PendingReview]


class RunPage(BaseModel):
    items: list[RunSummary]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page")


class AttemptList(BaseModel):
    items: list[AttemptOut]


class LlmCallList(BaseModel):
    items: list[ModelCall]
    tokens: int
    cost_usd: Decimal


class CancelRun(BaseModel):
    reason: str = Field("", max_length=2000)


class OverrideStep(BaseModel):
    output: Any = Field(description="the step's output, set by hand")
    reason: str = Field(min_length=1, max_length=2000, description="why; kept with the run")


def _actor(caller: Principal) -> Actor:
    return Actor(caller.name, caller.roles)


def _summary_fields(row: dict[str, Any], spend: run_pages.Spend) -> dict[str, Any]:
    """A RunSummary's fields, in its order, from a run row and its spend."""
    started, finished = row["started_at"], row["finished_at"]
    return {
        "id": row["id"],
        "workflow_id": row["workflow_id"],
        "workflow_version": row["workflow_version"],
        "status": row["status"],
        "created_by": row["created_by"],
        "parent_run_id": row["parent_run_id"],
        "created_at": row["created_at"],
        "started_at": started,
        "finished_at": finished,
        "duration_s": round((finished - started).total_seconds(), 3)
        if started and finished
        else None,
        "llm_calls": spend.calls,
        "tokens": spend.tokens,
        "cost_usd": spend.cost_usd,
        "error": row["error"],
    }


async def _detail(state: ApiState, tenant_id: str, run_id: str) -> RunDetail:
    values = await _detail_fields(state, tenant_id, run_id)
    steps = [StepOut(**step) for step in values.pop("steps")]
    reviews = [PendingReview(**review) for review in values.pop("reviews")]
    return RunDetail(**values, steps=steps, reviews=reviews)


async def _detail_fields(state: ApiState, tenant_id: str, run_id: str) -> dict[str, Any]:
    """A RunDetail's fields, as plain values (what `get_run` renders with `Body`)."""

    async def work(conn: Conn) -> tuple[Any, ...]:
        # The run row carries its version's content hash (copied when it started).
        row = await run_pages.detail(conn, tenant_id, run_id)
        if row is None:
            raise NotFound(f"no run '{run_id}'")
        steps = await run_store.list_steps(conn, tenant_id, run_id)
        pending = await review_store.pending_of_run(conn, tenant_id, run_id)
        spend = await run_pages.run_spend(conn, tenant_id, run_id)
        return row, steps, pending, spend

    row, steps, pending, spend = await state.query(work)
    return {
        **_summary_fields(row, spend),
        "content_hash": row["content_hash"],
        "inputs": row["inputs"],
        "ctx": row["ctx"],
        "outputs": row["outputs"],
        "steps": [{name: step[name] for name in STEP_FIELDS} for step in steps],
        "reviews": [{"id": i, "step_key": key, "kind": kind} for i, key, kind in pending],
    }


def _request_hash(body: StartRun) -> str:
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


async def _replay(state: ApiState, tenant_id: str, key: str, request_hash: str) -> RunDetail | None:
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
    return await _detail(state, tenant_id, run_id)


@router.post(
    "",
    response_model=RunDetail,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": RunDetail, "description": "the run this Idempotency-Key started"}},
)
async def start_run(
    state: State,
    body: StartRun,
    response: Response,
    caller: Annotated[Principal, require("runs:write")],
    idempotency_key: IdempotencyKey = None,
) -> RunDetail:
    """Start a run of a stored workflow version. It is queued and picked up at once."""
    request_hash = _request_hash(body)
    if idempotency_key is not None:
        replayed = await _replay(state, caller.tenant_id, idempotency_key, request_hash)
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
                    actor=_actor(caller),
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
        replayed = await _replay(state, caller.tenant_id, idempotency_key, request_hash)
        if replayed is None:
            raise
        response.status_code = status.HTTP_200_OK
        return replayed
    state.committed([])
    return await _detail(state, caller.tenant_id, row.id)


@router.get("", response_model=RunPage)
async def list_runs(
    state: State,
    limit: PageSize,
    caller: Annotated[Principal, require("runs:read")],
    status_: Annotated[list[RunStatus] | None, Query(alias="status")] = None,
    workflow_id: Annotated[str | None, Query(max_length=128)] = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> Body:
    """Runs, newest first, a page at a time; filter by status (repeat), workflow, created range."""
    for moment, name in ((created_after, "created_after"), (created_before, "created_before")):
        if moment is not None and moment.tzinfo is None:
            raise InvalidInput(f"{name} needs a time zone, e.g. 2026-12-01T00:00:00Z")
    after = decode_cursor(cursor) if cursor else None

    async def work(conn: Conn) -> list[tuple[dict[str, Any], run_pages.Spend]]:
        return await run_pages.page(
            conn,
            caller.tenant_id,
            limit=limit + 1,
            status=[s.value for s in status_ or ()],
            workflow_id=workflow_id,
            created_after=created_after,
            created_before=created_before,
            after=after,
        )

    found = await state.query(work)
    more = len(found) > limit
    items = [_summary_fields(row, spend) for row, spend in found[:limit]]
    last = items[-1] if items else None
    return Body(
        {
            "items": items,
            "next_cursor": encode_cursor(last["created_at"], last["id"]) if more and last else None,
        }
    )


@router.get("/{run_id}", response_model=RunDetail)
async def get_run(
    state: State, run_id: str, caller: Annotated[Principal, require("runs:read")]
) -> Body:
    """A run with its steps, outputs, cost and the reviews it waits on."""
    return Body(await _detail_fields(state, caller.tenant_id, run_id))


@router.get("/{run_id}/attempts", response_model=AttemptList)
async def list_attempts(
    state: State, run_id: str, caller: Annotated[Principal, require("runs:read")]
) -> AttemptList:
    """Every finished attempt of the run's steps: worker, duration, error, idempotency key."""

    async def work(conn: Conn) -> list[dict[str, Any]]:
        await run_store.get_run(conn, caller.tenant_id, run_id)
        return await run_store.list_attempts(conn, caller.tenant_id, run_id)

    rows = await state.query(work)
    return AttemptList(
        items=[AttemptOut.model_validate({k: a[k] for k in AttemptOut.model_fields}) for a in rows]
    )


@router.get("/{run_id}/llm-calls", response_model=LlmCallList)
async def list_llm_calls(
    state: State, run_id: str, caller: Annotated[Principal, require("runs:read")]
) -> LlmCallList:
    """The run's model calls (one per route hop): tokens, exact cost, latency, status."""

    async def work(conn: Conn) -> list[dict[str, Any]]:
        await run_store.get_run(conn, caller.tenant_id, run_id)
        return await call_store.list_calls(conn, caller.tenant_id, run_id)

    rows = await state.query(work)
    items = [ModelCall.model_validate(row) for row in rows]
    return LlmCallList(
        items=items,
        tokens=sum(c.input_tokens + c.output_tokens for c in items),
        cost_usd=sum((c.cost_usd for c in items if c.cost_usd is not None), Decimal(0)),
    )


async def _changed(
    state: ApiState,
    tenant_id: str,
    run_id: str,
    change: Callable[[Conn], Awaitable[CommitResult]],
) -> RunDetail:
    """Commit a change to a run in the executor's database thread (with its checkpoints, in
    turn), tell the run's followers, and answer with the run as it is now."""
    result = await state.transact(change)
    state.committed(result.events)
    return await _detail(state, tenant_id, run_id)


@router.post("/{run_id}/cancel", response_model=RunDetail)
async def cancel_run(
    state: State,
    run_id: str,
    body: CancelRun,
    caller: Annotated[Principal, require("runs:write")],
) -> RunDetail:
    """Cancel a queued, running or waiting run (and its child runs)."""
    change = functools.partial(
        run_service.cancel_run,
        tenant_id=caller.tenant_id,
        run_id=run_id,
        actor=_actor(caller),
        reason=body.reason,
        now=state.now(),
    )
    return await _changed(state, caller.tenant_id, run_id, change)


@router.post("/{run_id}/retry", response_model=RunDetail)
async def retry_run(
    state: State, run_id: str, caller: Annotated[Principal, require("runs:write")]
) -> RunDetail:
    """Run a failed or dead run again from its failed step; finished steps are kept."""
    change = functools.partial(
        run_service.retry_run,
        specs=state.specs,
        tenant_id=caller.tenant_id,
        run_id=run_id,
        actor=_actor(caller),
        now=state.now(),
    )
    return await _changed(state, caller.tenant_id, run_id, change)


@router.post("/{run_id}/steps/{step_key}/override", response_model=RunDetail)
async def override_step(
    state: State,
    run_id: str,
    step_key: str,
    body: OverrideStep,
    caller: Annotated[Principal, require("runs:write")],
) -> RunDetail:
    """Set an unfinished step's output by hand (recorded with who and why); the run continues."""
    change = functools.partial(
        run_service.override_step,
        specs=state.specs,
        tenant_id=caller.tenant_id,
        run_id=run_id,
        step_key=step_key,
        output=body.output,
        reason=body.reason,
        actor=_actor(caller),
        now=state.now(),
    )
    return await _changed(state, caller.tenant_id, run_id, change)
