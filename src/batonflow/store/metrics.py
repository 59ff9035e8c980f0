"""Reads for the metrics: the work queue's depth and age, and the labels of runs.

Like the worker's queue queries these span every tenant: they feed the operator's `/metrics`,
never a tenant's answer. Both are small indexed reads (`ix_steps_status_available`,
`ix_runs_status`, primary keys).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from batonflow.runs.run import RunStatus, StepStatus
from batonflow.store.db import Conn
from batonflow.store.tables import Run, Step, Tenant


@dataclass(frozen=True, slots=True)
class QueueStats:
    """Ready steps that may run now and queued runs: how many, and the oldest one's age."""

    ready_steps: int = 0
    oldest_ready_seconds: float = 0.0
    queued_runs: int = 0
    oldest_queued_seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class RunLabels:
    workflow: str
    tenant: str  # the tenant's slug
    kinds: dict[str, str] = field(default_factory=dict)  # step key -> kind


def _age(now: datetime, since: datetime | None) -> float:
    return max(0.0, (now - since).total_seconds()) if since is not None else 0.0


async def queue_stats(conn: Conn, now: datetime) -> QueueStats:
    ready: Any = (
        await conn.execute(
            select(func.count(), func.min(Step.available_at)).where(
                Step.status == StepStatus.READY.value, Step.available_at <= now
            )
        )
    ).one()
    queued: Any = (
        await conn.execute(
            select(func.count(), func.min(Run.created_at)).where(
                Run.status == RunStatus.QUEUED.value
            )
        )
    ).one()
    return QueueStats(
        ready_steps=int(ready[0]),
        oldest_ready_seconds=_age(now, ready[1]),
        queued_runs=int(queued[0]),
        oldest_queued_seconds=_age(now, queued[1]),
    )


async def run_labels(conn: Conn, run_ids: Sequence[str]) -> dict[str, RunLabels]:
    """Each run's workflow id, its tenant's slug and the kind of each of its steps."""
    if not run_ids:
        return {}
    runs = await conn.execute(
        select(Run.id, Run.workflow_id, Tenant.slug)
        .join(Tenant, Tenant.id == Run.tenant_id)
        .where(Run.id.in_(list(run_ids)))
    )
    labels = {row.id: RunLabels(row.workflow_id, row.slug) for row in runs}
    steps = await conn.execute(
        select(Step.run_id, Step.key, Step.kind).where(Step.run_id.in_(list(labels)))
    )
    for row in steps:
        labels[row.run_id].kinds[row.key] = row.kind
    return labels
