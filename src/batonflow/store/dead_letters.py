"""The dead-letter list: a tenant's dead runs, newest first, each with the step it died at, how
many attempts that step had, and its last attempt (the last retry's result)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from batonflow.runs.run import RunStatus
from batonflow.runs.state import RunRow
from batonflow.store.db import Conn
from batonflow.store.runs import attempts_t, list_runs, of_tenant, step_attempts


@dataclass(frozen=True, slots=True)
class DeadLetter:
    run: RunRow
    failed_step: str | None  # None for a run that died before any step (no step in its error)
    attempts: int
    last_attempt: dict[str, Any] | None


async def list_dead(
    conn: Conn, tenant_id: str, *, limit: int, viewer: str | None
) -> list[DeadLetter]:
    """The dead runs `viewer` may see (`store.tables.visible`)."""
    runs = await list_runs(
        conn, tenant_id, status=[RunStatus.DEAD.value], limit=limit, viewer=viewer
    )
    failed = [(run.id, step) for run in runs if (step := failed_step(run)) is not None]
    counts = await step_attempts(conn, tenant_id, failed)
    last = await _last_attempts(conn, tenant_id, failed)
    letters = []
    for run in runs:
        step = failed_step(run)
        key = (run.id, step) if step is not None else None
        letters.append(DeadLetter(run, step, counts.get(run.id, 0), last.get(key) if key else None))
    return letters


def failed_step(run: RunRow) -> str | None:
    """The step a failed or dead run stopped at, as its error names it."""
    step = (run.error or {}).get("step")
    return step if isinstance(step, str) else None


async def _last_attempts(
    conn: Conn, tenant_id: str, steps: list[tuple[str, str]]
) -> dict[tuple[str, str], dict[str, Any]]:
    """The last finished attempt of each `(run_id, step_key)`."""
    if not steps:
        return {}
    rows = await conn.execute(
        select(attempts_t)
        .where(
            of_tenant(attempts_t.c.tenant_id, tenant_id),
            attempts_t.c.run_id.in_([run_id for run_id, _ in steps]),
            attempts_t.c.step_key.in_([key for _, key in steps]),
        )
        .order_by(attempts_t.c.finished_at, attempts_t.c.dispatch)
    )
    wanted = set(steps)
    last: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        if (row.run_id, row.step_key) in wanted:
            last[(row.run_id, row.step_key)] = row._asdict()
    return last
