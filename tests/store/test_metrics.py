"""The metrics' reads on both databases: the queue's depth and age, and the labels of runs."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from batonflow.store import metrics as metric_store
from batonflow.store.db import reading
from batonflow.store.metrics import QueueStats, RunLabels
from batonflow.store.tables import Run, Step
from tests.conftest import now, start

SPEC = """
id: labelled
version: "1"
steps:
  - id: first
    kind: agent
    capability: demo.noop
  - id: check
    kind: review
    needs: [first]
    subject: "ok?"
outputs: {}
"""


async def test_queue_stats_count_what_waits_and_how_long(engine: AsyncEngine, tenant: str) -> None:
    moment = now()
    async with reading(engine) as conn:
        assert await metric_store.queue_stats(conn, moment) == QueueStats()
    queued = await start(engine, tenant, SPEC)
    ready = await start(engine, tenant, SPEC)
    later = await start(engine, tenant, SPEC)
    async with engine.begin() as conn:
        await conn.execute(
            update(Run).where(Run.id == queued.id).values(created_at=moment - timedelta(seconds=30))
        )
        await conn.execute(
            update(Run).where(Run.id.in_([ready.id, later.id])).values(status="running")
        )
        await conn.execute(
            update(Step)
            .where(Step.run_id == ready.id, Step.key == "first")
            .values(status="ready", available_at=moment - timedelta(seconds=12))
        )
        await conn.execute(  # a retry that waits for its delay is not waiting for a worker
            update(Step)
            .where(Step.run_id == later.id, Step.key == "first")
            .values(status="ready", available_at=moment + timedelta(seconds=60))
        )
    async with reading(engine) as conn:
        stats = await metric_store.queue_stats(conn, moment)
    assert (stats.ready_steps, stats.queued_runs) == (1, 1)
    assert round(stats.oldest_ready_seconds) == 12
    assert round(stats.oldest_queued_seconds) == 30


async def test_run_labels_name_the_workflow_the_tenant_and_each_step_kind(
    engine: AsyncEngine, tenant: str
) -> None:
    run = await start(engine, tenant, SPEC)
    async with reading(engine) as conn:
        labels = await metric_store.run_labels(conn, [run.id, "no-such-run"])
        nothing = await metric_store.run_labels(conn, [])
    assert labels == {run.id: RunLabels("labelled", "acme", {"first": "agent", "check": "review"})}
    assert nothing == {}
