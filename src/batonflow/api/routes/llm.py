"""The LLM's records: the registry of prompt templates, by key, in immutable numbered versions;
and usage, the tenant's model calls, tokens and exact cost, grouped by day, model, workflow or
agent, over a time range."""

from __future__ import annotations

import difflib
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, Field

from batonflow.api.deps import ApiState, State, require
from batonflow.api.routes.auth import Strict
from batonflow.auth.scopes import Principal
from batonflow.errors import InvalidInput, NotFound
from batonflow.llm import prompts as prompt_service
from batonflow.llm.prompts import PromptDraft
from batonflow.store import prompts as prompt_store
from batonflow.store import usage as usage_store
from batonflow.store.db import Conn
from batonflow.workflows.spec import AgentStep, LlmStep, MapItemAgent, MapStep

router = APIRouter(prefix="/api/v1/prompts", tags=["prompts"])
usage_router = APIRouter(prefix="/api/v1/usage", tags=["usage"])
Grouping = Literal["day", "model", "workflow", "agent"]
MAX_VERSION = 2**31 - 1  # versions are 32-bit integer columns; a larger one cannot exist


class PromptIn(Strict):
    key: str = Field(max_length=128, description="lowercase letters, digits, '.', '_', '-'")
    template: str = Field(max_length=200_000, description="a sandboxed Jinja2 template")
    variables: list[str] = Field(default_factory=list, description="the names it may read")
    system: str | None = Field(None, max_length=200_000)
    description: str = Field("", max_length=2000)


class PromptOut(BaseModel):
    id: str
    key: str
    version: int
    template: str
    system: str | None
    variables: list[str]
    description: str
    content_hash: str
    created_by: str
    created_at: datetime


class PromptList(BaseModel):
    items: list[PromptOut]


class PromptDiff(BaseModel):
    key: str
    from_version: int
    to_version: int
    diff: str = Field(description="a unified diff of system and template")


def _out(row: dict[str, Any]) -> PromptOut:
    return PromptOut.model_validate({name: row[name] for name in PromptOut.model_fields})


