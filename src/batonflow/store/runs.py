"""Runs, steps, attempts and events: the run aggregate's queries and its unit of work.

`RunTx` loads and persists; it decides nothing. It locks the runs it touches first (row locks on
PostgreSQL; SQLite transactions are `BEGIN IMMEDIATE` and so already exclusive) and reads their
step rows; the engine (`workflows/transitions.py`) moves those rows in memory and records what
else it decided in a `Changes`; `flush` writes it all back in a handful of batched statements:
one UPDATE for steps, one INSERT for attempts, one INSERT for events and one UPDATE for runs.
Event sequence numbers are assigned per run in the same transaction, so a run's events are stored
in the order they happened. The caller owns the transaction.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import bindparam, insert, or_, select, tuple_, update

from batonflow.errors import NotFound
from batonflow.events.contracts import StoredEvent
from batonflow.runs.run import RunStatus, StepStatus
from batonflow.runs.state import Changes, RunRow, StepRow
from batonflow.store import reviews as review_store
from batonflow.store import short_ids
from batonflow.store.db import Conn, Prepared
from batonflow.store.tables import Attempt, Event, Review, Run, Step, table

runs_t = table(Run)
steps_t = table(Step)
attempts_t = table(Attempt)
events_t = table(Event)


_RUN_FIELDS = tuple(f.name for f in fields(RunRow))
_STEP_FIELDS = tuple(f.name for f in fields(StepRow))
_RUN_COLUMNS = [runs_t.c[name] for name in _RUN_FIELDS]
_STEP_COLUMNS = [steps_t.c[name] for name in _STEP_FIELDS]
_STEP_MUTABLE = [
    f.name
    for f in fields(StepRow)
    if f.name not in ("run_id", "key", "tenant_id", "kind", "parent_key", "item_index")
]
_RUN_MUTABLE = (
    "status",
    "event_seq",
    "outputs",
    "error",
    "started_at",
    "finished_at",
    "updated_at",
)
_step_values = operator.attrgetter(*_STEP_MUTABLE)


# Plain strings for the stored statuses (an enum member's `.value` is a slow property).
_VALUES: dict[Any, str] = {s: s.value for s in (*RunStatus, *StepStatus)}


def _run_row(row: Sequence[Any]) -> RunRow:
    """A row of `_RUN_COLUMNS`, in that order."""
    run = RunRow(*row)
    run.status = RunStatus(run.status)
    return run


def _step_row(row: Sequence[Any]) -> StepRow:
    """A row of `_STEP_COLUMNS`, in that order."""
    step = StepRow(*row)
    step.status = StepStatus(step.status)
    return step


# Hot statements are built once: building a SELECT costs more than running it on SQLite.
@cache
def _runs_query(many: bool, by_tenant: bool, lock: bool, skip_locked: bool) -> Prepared:
    query = select(*_RUN_COLUMNS)
    if many:
        query = query.where(runs_t.c.id.in_(bindparam("ids", expanding=True)))
    else:
        query = query.where(runs_t.c.id == bindparam("id"))
    if by_tenant:
        query = query.where(runs_t.c.tenant_id == bindparam("tenant_id"))
    if lock:
        query = query.with_for_update(skip_locked=skip_locked)
    return Prepared(query.order_by(runs_t.c.id))


@cache
def _steps_query(many: bool) -> Prepared:
    query = select(*_STEP_COLUMNS)
    if many:
        return Prepared(query.where(steps_t.c.run_id.in_(bindparam("ids", expanding=True))))
    return Prepared(query.where(steps_t.c.run_id == bindparam("id")))


_INSERT_EVENTS = Prepared(insert(events_t))
_INSERT_ATTEMPTS = Prepared(insert(attempts_t))
_INSERT_STEPS = Prepared(insert(steps_t))
_INSERT_RUNS = Prepared(insert(runs_t))


def new_step_row(
    run_id: str,
    key: str,
    tenant_id: str,
    kind: str,
    *,
    status: StepStatus = StepStatus.PENDING,
    attempt: int = 0,
    parent_key: str | None = None,
    item_index: int | None = None,
) -> dict[str, Any]:
    """The row of a step that has not started: a workflow's step, or a map item."""
    return {
        "run_id": run_id,
        "key": key,
        "tenant_id": tenant_id,
        "kind": kind,
        "parent_key": parent_key,
        "item_index": item_index,
        "status": status.value,
        "attempt": attempt,
        "dispatch": 0,
        "lost": 0,
        "available_at": None,
        "lease_owner": None,
        "lease_expires_at": None,
        "started_at": None,
        "finished_at": None,
        "error": None,
        "exhausted": False,
    }


