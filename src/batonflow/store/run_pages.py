"""Runs as the API lists them: keyset pages with filters, costs per run, active-run counts and
idempotent starts. Every query takes `tenant_id`.

A page is ordered newest first by `(created_at, id)` and continued from the last row's pair, so
a deep page costs what the first one does (the `ix_runs_tenant_created` index serves both).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, func, select, tuple_, type_coerce

from batonflow.runs.run import RunStatus
from batonflow.store.db import Conn
from batonflow.store.tables import LlmCall, Run, table

runs_t = table(Run)
calls_t = table(LlmCall)
ACTIVE = (RunStatus.QUEUED.value, RunStatus.RUNNING.value, RunStatus.WAITING.value)
SUMMARY_COLUMNS = (
    "id",
    "workflow_id",
    "workflow_version",
    "status",
    "created_by",
    "parent_run_id",
    "error",
    "created_at",
    "started_at",
    "finished_at",
)
DETAIL_COLUMNS = (*SUMMARY_COLUMNS, "content_hash", "inputs", "ctx", "outputs")


@dataclass(frozen=True, slots=True)
class Spend:
    calls: int
    tokens: int
    cost_usd: Decimal


NOTHING = Spend(0, 0, Decimal(0))


async def page(
    conn: Conn,
    tenant_id: str,
    *,
    limit: int,
    status: Sequence[str] = (),
    workflow_id: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    after: tuple[datetime, str] | None = None,
) -> list[dict[str, Any]]:
    """Up to `limit` runs, newest first, continuing after the `(created_at, id)` of `after`."""
    query = select(*(runs_t.c[name] for name in SUMMARY_COLUMNS)).where(
        runs_t.c.tenant_id == tenant_id
    )
    if status:
        query = query.where(runs_t.c.status.in_(list(status)))
    if workflow_id:
        query = query.where(runs_t.c.workflow_id == workflow_id)
    if created_after is not None:
        query = query.where(runs_t.c.created_at >= created_after)
    if created_before is not None:
        query = query.where(runs_t.c.created_at < created_before)
    if after is not None:
        query = query.where(tuple_(runs_t.c.created_at, runs_t.c.id) < tuple_(*after))
    query = query.order_by(runs_t.c.created_at.desc(), runs_t.c.id.desc()).limit(limit)
    return [dict(row._mapping) for row in await conn.execute(query)]


async def summary(conn: Conn, tenant_id: str, run_id: str) -> dict[str, Any] | None:
    query = select(*(runs_t.c[name] for name in SUMMARY_COLUMNS)).where(
        runs_t.c.tenant_id == tenant_id, runs_t.c.id == run_id
    )
    row = (await conn.execute(query)).first()
    return dict(row._mapping) if row else None


async def detail(conn: Conn, tenant_id: str, run_id: str) -> dict[str, Any] | None:
    """The summary columns with the run's content hash, inputs, ctx and outputs, in one read."""
    query = select(*(runs_t.c[name] for name in DETAIL_COLUMNS)).where(
        runs_t.c.tenant_id == tenant_id, runs_t.c.id == run_id
    )
    row = (await conn.execute(query)).first()
    return dict(row._mapping) if row else None


async def spend(conn: Conn, tenant_id: str, run_ids: Sequence[str]) -> dict[str, Spend]:
    """Model calls, tokens and exact cost of each run (runs without calls are left out)."""
    if not run_ids:
        return {}
    query = (
        select(
            calls_t.c.run_id,
            func.count(),
            func.coalesce(func.sum(calls_t.c.input_tokens + calls_t.c.output_tokens), 0),
            func.coalesce(func.sum(type_coerce(calls_t.c.cost_usd, BigInteger)), 0),
        )
        .where(calls_t.c.tenant_id == tenant_id, calls_t.c.run_id.in_(list(run_ids)))
        .group_by(calls_t.c.run_id)
    )
    spent = {}
    for row in await conn.execute(query):
        run_id, calls, tokens, pico = tuple(row)
        spent[run_id] = Spend(int(calls), int(tokens), Decimal(int(pico)) / Decimal(10) ** 12)
    return spent


async def active_count(conn: Conn, tenant_id: str) -> int:
    """Top-level runs of the tenant that are queued, running or waiting."""
    value = await conn.scalar(
        select(func.count()).where(
            runs_t.c.tenant_id == tenant_id,
            runs_t.c.status.in_(ACTIVE),
            runs_t.c.parent_run_id.is_(None),
        )
    )
    return int(value or 0)


async def by_idempotency_key(conn: Conn, tenant_id: str, key: str) -> tuple[str, str] | None:
    """(run id, request hash) of the run the tenant started with `key`, if any."""
    row = (
        await conn.execute(
            select(runs_t.c.id, runs_t.c.idempotency_hash).where(
                runs_t.c.tenant_id == tenant_id, runs_t.c.idempotency_key == key
            )
        )
    ).first()
    return (row.id, row.idempotency_hash) if row else None
