"""Patterns and their execution: `GET /patterns`, `POST /execute` (run a pattern on pinned
inputs: synchronously up to a timeout, or returning the run to follow), `GET
/executions/{run_id}` and `POST /executions/{run_id}/rerun` (the same pattern on the same pins).

While the current pricing pack is still being built, executing answers 503 with `Retry-After`
and `estimated_ready` (the `not_ready` error), unless the request pins a fresh pack itself."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, Field

from batonflow.api.deps import ApiState, State, require
from batonflow.apps.portfolio import executions
from batonflow.apps.portfolio.settings import PortfolioSettings
from batonflow.auth.scopes import Principal
from batonflow.runs.service import Actor

router = APIRouter(tags=["portfolio"])
Reader = Annotated[Principal, require("runs:read")]
Writer = Annotated[Principal, require("runs:write")]


class PatternOut(BaseModel):
    id: str
    title: str
    description: str
    on_portfolio: bool = Field(description="runs on a portfolio, pinning its ledger state")


class ExecuteIn(BaseModel):
    pattern_id: str = Field(description="a pattern of GET /patterns")
    portfolio_id: str | None = Field(None, description="for a pattern on a portfolio")
    inputs: dict[str, Any] = Field(default_factory=dict, description="the pattern's own inputs")
    pricing_pack_id: str | None = Field(
        None, description="compute on this pack (default: the current fresh one)"
    )
    ledger_commit_hash: str | None = Field(
        None, description="compute on this ledger state (default: the portfolio's latest)"
    )
    wait: bool = Field(True, description="wait for the result (up to `timeout` seconds)")
    timeout: float | None = Field(
        None, gt=0, le=600, description="seconds to wait (default: the app's execute_timeout)"
    )


class Execution(BaseModel):
    run_id: str
    pattern_id: str
    status: str = Field(description="the run's status: queued, running ... succeeded, failed")
    pricing_pack_id: str | None
    ledger_commit_hash: str | None
    pattern_version: int | None = Field(None, description="once the result is kept")
    result_id: str | None = None
    result_hash: str | None = Field(None, description="sha256 of the canonical result")
    result: dict[str, Any] | None = None
    sources: list[str] = Field(default_factory=list, description="every source the result used")
    attribution: list[str] = Field(default_factory=list, description="to show with the result")
    error: dict[str, Any] | None = None


def host(state: ApiState) -> executions.Host:
    return executions.Host(
        write=state.transact,
        read=state.query,
        wake=lambda: state.committed([]),
        bus=state.bus,
        max_active_runs=state.settings.tenant_max_active_runs,
    )


def _actor(caller: Principal) -> Actor:
    return Actor(caller.name, frozenset(caller.roles), kind=caller.kind, id=caller.id)


async def _answer(state: ApiState, tenant_id: str, run_id: str) -> Execution:
    return Execution(**await executions.settle(host(state), tenant_id, run_id))


async def _respond(
    state: ApiState, tenant_id: str, run_id: str, wait: bool, seconds: float | None
) -> Any:
    if wait:
        settings: PortfolioSettings = state.apps.settings_of("portfolio")
        await executions.wait(host(state), tenant_id, run_id, seconds or settings.execute_timeout)
    execution = await _answer(state, tenant_id, run_id)
    if execution.status in executions.ENDED:
        return execution
    return Response(
        execution.model_dump_json(),
        status_code=status.HTTP_202_ACCEPTED,
        media_type="application/json",
        headers={"Location": f"/api/v1/portfolio/executions/{run_id}"},
    )


@router.get("/patterns", response_model=list[PatternOut])
async def list_patterns(caller: Reader) -> list[PatternOut]:
    """The patterns this installation runs."""
    return [
        PatternOut(id=p.id, title=p.title, description=p.description, on_portfolio=p.on_portfolio)
        for p in executions.PATTERNS.values()
    ]


@router.post(
    "/execute",
    response_model=Execution,
    responses={
        202: {"model": Execution, "description": "still running: follow `Location`"},
        503: {"description": "the pricing pack is being built; retry after `Retry-After`"},
    },
)
async def execute(state: State, caller: Writer, body: ExecuteIn) -> Any:
    """Run a pattern on the current pack (or the pinned one) and the portfolio's ledger state:
    the result with the `pricing_pack_id` and `ledger_commit_hash` it was computed from."""
    run_id = await executions.start(
        host(state),
        _actor(caller),
        caller.tenant_id,
        body.pattern_id,
        inputs=body.inputs,
        portfolio_id=body.portfolio_id,
        pricing_pack_id=body.pricing_pack_id,
        ledger_commit_hash=body.ledger_commit_hash,
    )
    return await _respond(state, caller.tenant_id, run_id, body.wait, body.timeout)


@router.get("/executions/{run_id}", response_model=Execution)
async def get_execution(state: State, caller: Reader, run_id: str) -> Execution:
    """A pattern execution: its run's status and, once it succeeded, its result."""
    return await _answer(state, caller.tenant_id, run_id)


@router.post(
    "/executions/{run_id}/rerun",
    response_model=Execution,
    responses={202: {"model": Execution, "description": "still running: follow `Location`"}},
)
async def rerun(state: State, caller: Writer, run_id: str, wait: bool = True) -> Any:
    """Run a past execution's pattern again on its pinned pack and ledger state."""
    new_id = await executions.rerun(host(state), _actor(caller), caller.tenant_id, run_id)
    return await _respond(state, caller.tenant_id, new_id, wait, None)