# Every changed step is written whole, result included: a step changes state only while it has
# no result yet (pending, ready, running, waiting, failed), or in the transaction that sets it.
_UPDATE_STEP = Prepared(
    update(steps_t)
    .where(steps_t.c.run_id == bindparam("b_run_id"), steps_t.c.key == bindparam("b_key"))
    .values({name: bindparam(name) for name in (*_STEP_MUTABLE, "result")})
)
_UPDATE_RUN = Prepared(
    update(runs_t)
    .where(runs_t.c.id == bindparam("b_id"))
    .values({name: bindparam(name) for name in _RUN_MUTABLE})
)
_UPDATE_RUN_CHECKED = Prepared(
    update(runs_t)
    .where(runs_t.c.id == bindparam("b_id"), runs_t.c.event_seq == bindparam("b_seq"))
    .values({name: bindparam(name) for name in _RUN_MUTABLE})
)


def of_tenant(column: Any, tenant_id: Any) -> Any:
    """`column = tenant_id` for a query that also names the run: written so that no index on the
    tenant column can serve it, because SQLite (without table statistics) would rather walk
    every row of the tenant in that index than find the run's rows by their key."""
    return (column + "") == tenant_id


class StaleRows(Exception):
    """A cached run changed in the database since this process last wrote it."""

    def __init__(self, run_ids: list[str]) -> None:
        super().__init__(f"runs changed elsewhere: {', '.join(run_ids)}")
        self.run_ids = run_ids


RowCache = dict[str, tuple["RunRow", dict[str, "StepRow"]]]


