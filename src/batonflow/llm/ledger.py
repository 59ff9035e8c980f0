"""A ledger kept in memory: for a gateway used without a database (benchmarks, scripts).

The database ledger (`store/llm_calls.py`) is the one runs use; both satisfy `Ledger`.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from batonflow.llm.gateway import Spent, TenantPolicy


class MemoryLedger:
    def __init__(self, policies: dict[str, TenantPolicy] | None = None) -> None:
        self.rows: list[dict[str, Any]] = []
        self.policies = policies or {}

    async def policy(self, tenant_id: str) -> TenantPolicy:
        return self.policies.get(tenant_id, TenantPolicy())

    def _sum(self, rows: list[dict[str, Any]]) -> Spent:
        return Spent(
            tokens=sum(r["input_tokens"] + r["output_tokens"] for r in rows),
            cost_usd=sum((r["cost_usd"] or Decimal(0) for r in rows), Decimal(0)),
        )

    async def spent_by_run(self, tenant_id: str, run_id: str) -> Spent:
        return self._sum(
            [r for r in self.rows if r["tenant_id"] == tenant_id and r["run_id"] == run_id]
        )

    async def spent_by_tenant(self, tenant_id: str, since: datetime) -> Spent:
        return self._sum(
            [r for r in self.rows if r["tenant_id"] == tenant_id and r["created_at"] >= since]
        )

    async def record(self, row: dict[str, Any]) -> None:
        self.rows.append(row)
