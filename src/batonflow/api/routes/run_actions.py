"""Acting on runs: start one (idempotently), cancel, retry, dismiss a dead one, override a step,
through the same service functions the CLI uses. Each answers with the run as it is now."""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response, status
from pydantic import Field

from batonflow.api.deps import ApiState, State, client_address, require
from batonflow.api.routes.auth import Strict
from batonflow.api.routes.runs import RunDetail, run_detail
from batonflow.auth.scopes import Principal
from batonflow.errors import Conflict
from batonflow.runs import service as run_service
from batonflow.runs.service import Actor
from batonflow.runs.state import RunRow
from batonflow.store import run_pages
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
    return await run_detail(state, tenant_id, run_id)


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
        replayed = await _replay(state, caller.tenant_id, idempotency_key, request_hash)
        if replayed is None:
            raise
        response.status_code = status.HTTP_200_OK
        return replayed
    state.committed([])
    return await run_detail(state, caller.tenant_id, row.id)


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
    return await run_detail(state, caller.tenant_id, run_id)


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
    state: State,
    request: Request,
    run_id: str,
    caller: Annotated[Principal, require("runs:write")],
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
