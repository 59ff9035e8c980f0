"""A pipeline's board: its deals grouped by stage, in stage order, with each stage's count and
its amounts summed per currency (amounts in different currencies are never added together)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from batonflow.apps.sales import deals, money, pipelines
from batonflow.apps.sales import tables as t
from batonflow.store.db import Conn


async def board(conn: Conn, tenant_id: str, pipeline_id: str) -> dict[str, Any]:
    """The pipeline's deals by stage, in stage order: each stage with its deals (newest
    first), their count and their amounts summed per currency (deals without one aside)."""
    pipeline = await pipelines.get_pipeline(conn, tenant_id, pipeline_id)
    rows = await conn.execute(
        sa.select(t.deals)
        .where(t.deals.c.tenant_id == tenant_id, t.deals.c.pipeline_id == pipeline_id)
        .order_by(t.deals.c.created_at.desc(), t.deals.c.id.desc())
    )
    by_stage: dict[str, list[dict[str, Any]]] = {s["id"]: [] for s in pipeline["stages"]}
    for row in rows:
        by_stage[row.stage_id].append(deals.shown(dict(row._mapping)))
    columns = []
    for stage in pipeline["stages"]:
        held = by_stage[stage["id"]]
        sums: dict[str, Decimal] = {}
        for deal in held:
            if deal["amount"] is not None:
                sums[deal["currency"]] = sums.get(deal["currency"], Decimal(0)) + deal["amount"]
        columns.append(
            {
                "stage": stage,
                "count": len(held),
                "amounts": {c: money.rounded(sums[c], c) for c in sorted(sums)},
                "deals": held,
            }
        )
    return {"pipeline": {k: v for k, v in pipeline.items() if k != "stages"}, "stages": columns}
