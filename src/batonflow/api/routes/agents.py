"""What this installation can run: agents, their capabilities and tools; and which apps it has
enabled, where their API lives and which dashboard pages they add (the dashboard builds its
navigation from this)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from batonflow.agents.agent import Toolbox
from batonflow.api.deps import Caller, State, require
from batonflow.auth.scopes import Principal

router = APIRouter(prefix="/api/v1/agents", tags=["agents"])
apps_router = APIRouter(prefix="/api/v1/apps", tags=["apps"])


class NeedsOut(BaseModel):
    """What a tool declares it needs (agents/needs.py); the platform checks grants against it."""

    hosts: list[str] = Field(description='hosts it may reach; "*": only those a grant names')
    files: Literal["none", "scratch"]
    timeout: float | None = Field(description="seconds per call; null: the step's timeout")
    memory_mb: int | None
    side_effects: bool
    bounded: list[str] = Field(description="arguments a grant to an agent or model must limit")


class CapabilityOut(BaseModel):
    name: str
    description: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]
    breaker: Literal["closed", "open", "half_open"] = Field(
        description="this process's circuit breaker for the capability"
    )
    needs: NeedsOut | None = Field(None, description="tools only: what the tool needs")


class AgentOut(BaseModel):
    name: str
    kind: Literal["agent", "toolbox"]
    description: str
    capabilities: list[CapabilityOut]


class AgentList(BaseModel):
    items: list[AgentOut]


@router.get("", response_model=AgentList)
async def list_agents(
    state: State, caller: Annotated[Principal, require("agents:read")]
) -> AgentList:
    """Every registered agent and toolbox with its capabilities' input and output schemas."""
    registry = state.registry
    items = []
    for agent in sorted(registry.agents.values(), key=lambda a: a.name):
        capabilities = [
            CapabilityOut(
                name=cap.name,
                description=cap.description,
                input_schema=cap.input_model.model_json_schema(),
                output_schema=cap.output_model.model_json_schema(),
                breaker=registry.breaker(cap.name).state.value,
                needs=None if cap.needs is None else NeedsOut(**cap.needs.as_dict()),
            )
            for cap in sorted(agent.capabilities.values(), key=lambda c: c.name)
        ]
        items.append(
            AgentOut(
                name=agent.name,
                kind="toolbox" if isinstance(agent, Toolbox) else "agent",
                description=agent.description,
                capabilities=capabilities,
            )
        )
    return AgentList(items=items)


class PageOut(BaseModel):
    key: str
    title: str
    path: str


class AppOut(BaseModel):
    name: str
    title: str
    description: str
    api: str | None
    pages: list[PageOut]
    workflows: list[str]


class AppList(BaseModel):
    items: list[AppOut]


@apps_router.get("", response_model=AppList)
async def list_apps(state: State, caller: Caller) -> AppList:
    """The enabled apps, in the order `BATONFLOW_APPS` names them (by name when unset)."""
    return AppList(
        items=[
            AppOut(
                name=app.name,
                title=app.title,
                description=app.description,
                api=f"/api/v1/{app.name}" if app.router is not None else None,
                pages=[
                    PageOut(key=p.key, title=p.title, path=f"/apps/{app.name}/{p.key}")
                    for p in app.pages
                ],
                workflows=[path.name for path in app.workflow_files()],
            )
            for app in state.apps
        ]
    )
