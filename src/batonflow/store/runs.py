"""Runs, steps, attempts and events: the run aggregate's queries. Reads for people (a run, its
steps, attempts and events, pages of runs), and the queue an executor drains (queued runs, ready
steps, expired and renewed leases). Loading and persisting the aggregate is `store/run_tx.py`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import bindparam, func, or_, select, tuple_, update

from batonflow.errors import NotFound
from batonflow.events.contracts import StoredEvent
from batonflow.runs.run import RunStatus, StepStatus
from batonflow.runs.state import RunRow
from batonflow.store import short_ids
from batonflow.store.db import Conn, Prepared
from batonflow.store.run_tx import RUN_COLUMNS, run_row
from batonflow.store.tables import Attempt, Event, Run, Step, table, visible

runs_t = table(Run)
steps_t = table(Step)
attempts_t = table(Attempt)
events_t = table(Event)


def of_tenant(column: Any, tenant_id: Any) -> Any:
    """`column = tenant_id` for a query that also names the run: written so that no index on the
    tenant column can serve it, because SQLite (without table statistics) would rather walk
    every row of the tenant in that index than find the run's rows by their key."""
    return (column + "") == tenant_id


async def get_run(conn: Conn, tenant_id: str, run_id: str, *, viewer: str | None = None) -> RunRow:
    """The run; `NotFound` when the tenant has none by that id or `viewer` may not see it
    (`store.tables.visible`; None reads as the platform or an admin: every run)."""
    row = (
        await conn.execute(
            select(*RUN_COLUMNS).where(
                runs_t.c.tenant_id == tenant_id, runs_t.c.id == run_id, visible(viewer)
            )
        )
    ).first()
    if row is None:
        raise NotFound(f"no run '{run_id}'")
    return run_row(row)


_STATUS_ONE = Prepared(select(runs_t.c.id, runs_t.c.status).where(runs_t.c.id == bindparam("id")))
_STATUS_MANY = Prepared(
    select(runs_t.c.id, runs_t.c.status).where(runs_t.c.id.in_(bindparam("ids", expanding=True)))
)


async def run_statuses(conn: Conn, run_ids: Sequence[str]) -> list[tuple[str, str]]:
    """(id, status) of the given runs, whichever tenants they belong to: an executor watching
    the runs it drains."""
    if len(run_ids) == 1:
        rows = await _STATUS_ONE.fetch(conn, {"id": run_ids[0]})
    else:
        rows = await _STATUS_MANY.fetch(conn, {"ids": list(run_ids)})
    return [(run_id, status) for run_id, status in rows]


async def find_run_by_prefix(conn: Conn, tenant_id: str, text: str) -> str:
    """Resolve a full run id from a unique prefix or suffix."""
    return await short_ids.resolve(conn, runs_t.c.id, runs_t.c.tenant_id, tenant_id, text, "run")


async def list_runs(
    conn: Conn,
    tenant_id: str,
    *,
    status: Sequence[str] | None = None,
    workflow_id: str | None = None,
    limit: int = 50,
    before: tuple[datetime, str] | None = None,
    viewer: str | None = None,
) -> list[RunRow]:
    """Newest first, those `viewer` may see; `before` is the (created_at, id) keyset cursor of
    the previous page."""
    query = select(*RUN_COLUMNS).where(runs_t.c.tenant_id == tenant_id, visible(viewer))
    if status:
        query = query.where(runs_t.c.status.in_(list(status)))
    if workflow_id:
        query = query.where(runs_t.c.workflow_id == workflow_id)
    if before is not None:
        query = query.where(tuple_(runs_t.c.created_at, runs_t.c.id) < tuple_(*before))
    query = query.order_by(runs_t.c.created_at.desc(), runs_t.c.id.desc()).limit(limit)
    return [run_row(row) for row in await conn.execute(query)]


async def run_created_at(conn: Conn, tenant_id: str, run_id: str) -> datetime:
    value = await conn.scalar(
        select(runs_t.c.created_at).where(runs_t.c.tenant_id == tenant_id, runs_t.c.id == run_id)
    )
    if value is None:
        raise NotFound(f"no run '{run_id}'")
    return value  # type: ignore[no-any-return]


_STEP_NAMES = [column.name for column in steps_t.columns]
_LIST_STEPS = Prepared(
    select(steps_t)
    .where(
        of_tenant(steps_t.c.tenant_id, bindparam("tenant_id")),
        steps_t.c.run_id == bindparam("run_id"),
    )
    .order_by(
        steps_t.c.parent_key.is_not(None),
        steps_t.c.started_at.is_(None),
        steps_t.c.started_at,
        steps_t.c.item_index,
        steps_t.c.key,
    )
)