@dataclass
class RunTx:
    """A unit of work over some runs inside one open transaction.

    With a `cache` (an executor's rows as it last committed them), runs found there are not read
    again; instead their update checks that `event_seq` is still what was cached, and raises
    `StaleRows` when another process changed the run meanwhile (every change to a run appends an
    event, so every change moves `event_seq`). The caller rolls back and tries again uncached.
    """

    conn: Conn
    now: datetime
    cache: RowCache | None = None
    runs: dict[str, RunRow] = field(default_factory=dict)
    steps: dict[str, dict[str, StepRow]] = field(default_factory=dict)
    _cached_seq: dict[str, int] = field(default_factory=dict)

    async def load(
        self,
        run_ids: Iterable[str],
        *,
        tenant_id: str | None = None,
        skip_locked: bool = False,
        fresh: bool = False,
    ) -> list[str]:
        """Lock and read runs (and their steps) not loaded yet; returns the ids it got.
        Runs in the cache are taken from it unless `fresh` (a decision that writes nothing when
        it declines, like a claim, must not rest on a cached row) or `tenant_id` is given."""
        wanted = sorted(set(run_ids) - self.runs.keys())
        if self.cache is not None and tenant_id is None and not fresh:
            hits = [run_id for run_id in wanted if run_id in self.cache]
            for run_id in hits:
                # The cached rows themselves, not copies: a transaction that fails makes its
                # owner drop the whole cache (see Executor._write).
                run, steps = self.cache[run_id]
                self.runs[run_id] = run
                self.steps[run_id] = steps
                self._cached_seq[run_id] = run.event_seq
            wanted = [run_id for run_id in wanted if run_id not in self.cache]
            if not wanted:
                return hits
        else:
            hits = []
        if not wanted:
            return []
        many = len(wanted) > 1
        locking = self.conn.dialect.name == "postgresql"
        query = _runs_query(many, tenant_id is not None, locking, skip_locked and locking)
        params: dict[str, Any] = {"ids": wanted} if many else {"id": wanted[0]}
        if tenant_id is not None:
            params["tenant_id"] = tenant_id
        got = [_run_row(row) for row in await query.fetch(self.conn, params)]
        for run in got:
            self.runs[run.id] = run
            self.steps[run.id] = {}
        if got:
            ids = [run.id for run in got]
            params = {"ids": ids} if len(ids) > 1 else {"id": ids[0]}
            for row in await _steps_query(len(ids) > 1).fetch(self.conn, params):
                step = _step_row(row)
                self.steps[step.run_id][step.key] = step
        return hits + [run.id for run in got]

    async def flush(self, changes: Changes) -> list[StoredEvent]:
        """Write the changes a transition recorded over this unit's rows; returns the stored
        events in order. `changes` is emptied."""
        conn = self.conn
        rows = self._number_events(changes)
        dirty_runs = changes.runs
        if changes.new_runs:
            inserted = []
            for row in changes.new_runs:
                run = self.runs[row["id"]]
                current = {name: getattr(run, name) for name in _RUN_MUTABLE}
                inserted.append({**row, **current, "status": run.status.value})
                dirty_runs.discard(row["id"])
            await _INSERT_RUNS.run(conn, inserted, keyed=True)
        await self._write_runs(dirty_runs)
        for closed in changes.closed_reviews:
            if closed.step_key is None:
                await review_store.cancel_pending(
                    conn, closed.tenant_id, closed.run_id, closed.by, self.now
                )
            else:
                await review_store.close_open_for_step(
                    conn, closed.tenant_id, closed.run_id, closed.step_key, closed.by, self.now
                )
        if changes.reviews:
            await conn.execute(insert(table(Review)), changes.reviews)
        if changes.new_steps:
            await _INSERT_STEPS.run(conn, changes.new_steps, keyed=True)
        results = changes.results
        if changes.steps:
            params = []
            for run_id, key in sorted(changes.steps):
                step = self.steps[run_id][key]
                values = dict(zip(_STEP_MUTABLE, _step_values(step), strict=True))
                values["status"] = _VALUES[step.status]
                values["result"] = results.get((run_id, key))
                values["b_run_id"] = run_id
                values["b_key"] = key
                params.append(values)
            await _UPDATE_STEP.run(conn, params)
        if changes.attempts:
            await _INSERT_ATTEMPTS.run(conn, changes.attempts, keyed=True)
        stored: list[StoredEvent] = []
        if rows:
            await _INSERT_EVENTS.run(conn, rows, keyed=True)
            # Live subscribers get the events as written; their database ids are read back by
            # whoever needs them (a resumable stream reads from the table).
            stored = [StoredEvent(id=None, **row) for row in rows]
        if self.cache is not None:
            self._remember()
        return stored

    def _number_events(self, changes: Changes) -> list[dict[str, Any]]:
        rows = []
        now = self.now
        for item in changes.events:
            run = self.runs[item.run_id]
            run.event_seq += 1
            changes.runs.add(run.id)
            rows.append(
                {
                    "tenant_id": item.tenant_id,
                    "run_id": item.run_id,
                    "seq": run.event_seq,
                    "type": item.type,
                    "version": item.version,
                    "step_key": item.step_key,
                    "data": item.data,
                    "created_at": now,
                }
            )
        return rows

    async def _write_runs(self, dirty: set[str]) -> None:
        """Update changed runs first: a cached run's update is also its version check."""
        checked, plain = [], []
        for run_id in sorted(dirty):
            run = self.runs[run_id]
            values = {name: getattr(run, name) for name in _RUN_MUTABLE}
            values["status"] = _VALUES[run.status]
            if run_id in self._cached_seq:
                checked.append({"b_id": run_id, "b_seq": self._cached_seq[run_id], **values})
            else:
                plain.append({"b_id": run_id, **values})
        if len(checked) > 1 and self.conn.dialect.supports_sane_multi_rowcount:
            # One statement for all; a shortfall means some run moved on, which rolls the
            # transaction back whichever it was.
            if await _UPDATE_RUN_CHECKED.run(self.conn, checked) != len(checked):
                raise StaleRows([params["b_id"] for params in checked])
        else:
            stale = [
                params["b_id"]
                for params in checked
                if await _UPDATE_RUN_CHECKED.run(self.conn, [params]) != 1
            ]
            if stale:
                raise StaleRows(stale)
        if plain:
            await _UPDATE_RUN.run(self.conn, plain)

    def _remember(self) -> None:
        assert self.cache is not None
        for run_id, run in self.runs.items():
            if run.status.terminal:
                self.cache.pop(run_id, None)
            else:
                self.cache[run_id] = (run, self.steps[run_id])


async def get_run(conn: Conn, tenant_id: str, run_id: str) -> RunRow:
    row = (
        await conn.execute(
            select(*_RUN_COLUMNS).where(runs_t.c.tenant_id == tenant_id, runs_t.c.id == run_id)
        )
    ).first()
    if row is None:
        raise NotFound(f"no run '{run_id}'")
    return _run_row(row)


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
) -> list[RunRow]:
    """Newest first; `before` is the (created_at, id) keyset cursor of the previous page."""
    query = select(*_RUN_COLUMNS).where(runs_t.c.tenant_id == tenant_id)
    if status:
        query = query.where(runs_t.c.status.in_(list(status)))
    if workflow_id:
        query = query.where(runs_t.c.workflow_id == workflow_id)
    if before is not None:
        query = query.where(tuple_(runs_t.c.created_at, runs_t.c.id) < tuple_(*before))
    query = query.order_by(runs_t.c.created_at.desc(), runs_t.c.id.desc()).limit(limit)
    return [_run_row(row) for row in await conn.execute(query)]


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
