"""Runs: list with keyset pages, filters and search, read one with its steps, attempts and model
calls; and the dead-letter list (dead runs with the step each died at, its attempt count and its
last attempt), which a retry or a dismissal (`api/routes/run_actions.py`) takes a run off. A run
private to another user (an app's, `runs.private_to`) is not there for the caller, admins aside:
lists leave it out, its routes answer 404.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from batonflow.api.cursors import decode_cursor, encode_cursor
from batonflow.api.deps import ApiState, PageSize, State, require
from batonflow.api.json_guard import Body
from batonflow.auth.scopes import Principal
from batonflow.errors import InvalidInput, NotFound
from batonflow.llm.records import ModelCall
from batonflow.runs.label import inputs_preview, run_label
from batonflow.runs.run import RunStatus, run_viewer
from batonflow.store import dead_letters, run_pages, short_ids
from batonflow.store import llm_calls as call_store
from batonflow.store import reviews as review_store
from batonflow.store import runs as run_store
from batonflow.store.db import Conn

WORKFLOW_ID = re.compile(r"[a-z0-9][a-z0-9_.-]{0,127}")
SHORT_ID = re.compile(rf"[0-9a-fA-F-]{{{short_ids.MIN_LENGTH},36}}")
router = APIRouter(prefix="/api/v1/runs", tags=["runs"])
dead_letters_router = APIRouter(prefix="/api/v1/dead-letters", tags=["runs"])


class RunSummary(BaseModel):
    id: str
    label: str = Field(description="the run's first text inputs, to tell it from its neighbours")
    inputs_preview: dict[str, str] = Field(description="the first inputs, each cut to one line")
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
    args: Any = Field(description="what the step's templates resolved to for this attempt")


class PendingReview(BaseModel):
    id: str
    step_key: str
    kind: str


class RunDetail(RunSummary):
    content_hash: str
    private_to: str | None = Field(
        description="the user the run is private to (an app's, such as a scoping session's "
        "stage): only they and the tenant's admins see it; null: every member"
    )
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


def _summary_fields(row: dict[str, Any], spend: run_pages.Spend) -> dict[str, Any]:
    """A RunSummary's fields, in its order, from a run row and its spend."""
    started, finished = row["started_at"], row["finished_at"]
    return {
        "id": row["id"],
        "label": run_label(row["inputs"]),
        "inputs_preview": inputs_preview(row["inputs"]),
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


async def run_detail(state: ApiState, caller: Principal, run_id: str) -> RunDetail:
    values = await _detail_fields(state, caller, run_id)
    steps = [StepOut(**step) for step in values.pop("steps")]
    reviews = [PendingReview(**review) for review in values.pop("reviews")]
    return RunDetail(**values, steps=steps, reviews=reviews)


async def _detail_fields(state: ApiState, caller: Principal, run_id: str) -> dict[str, Any]:
    """A RunDetail's fields, as plain values (what `get_run` renders with `Body`)."""
    tenant_id, viewer = caller.tenant_id, run_viewer(caller.id, caller.roles)

    async def work(conn: Conn) -> tuple[Any, ...]:
        # The run row carries its version's content hash (copied when it started).
        row = await run_pages.detail(conn, tenant_id, run_id, viewer=viewer)
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
        "private_to": row["private_to"],
        "inputs": row["inputs"],
        "ctx": row["ctx"],
        "outputs": row["outputs"],
        "steps": [{name: step[name] for name in STEP_FIELDS} for step in steps],
        "reviews": [{"id": i, "step_key": key, "kind": kind} for i, key, kind in pending],
    }


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
    short_id: Annotated[
        str | None,
        Query(alias="id", max_length=36, description="a run id, or its first or last characters"),
    ] = None,
    q: Annotated[
        str | None,
        Query(max_length=200, description="text in the id's start or end, workflow or inputs"),
    ] = None,
) -> Body:
    """Runs, newest first, a page at a time; filter by status (repeat), workflow, created range
    and short id (`id`, what the CLI accepts: 6 or more of an id's first or last characters),
    and search (`q`) the ids, workflow ids and inputs."""
    if workflow_id is not None and not WORKFLOW_ID.fullmatch(workflow_id):
        raise InvalidInput(
            "workflow_id is a workflow's id: lowercase letters, digits, '_', '.' and '-'; "
            f"got {workflow_id!r}"
        )
    if short_id is not None and not SHORT_ID.fullmatch(short_id):
        raise InvalidInput(
            f"id is a run id or at least {short_ids.MIN_LENGTH} of its first or last characters "
            f"(hex digits and '-'); got {short_id!r}"
        )
    if q is not None and "\x00" in q:
        raise InvalidInput("q cannot hold a NUL character")
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
            short_id=short_id,
            search=(q or "").strip() or None,
            viewer=run_viewer(caller.id, caller.roles),
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
    return Body(await _detail_fields(state, caller, run_id))


@router.get("/{run_id}/attempts", response_model=AttemptList)
async def list_attempts(
    state: State, run_id: str, caller: Annotated[Principal, require("runs:read")]
) -> AttemptList:
    """Every finished attempt of the run's steps: worker, duration, error, idempotency key."""
    viewer = run_viewer(caller.id, caller.roles)

    async def work(conn: Conn) -> list[dict[str, Any]]:
        await run_store.get_run(conn, caller.tenant_id, run_id, viewer=viewer)
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
    viewer = run_viewer(caller.id, caller.roles)

    async def work(conn: Conn) -> list[dict[str, Any]]:
        await run_store.get_run(conn, caller.tenant_id, run_id, viewer=viewer)
        return await call_store.list_calls(conn, caller.tenant_id, run_id)

    rows = await state.query(work)
    items = [ModelCall.model_validate(row) for row in rows]
    return LlmCallList(
        items=items,
        tokens=sum(c.input_tokens + c.output_tokens for c in items),
        cost_usd=sum((c.cost_usd for c in items if c.cost_usd is not None), Decimal(0)),
    )


class DeadLetter(BaseModel):
    run_id: str
    workflow_id: str
    workflow_version: str
    started_at: datetime | None
    finished_at: datetime | None
    error: dict[str, Any] | None = Field(
        description="the run's error: the failed step's last error (a map's failed items in "
        "`details.failed_items`)"
    )
    failed_step: str | None
    attempts: int = Field(description="how many attempts the failed step had")
    last_attempt: AttemptOut | None = Field(description="the failed step's last attempt")


class DeadLetterList(BaseModel):
    items: list[DeadLetter]


@dead_letters_router.get("", response_model=DeadLetterList)
async def list_dead_letters(
    state: State, limit: PageSize, caller: Annotated[Principal, require("runs:read")]
) -> DeadLetterList:
    """The tenant's dead runs, newest first: runs whose failed step used every attempt its
    retry policy allows."""

    async def work(conn: Conn) -> list[dead_letters.DeadLetter]:
        viewer = run_viewer(caller.id, caller.roles)
        return await dead_letters.list_dead(conn, caller.tenant_id, limit=limit, viewer=viewer)

    found = await state.query(work)
    return DeadLetterList(
        items=[
            DeadLetter(
                run_id=letter.run.id,
                workflow_id=letter.run.workflow_id,
                workflow_version=letter.run.workflow_version,
                started_at=letter.run.started_at,
                finished_at=letter.run.finished_at,
                error=letter.run.error,
                failed_step=letter.failed_step,
                attempts=letter.attempts,
                last_attempt=AttemptOut.model_validate(
                    {name: letter.last_attempt[name] for name in AttemptOut.model_fields}
                )
                if letter.last_attempt is not None
                else None,
            )
            for letter in found
        ]
    )
