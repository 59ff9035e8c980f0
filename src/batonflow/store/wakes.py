"""Wake-ups of ready steps (Celery execution): which ready steps need a message on the broker,
and recording that one was sent.

A ready step needs a wake-up when it is due (`available_at` passed) and it has none newer than
the moment it became ready, or its last one is older than `republish_seconds` (the message was
lost, or is stuck behind a dead consumer). The broker is never the record: these columns only
say that a message was sent, and a claim still goes through the step's status and dispatch.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, bindparam, func, or_, select, update

from batonflow.runs.run import RunStatus, StepStatus
from batonflow.store.db import Conn
from batonflow.store.tables import Run, Step, table

steps_t = table(Step)
runs_t = table(Run)


@dataclass(frozen=True, slots=True)
class Unannounced:
    """A ready step that needs a wake-up: `dispatch` is the number its next claim takes."""

    tenant_id: str
    run_id: str
    key: str
    dispatch: int
    workflow_version_pk: str
    traceparent: str | None  # the run's trace context, if it has one


async def unannounced(
    conn: Conn, now: datetime, stale_before: datetime, limit: int = 200
) -> list[Unannounced]:
    """Due top-level ready steps of running runs with no wake-up since they became ready, or
    whose last one was sent before `stale_before`. On PostgreSQL the rows are locked (skipping
    those another transaction holds), so two workers sweeping at once send one wake-up each."""
    query = (
        select(
            steps_t.c.tenant_id,
            steps_t.c.run_id,
            steps_t.c.key,
            steps_t.c.dispatch,
            runs_t.c.workflow_version_pk,
            runs_t.c.ctx,
        )
        .join(runs_t, runs_t.c.id == steps_t.c.run_id)
        .where(
            steps_t.c.status == StepStatus.READY.value,
            steps_t.c.parent_key.is_(None),
            runs_t.c.status == RunStatus.RUNNING.value,
            or_(steps_t.c.available_at.is_(None), steps_t.c.available_at <= now),
            or_(
                steps_t.c.published_at.is_(None),
                steps_t.c.published_at < stale_before,
                and_(
                    steps_t.c.available_at.is_not(None),
                    steps_t.c.published_at < steps_t.c.available_at,
                ),
            ),
        )
        .order_by(steps_t.c.available_at)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(of=steps_t, skip_locked=True)
    rows = await conn.execute(query)
    found = []
    for r in rows:
        trace = (r.ctx or {}).get("traceparent")
        pk = r.workflow_version_pk
        trace = trace if isinstance(trace, str) else None
        found.append(Unannounced(r.tenant_id, r.run_id, r.key, r.dispatch + 1, pk, trace))
    return found


async def mark_announced(
    conn: Conn,
    announced: Iterable[tuple[str, str, str]],
    now: datetime,
    claimed: Iterable[tuple[str, str, str]] = (),
) -> None:
    """Record a wake-up sent now for each (run id, step key, queue) `announced`, and the queue of
    each step a commit `claimed` on the queue it serves (no wake-up was sent for those)."""
    rows = [{"b_run_id": r, "b_key": k, "b_queue": q, "b_now": now} for r, k, q in announced]
    rows += [{"b_run_id": r, "b_key": k, "b_queue": q, "b_now": None} for r, k, q in claimed]
    if not rows:
        return
    statement = (
        update(steps_t)
        .where(steps_t.c.run_id == bindparam("b_run_id"), steps_t.c.key == bindparam("b_key"))
        .values(queue=bindparam("b_queue"), published_at=bindparam("b_now"))
    )
    await conn.execute(statement, rows)


async def oldest_unclaimed(conn: Conn) -> dict[str, datetime]:
    """Per queue, when the oldest wake-up still waiting for a claim was sent."""
    query = (
        select(steps_t.c.queue, func.min(steps_t.c.published_at).label("oldest"))
        .where(
            steps_t.c.status == StepStatus.READY.value,
            steps_t.c.parent_key.is_(None),
            steps_t.c.published_at.is_not(None),
            steps_t.c.queue.is_not(None),
        )
        .group_by(steps_t.c.queue)
    )
    rows = await conn.execute(query)
    return {row.queue: row.oldest for row in rows if row.oldest is not None}
