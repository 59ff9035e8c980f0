"""The latest result of each pattern on each portfolio, as a Prometheus gauge labelled by what it
was computed on: `batonflow_portfolio_result_timestamp_seconds{tenant, pattern_id, portfolio_id,
pricing_pack_id, ledger_commit_hash}`, the time it was sealed.

A newer result replaces its series instead of adding one, so the gauge holds one series per
tenant, pattern and portfolio however many packs and ledger commits there are: an alert or a
dashboard can ask which pack and ledger state each portfolio's figures come from. The API process
reads the results every `REFRESH_SECONDS` (the scrape itself never waits on the database).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from prometheus_client.core import GaugeMetricFamily

from batonflow.apps.portfolio.tables import results as results_t
from batonflow.store.db import Conn
from batonflow.telemetry.logs import get_logger

if TYPE_CHECKING:
    from batonflow.api.deps import ApiState

log = get_logger(__name__)
REFRESH_SECONDS = 15.0
NAME = "batonflow_portfolio_result_timestamp_seconds"
LABELS = ["tenant", "pattern_id", "portfolio_id", "pricing_pack_id", "ledger_commit_hash"]
Key = tuple[str, str, str]


async def latest(conn: Conn) -> dict[Key, tuple[str, str, float]]:
    """(tenant, pattern, portfolio) -> (pack, ledger hash, sealed at) of its newest result."""
    r = results_t.c
    newest = (
        sa.select(r.tenant_id, r.pattern_id, r.portfolio_id, sa.func.max(r.created_at).label("at"))
        .group_by(r.tenant_id, r.pattern_id, r.portfolio_id)
        .subquery()
    )
    rows = await conn.execute(
        sa.select(
            r.tenant_id,
            r.pattern_id,
            r.portfolio_id,
            r.pricing_pack_id,
            r.ledger_commit_hash,
            r.created_at,
        )
        .join(
            newest,
            sa.and_(
                r.tenant_id == newest.c.tenant_id,
                r.pattern_id == newest.c.pattern_id,
                r.portfolio_id.is_not_distinct_from(newest.c.portfolio_id),
                r.created_at == newest.c.at,
            ),
        )
        .order_by(r.id)  # two results sealed in the same instant: the last id wins, every time
    )
    found: dict[Key, tuple[str, str, float]] = {}
    for row in rows:
        key = (row.tenant_id, row.pattern_id, row.portfolio_id or "")
        found[key] = (row.pricing_pack_id, row.ledger_commit_hash or "", row.created_at.timestamp())
    return found


class LatestResults:
    """The gauge's readings, refreshed by `following` and reported at each scrape."""

    def __init__(self) -> None:
        self.readings: dict[Key, tuple[str, str, float]] = {}

    def families(self) -> Iterator[Any]:
        family = GaugeMetricFamily(
            NAME,
            "When the newest result of a pattern on a portfolio was sealed, labelled by the "
            "pricing pack and ledger commit it was computed on",
            labels=LABELS,
        )
        for (tenant, pattern, portfolio), (pack, ledger, at) in sorted(self.readings.items()):
            family.add_metric([tenant, pattern, portfolio, pack, ledger], at)
        yield family


@contextlib.asynccontextmanager
async def following(state: ApiState) -> AsyncIterator[None]:
    """Report the gauge on the API's /metrics while the API runs."""
    gauge = LatestResults()
    state.platform.telemetry.metrics.watch("portfolio_results", gauge.families)

    async def refresh() -> None:
        while True:
            try:
                gauge.readings = await state.db.read(latest)
            except Exception:  # a lost connection: keep the last readings, try again later
                log.warning("portfolio.gauges_unread", exc_info=True)
            await asyncio.sleep(REFRESH_SECONDS)

    task = asyncio.create_task(refresh(), name="batonflow-portfolio-gauges")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
