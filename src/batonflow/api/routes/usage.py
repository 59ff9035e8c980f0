"""Usage: the caller's tenant's model calls, tokens and exact cost, grouped by day, model,
workflow or agent, over a time range."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from batonflow.api.deps import ApiState, State, require
from batonflow.auth.scopes import Principal
from batonflow.errors import InvalidInput, NotFound
from batonflow.store import usage as usage_store
from batonflow.workflows.spec import AgentStep, LlmStep, MapItemAgent, MapStep

router = APIRouter(prefix="/api/v1/usage", tags=["usage"])
Grouping = Literal["day", "model", "workflow", "agent"]


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


@router.get("", response_model=Usage)
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