async def list_steps(conn: Conn, tenant_id: str, run_id: str) -> list[dict[str, Any]]:
    rows = await _LIST_STEPS.fetch(conn, {"tenant_id": tenant_id, "run_id": run_id})
    return [dict(zip(_STEP_NAMES, row, strict=True)) for row in rows]


_STEP_RESULTS = Prepared(
    select(steps_t.c.key, steps_t.c.result).where(
        of_tenant(steps_t.c.tenant_id, bindparam("tenant_id")),
        steps_t.c.run_id == bindparam("run_id"),
        # Not `in_`: a literal list is an expanding parameter, which `Prepared` leaves to
        # SQLAlchemy.
        or_(
            steps_t.c.status == StepStatus.SUCCEEDED.value,
            steps_t.c.status == StepStatus.SKIPPED.value,
        ),
    )
)


async def step_results(
    conn: Conn, tenant_id: str, run_id: str, keys: Iterable[str] | None = None
) -> dict[str, Any]:
    """Results of the run's finished top-level steps (None for skipped ones)."""
    if keys is None:
        rows = await _STEP_RESULTS.fetch(conn, {"tenant_id": tenant_id, "run_id": run_id})
        return dict(rows)
    query = select(steps_t.c.key, steps_t.c.result).where(
        of_tenant(steps_t.c.tenant_id, tenant_id),
        steps_t.c.run_id == run_id,
        steps_t.c.status.in_([StepStatus.SUCCEEDED.value, StepStatus.SKIPPED.value]),
    )
    query = query.where(steps_t.c.key.in_(list(keys)))
    return {row.key: row.result for row in await conn.execute(query)}


async def step_attempts(
    conn: Conn, tenant_id: str, steps: Sequence[tuple[str, str]]
) -> dict[str, int]:
    """For each `(run_id, step_key)`, that step's attempt number, by run id (the dead-letter
    list: how many attempts the failed step had)."""
    if not steps:
        return {}
    rows = await conn.execute(
        select(steps_t.c.run_id, steps_t.c.key, steps_t.c.attempt).where(
            of_tenant(steps_t.c.tenant_id, tenant_id),
            steps_t.c.run_id.in_([run_id for run_id, _ in steps]),
            steps_t.c.key.in_([key for _, key in steps]),
        )
    )
    wanted = set(steps)
    return {row.run_id: row.attempt for row in rows if (row.run_id, row.key) in wanted}


async def list_attempts(conn: Conn, tenant_id: str, run_id: str) -> list[dict[str, Any]]:
    rows = await conn.execute(
        select(attempts_t)
        .where(of_tenant(attempts_t.c.tenant_id, tenant_id), attempts_t.c.run_id == run_id)
        .order_by(attempts_t.c.finished_at, attempts_t.c.step_key, attempts_t.c.dispatch)
    )
    return [row._asdict() for row in rows]


async def list_events(
    conn: Conn, tenant_id: str, run_id: str, *, after_seq: int = 0, limit: int = 1000
) -> list[StoredEvent]:
    rows = await conn.execute(
        select(events_t)
        .where(
            of_tenant(events_t.c.tenant_id, tenant_id),
            events_t.c.run_id == run_id,
            events_t.c.seq > after_seq,
        )
        .order_by(events_t.c.seq)
        .limit(limit)
    )
    return [StoredEvent(**row._asdict()) for row in rows]


@cache
def _ready_query(by_tenant: bool) -> Prepared:
    query = (
        select(steps_t.c.run_id, steps_t.c.key)
        .where(
            steps_t.c.status == StepStatus.READY.value,
            steps_t.c.parent_key.is_(None),
            or_(steps_t.c.available_at.is_(None), steps_t.c.available_at <= bindparam("now")),
        )
        .order_by(steps_t.c.available_at)
        .limit(bindparam("limit"))
    )
    if by_tenant:
        query = query.where(steps_t.c.tenant_id.in_(bindparam("tenant_ids", expanding=True)))
    return Prepared(query)


@cache
def _queued_query(by_tenant: bool) -> Prepared:
    query = (
        select(runs_t.c.id)
        .where(runs_t.c.status == RunStatus.QUEUED.value)
        .order_by(runs_t.c.created_at)
        .limit(bindparam("limit"))
    )
    if by_tenant:
        query = query.where(runs_t.c.tenant_id.in_(bindparam("tenant_ids", expanding=True)))
    return Prepared(query)


