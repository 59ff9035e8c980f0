"""Tenant quotas on runs, which the run service enforces whoever starts a run (API or CLI)."""

from __future__ import annotations

from batonflow.errors import QuotaExceeded
from batonflow.store import run_pages
from batonflow.store.db import Conn


async def check_active_runs(conn: Conn, tenant_id: str, limit: int) -> None:
    """Refuse another top-level run once the tenant has `limit` queued, running or waiting ones
    (`BATONFLOW_TENANT_MAX_ACTIVE_RUNS`); sub-workflow runs do not count."""
    active = await run_pages.active_count(conn, tenant_id)
    if active >= limit:
        raise QuotaExceeded(
            f"this tenant already has {active} queued, running or waiting runs (the limit is "
            f"{limit}); wait for some to finish or cancel them",
            details={"active_runs": active, "limit": limit},
        )
