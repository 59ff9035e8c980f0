"""`POST /api/v1/sales/agents/{name}/run`: one capability of a sales app agent as a durable run,
and `GET /api/v1/sales/agents/runs/{run_id}` to follow it. The body names the capability and
its input; an agent or capability the app does not have is 404 naming those it has, an input
that does not fit is 422 naming the field."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, Field

from batonflow.api.deps import ApiState, State, require
from batonflow.apps.sales import agent_runs
from batonflow.auth.scopes import Principal
from batonflow.runs.service import Actor

router = APIRouter(tags=["sales"])
Reader = Annotated[Principal, require("runs:read")]
Writer = Annotated[Principal, require("runs:write")]


class RunIn(BaseModel):
    capability: str = Field(description="one of the agent's capabilities, e.g. deal.propose")
    input: dict[str, Any] = Field(default_factory=dict, description="the capability's input")
    wait: bool = Field(False, description="answer once the run ended (up to `timeout` seconds)")
    timeout: float = Field(60, gt=0, le=600, description="seconds to wait with `wait`")


class AgentRun(BaseModel):
    run_id: str
    agent: str | None
    capability: str
    status: str = Field(description="the run's status: queued, running ... succeeded, dead")
    output: dict[str, Any] | None = Field(None, description="the capability's output")
    error: dict[str, Any] | None = Field(None, description="why it failed")


def host(state: ApiState) -> agent_runs.Host:
    found = state.apps.enabled.get("sales")
    return agent_runs.Host(
        agents=() if found is None else found.agents,
        catalog=state.registry,
        write=state.transact,
        read=state.query,
        wake=lambda: state.committed([]),
        bus=state.bus,
        max_active_runs=state.settings.tenant_max_active_runs,
    )


def _actor(caller: Principal) -> Actor:
    return Actor(caller.name, frozenset(caller.roles), kind=caller.kind, id=caller.id)


@router.post(
    "/agents/{name}/run",
    response_model=AgentRun,
    responses={202: {"model": AgentRun, "description": "queued or running: follow `Location`"}},
)
async def run_capability(state: State, caller: Writer, name: str, body: RunIn) -> Any:
    """Start one capability of the agent `name` (`sales`: `deal.propose`, `deal.advance`) as a
    run; 202 with the run's id and status, or with `wait` the ended run and its output."""
    running = host(state)
    run_id = await agent_runs.start(
        running, _actor(caller), caller.tenant_id, name, body.capability, body.input
    )
    if body.wait:
        await agent_runs.wait(running, caller.tenant_id, run_id, body.timeout)
    found = AgentRun(**await agent_runs.answer(running, caller.tenant_id, run_id))
    if found.status in agent_runs.ENDED:
        return found
    return Response(
        found.model_dump_json(),
        status_code=status.HTTP_202_ACCEPTED,
        media_type="application/json",
        headers={"Location": f"/api/v1/sales/agents/runs/{run_id}"},
    )


@router.get("/agents/runs/{run_id}", response_model=AgentRun)
async def get_run(state: State, caller: Reader, run_id: str) -> AgentRun:
    """A run of a sales capability: its status, and its output or error once it ended."""
    return AgentRun(**await agent_runs.answer(host(state), caller.tenant_id, run_id))