async def ready_candidates(
    conn: Conn, now: datetime, limit: int, tenant_ids: Sequence[str] | None = None
) -> list[tuple[str, str]]:
    """Steps a worker may claim now, oldest first. This is the queue, so it spans the tenants
    the worker serves (all of them unless `tenant_ids` narrows it)."""
    params: dict[str, Any] = {"now": now, "limit": limit}
    if tenant_ids is not None:
        params["tenant_ids"] = list(tenant_ids)
    rows = await _ready_query(tenant_ids is not None).fetch(conn, params)
    return [(run_id, key) for run_id, key in rows]


async def queued_runs(conn: Conn, limit: int, tenant_ids: Sequence[str] | None = None) -> list[str]:
    params: dict[str, Any] = {"limit": limit}
    if tenant_ids is not None:
        params["tenant_ids"] = list(tenant_ids)
    return [row[0] for row in await _queued_query(tenant_ids is not None).fetch(conn, params)]


async def expired_leases(conn: Conn, now: datetime, limit: int = 500) -> list[tuple[str, str]]:
    query = (
        select(steps_t.c.run_id, steps_t.c.key)
        .where(
            steps_t.c.status == StepStatus.RUNNING.value,
            steps_t.c.parent_key.is_(None),
            steps_t.c.lease_expires_at < now,
        )
        .limit(limit)
    )
    return [(row.run_id, row.key) for row in await conn.execute(query)]


async def renew_leases(
    conn: Conn, leases: Sequence[tuple[str, str, int]], owner: str, until: datetime
) -> set[tuple[str, str, int]]:
    """Extend the leases still held; returns the ones that are no longer ours."""
    if not leases:
        return set()
    await conn.execute(
        update(steps_t)
        .where(
            steps_t.c.run_id == bindparam("b_run_id"),
            steps_t.c.key == bindparam("b_key"),
            steps_t.c.dispatch == bindparam("b_dispatch"),
            steps_t.c.status == StepStatus.RUNNING.value,
        )
        .values(lease_expires_at=until, lease_owner=owner),
        [{"b_run_id": r, "b_key": k, "b_dispatch": d} for r, k, d in leases],
    )
    held = await conn.execute(
        select(steps_t.c.run_id, steps_t.c.key, steps_t.c.dispatch)
        .join(runs_t, runs_t.c.id == steps_t.c.run_id)
        .where(
            tuple_(steps_t.c.run_id, steps_t.c.key).in_([(r, k) for r, k, _ in leases]),
            steps_t.c.status == StepStatus.RUNNING.value,
            runs_t.c.status == RunStatus.RUNNING.value,
        )
    )
    still = {(row.run_id, row.key, row.dispatch) for row in held}
    return set(leases) - still


async def lineage(conn: Conn, tenant_id: str, run_id: str) -> list[str]:
    """The run's id and its ancestors' (parent, grandparent, ... the root), nearest first."""
    chain = [run_id]
    while True:
        parent = await conn.scalar(
            select(runs_t.c.parent_run_id).where(
                runs_t.c.tenant_id == tenant_id, runs_t.c.id == chain[-1]
            )
        )
        if parent is None:
            return chain
        chain.append(parent)


async def count_tree(conn: Conn, tenant_id: str, root_id: str) -> int:
    """How many runs the tree under `root_id` has, the root included."""
    tree = (
        select(runs_t.c.id)
        .where(runs_t.c.tenant_id == tenant_id, runs_t.c.id == root_id)
        .cte("tree", recursive=True)
    )
    tree = tree.union_all(
        select(runs_t.c.id).where(
            runs_t.c.tenant_id == tenant_id, runs_t.c.parent_run_id == tree.c.id
        )
    )
    return int(await conn.scalar(select(func.count()).select_from(tree)) or 0)


async def starting_children(conn: Conn, tenant_id: str, run_id: str, before_key: str) -> int:
    """The run's `workflow` steps running now whose child run is not stored yet and whose key
    sorts before `before_key`: siblings started together, each counted by the ones after it."""
    child = select(runs_t.c.id).where(
        runs_t.c.tenant_id == tenant_id,
        runs_t.c.parent_run_id == run_id,
        runs_t.c.parent_step_key == steps_t.c.key,
    )
    found = await conn.scalar(
        select(func.count())
        .select_from(steps_t)
        .where(
            steps_t.c.tenant_id == tenant_id,
            steps_t.c.run_id == run_id,
            steps_t.c.kind == "workflow",
            steps_t.c.status == StepStatus.RUNNING.value,
            steps_t.c.key < before_key,
            ~child.exists(),
        )
    )
    return int(found or 0)