@router.post(
    "",
    response_model=PromptOut,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": PromptOut, "description": "identical to the newest version"}},
)
async def create_version(
    state: State,
    body: PromptIn,
    response: Response,
    caller: Annotated[Principal, require("prompts:write")],
) -> PromptOut:
    """Store a new version of a prompt; content identical to the newest returns that one."""
    draft = PromptDraft(
        key=body.key,
        template=body.template,
        variables=tuple(body.variables),
        system=body.system,
        description=body.description,
    )
    row, created = await state.transact(
        lambda conn: prompt_service.save(conn, caller.tenant_id, draft, caller.name, state.now())
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    return _out(row)


@router.get("", response_model=PromptList)
async def list_prompts(
    state: State, caller: Annotated[Principal, require("prompts:read")]
) -> PromptList:
    """Each prompt key with its newest version."""
    rows = await state.query(lambda conn: prompt_store.list_latest(conn, caller.tenant_id))
    return PromptList(items=[_out(r) for r in rows])


@router.get("/{key}/versions", response_model=PromptList)
async def list_versions(
    state: State, key: str, caller: Annotated[Principal, require("prompts:read")]
) -> PromptList:
    """Every version of a prompt, oldest first."""
    rows = await state.query(lambda conn: prompt_store.list_versions(conn, caller.tenant_id, key))
    if not rows:
        raise NotFound(f"no prompt '{key}'")
    return PromptList(items=[_out(r) for r in rows])


@router.get("/{key}", response_model=PromptOut)
async def get_prompt(
    state: State,
    key: str,
    caller: Annotated[Principal, require("prompts:read")],
    version: Annotated[int | None, Query(ge=1, le=MAX_VERSION)] = None,
) -> PromptOut:
    """A prompt's newest version, or the one `version` names."""
    return _out(
        await state.query(lambda conn: prompt_store.get(conn, caller.tenant_id, key, version))
    )


@router.get("/{key}/diff", response_model=PromptDiff)
async def diff_versions(
    state: State,
    key: str,
    caller: Annotated[Principal, require("prompts:read")],
    from_version: Annotated[int, Query(alias="from", ge=1, le=MAX_VERSION)],
    to_version: Annotated[int | None, Query(alias="to", ge=1, le=MAX_VERSION)] = None,
) -> PromptDiff:
    """What changed between two versions (`to` defaults to the newest)."""

    async def both(conn: Conn) -> tuple[dict[str, Any], dict[str, Any]]:
        old = await prompt_store.get(conn, caller.tenant_id, key, from_version)
        return old, await prompt_store.get(conn, caller.tenant_id, key, to_version)

    old, new = await state.query(both)

    def text(row: dict[str, Any]) -> list[str]:
        system = f"[system]\n{row['system']}\n" if row["system"] else ""
        return (system + f"[template]\n{row['template']}\n").splitlines(keepends=True)

    lines = difflib.unified_diff(
        text(old), text(new), f"{key} v{old['version']}", f"{key} v{new['version']}"
    )
    return PromptDiff(
        key=key, from_version=old["version"], to_version=new["version"], diff="".join(lines)
    )


class UsageRow(BaseModel):
    key: str = Field(description="the day (YYYY-MM-DD), provider:model, workflow id or agent")
    calls: int
    input_tokens: int
    output_tokens: int
    cached_input_tokens: int
    cache_write_tokens: int
    reasoning_tokens: int
    cost_usd: Decimal
    unpriced_calls: int = Field(description="calls of models missing from the price table")


class Usage(BaseModel):
    group_by: Grouping
    since: datetime
    until: datetime
    items: list[UsageRow]
    total: UsageRow


def _add(rows: list[dict[str, Any]], key: str) -> dict[str, Any]:
    total: dict[str, Any] = {"key": key}
    for name in UsageRow.model_fields:
        if name != "key":
            total[name] = sum((row[name] for row in rows), Decimal(0) if name == "cost_usd" else 0)
    return total


async def _agent_of(state: ApiState, tenant_id: str, row: dict[str, Any]) -> str:
    """The agent behind a step's calls: its capability's agent, `llm` for llm steps."""
    if not row["workflow_version_pk"]:
        return "(outside a run)"
    try:
        spec = await state.query(
            lambda conn: state.specs.get(conn, tenant_id, row["workflow_version_pk"])
        )
    except NotFound:
        return "(unknown)"
    step = spec.by_id.get(row["key"].split("[", 1)[0])
    capability = None
    if isinstance(step, AgentStep):
        capability = step.capability
    elif isinstance(step, MapStep) and isinstance(step.step, MapItemAgent):
        capability = step.step.capability
    elif isinstance(step, LlmStep):
        return "llm"
    if capability is None:
        return "(unknown)"
    try:
        return state.registry.capability(capability).agent
    except NotFound:
        return capability


@usage_router.get("", response_model=Usage)
async def usage(
    state: State,
    caller: Annotated[Principal, require("usage:read")],
    group_by: Grouping = "day",
    since: Annotated[datetime | None, Query(description="default: 30 days ago")] = None,
    until: Annotated[datetime | None, Query(description="default: now")] = None,
) -> Usage:
    """Calls, tokens by kind and exact cost (USD, as a decimal string) per group."""
    end = until or state.now()
    start = since or end - timedelta(days=30)
    for moment, name in ((start, "since"), (end, "until")):
        if moment.tzinfo is None:
            raise InvalidInput(f"{name} needs a time zone, e.g. 2026-12-01T00:00:00Z")
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if start >= end:
        raise InvalidInput("since must be before until")
    grouping: usage_store.Grouping = "step" if group_by == "agent" else group_by
    rows = await state.query(
        lambda conn: usage_store.usage(conn, caller.tenant_id, grouping, start, end)
    )
    if group_by == "agent":
        by_agent: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            by_agent.setdefault(await _agent_of(state, caller.tenant_id, row), []).append(row)
        rows = [_add(group, agent) for agent, group in sorted(by_agent.items())]
    items = [UsageRow.model_validate({k: r[k] for k in UsageRow.model_fields}) for r in rows]
    return Usage(
        group_by=group_by,
        since=start,
        until=end,
        items=items,
        total=UsageRow.model_validate(_add([i.model_dump() for i in items], "total")),
    )
