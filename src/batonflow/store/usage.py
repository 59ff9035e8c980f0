"""Model usage of a tenant, summed from the call ledger by day, model, workflow or step.

Costs are summed as the stored integers (picodollars), so totals are exact on every database.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import BigInteger, ColumnElement, func, select, type_coerce

from batonflow.store.db import Conn
from batonflow.store.tables import LlmCall, Run, table

calls_t = table(LlmCall)
runs_t = table(Run)
Grouping = Literal["day", "model", "workflow", "step"]
PICO = Decimal(10) ** 12


def _sums() -> list[ColumnElement[Any]]:
    return [
        func.count().label("calls"),
        func.coalesce(func.sum(calls_t.c.input_tokens), 0).label("input_tokens"),
        func.coalesce(func.sum(calls_t.c.output_tokens), 0).label("output_tokens"),
        func.coalesce(func.sum(calls_t.c.cached_input_tokens), 0).label("cached_input_tokens"),
        func.coalesce(func.sum(calls_t.c.cache_write_tokens), 0).label("cache_write_tokens"),
        func.coalesce(func.sum(calls_t.c.reasoning_tokens), 0).label("reasoning_tokens"),
        func.coalesce(func.sum(type_coerce(calls_t.c.cost_usd, BigInteger)), 0).label("pico"),
        func.count(calls_t.c.cost_usd).label("priced"),
    ]


def _totals(row: Any) -> dict[str, Any]:
    return {
        "calls": int(row.calls),
        "input_tokens": int(row.input_tokens),
        "output_tokens": int(row.output_tokens),
        "cached_input_tokens": int(row.cached_input_tokens),
        "cache_write_tokens": int(row.cache_write_tokens),
        "reasoning_tokens": int(row.reasoning_tokens),
        "cost_usd": Decimal(int(row.pico)) / PICO,
        "unpriced_calls": int(row.calls) - int(row.priced),
    }


async def usage(
    conn: Conn, tenant_id: str, group_by: Grouping, since: datetime, until: datetime
) -> list[dict[str, Any]]:
    """One row per group: `key`, calls, tokens by kind, exact cost. Step rows also carry the
    run's `workflow_id` and `workflow_version_pk`, so callers can attribute them to agents."""
    where = (
        calls_t.c.tenant_id == tenant_id,
        calls_t.c.created_at >= since,
        calls_t.c.created_at < until,
    )
    keys: list[ColumnElement[Any]]
    if group_by == "day":
        keys = [func.date(calls_t.c.created_at).label("key")]
        query = select(*keys, *_sums()).where(*where)
    elif group_by == "model":
        keys = [(calls_t.c.provider + ":" + calls_t.c.model).label("key")]
        query = select(*keys, *_sums()).where(*where)
    else:
        workflow = func.coalesce(runs_t.c.workflow_id, "")
        keys = (
            [workflow.label("key")]
            if group_by == "workflow"
            else [
                func.coalesce(calls_t.c.step_key, "").label("key"),
                workflow.label("workflow_id"),
                runs_t.c.workflow_version_pk,
            ]
        )
        query = (
            select(*keys, *_sums())
            .select_from(
                calls_t.outerjoin(
                    runs_t,
                    (runs_t.c.id == calls_t.c.run_id) & (runs_t.c.tenant_id == tenant_id),
                )
            )
            .where(*where)
        )
    rows = await conn.execute(query.group_by(*keys).order_by(*keys))
    result = []
    for row in rows:
        key = row.key.isoformat() if isinstance(row.key, date) else str(row.key)
        item = {"key": key, **_totals(row)}
        if group_by == "step":
            item["workflow_id"] = row.workflow_id
            item["workflow_version_pk"] = row.workflow_version_pk
        result.append(item)
    return result
