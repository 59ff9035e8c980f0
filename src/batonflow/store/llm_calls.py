"""The model-call ledger: one row per gateway hop, read back for budgets and for people."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, func, insert, select, type_coerce

from batonflow.llm.ledger import Budget, Spent, TenantPolicy
from batonflow.llm.records import CallRecord
from batonflow.store import tenants
from batonflow.store.columns import usd
from batonflow.store.db import Conn, Database
from batonflow.store.tables import LlmCall, table

calls_t = table(LlmCall)


async def insert_call(conn: Conn, call: CallRecord) -> None:
    await conn.execute(insert(calls_t).values(**call.row()))


async def spent(
    conn: Conn, tenant_id: str, *, run_id: str | None = None, since: datetime | None = None
) -> tuple[int, Decimal]:
    """(tokens, cost in USD) of the tenant's calls, for one run or since a moment."""
    query = select(
        func.coalesce(func.sum(calls_t.c.input_tokens + calls_t.c.output_tokens), 0),
        # Summed as the stored integers (picodollars): exact on every database.
        func.coalesce(func.sum(type_coerce(calls_t.c.cost_usd, BigInteger)), 0),
    ).where(calls_t.c.tenant_id == tenant_id)
    if run_id is not None:
        query = query.where(calls_t.c.run_id == run_id)
    if since is not None:
        query = query.where(calls_t.c.created_at >= since)
    tokens, pico = tuple((await conn.execute(query)).one())
    return int(tokens), usd(int(pico))


async def list_calls(conn: Conn, tenant_id: str, run_id: str) -> list[dict[str, Any]]:
    """The run's call rows (`CallRecord.row()` as stored), oldest first."""
    rows = await conn.execute(
        select(calls_t)
        .where(calls_t.c.tenant_id == tenant_id, calls_t.c.run_id == run_id)
        .order_by(calls_t.c.created_at, calls_t.c.id)
    )
    return [dict(row._mapping) for row in rows]


class DatabaseLedger:
    """The gateway's ledger in the database: every call row is committed before the gateway
    returns, and budgets are summed from the committed rows. A tenant's policy is read at most
    once per `policy_seconds`, so a change (`batonflow tenant set`) applies within that time."""

    def __init__(
        self,
        db: Database,
        *,
        policy_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db = db
        self.policy_seconds = policy_seconds
        self.clock = clock
        self._policies: dict[str, tuple[float, TenantPolicy]] = {}

    async def policy(self, tenant_id: str) -> TenantPolicy:
        cached = self._policies.get(tenant_id)
        if cached is not None and self.clock() - cached[0] < self.policy_seconds:
            return cached[1]
        row = await self.db.read(lambda conn: tenants.llm_policy(conn, tenant_id))
        policy = TenantPolicy(
            log_bodies=bool(row["llm_log_bodies"]),
            monthly=Budget(tokens=row["budget_tokens"], cost_usd=row["budget_usd"]),
        )
        self._policies[tenant_id] = (self.clock(), policy)
        return policy

    async def spent_by_run(self, tenant_id: str, run_id: str) -> Spent:
        tokens, cost = await self.db.read(lambda conn: spent(conn, tenant_id, run_id=run_id))
        return Spent(tokens, cost)

    async def spent_by_tenant(self, tenant_id: str, since: datetime) -> Spent:
        tokens, cost = await self.db.read(lambda conn: spent(conn, tenant_id, since=since))
        return Spent(tokens, cost)

    async def record(self, call: CallRecord) -> None:
        await self.db.write(lambda conn: insert_call(conn, call))

    async def calls(self, tenant_id: str, run_id: str) -> list[CallRecord]:
        rows = await self.db.read(lambda conn: list_calls(conn, tenant_id, run_id))
        return [CallRecord.model_validate(row) for row in rows]
