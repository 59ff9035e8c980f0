"""Runs, steps, attempts and events: the run aggregate's queries and its unit of work.

`RunTx` is how every change to a run happens. It locks the runs it touches first (row locks on
PostgreSQL; SQLite transactions are `BEGIN IMMEDIATE` and so already exclusive), reads their step
rows, lets the caller change them in memory, and then writes everything back in a handful of
batched statements: one UPDATE for steps, one INSERT for attempts, one INSERT for events and one
UPDATE for runs. Event sequence numbers are assigned per run in the same transaction, so a run's
events are stored in the order they happened. The caller owns the transaction.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import bindparam, insert, or_, select, tuple_, update

from batonflow.errors import IllegalTransition, NotFound
from batonflow.events.contracts import NewEvent, StoredEvent, event
from batonflow.runs.run import AttemptStatus, RunStatus, StepStatus, check_run_transition
from batonflow.store import short_ids
from batonflow.store.db import Conn, Prepared
from batonflow.store.reviews import cancel_pending as close_pending_reviews
from batonflow.store.tables import Attempt, Event, Review, Run, Step, table

runs_t = table(Run)
steps_t = table(Step)
attempts_t = table(Attempt)
events_t = table(Event)


@dataclass(slots=True)
class RunRow:
    id: str
    tenant_id: str
    status: RunStatus
    event_seq: int
    workflow_version_pk: str
    workflow_id: str
    workflow_version: str
    inputs: dict[str, Any]
    ctx: dict[str, Any]
    outputs: dict[str, Any] | None
    error: dict[str, Any] | None
    parent_run_id: str | None
    parent_step_key: str | None
    parent_attempt: int | None
    started_at: datetime | None
    finished_at: datetime | None
    updated_at: datetime


@dataclass(slots=True)
class StepRow:
    run_id: str
    key: str
    tenant_id: str
    kind: str
    parent_key: str | None
    item_index: int | None
    status: StepStatus
    attempt: int
    dispatch: int
    lost: int
    available_at: datetime | None
    lease_owner: str | None
    lease_expires_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    error: dict[str, Any] | None
    exhausted: bool
    overridden_by: str | None = None
    override_reason: str | None = None


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


def _new_step_row(values: dict[str, Any]) -> StepRow:
    step = StepRow(*[values.get(name) for name in _STEP_FIELDS])  # type: ignore[arg-type]
    step.status = StepStatus(step.status)
    return step


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
    results: dict[tuple[str, str], Any] = field(default_factory=dict)
    attempts: list[dict[str, Any]] = field(default_factory=list)
    events: list[NewEvent] = field(default_factory=list)
    new_steps: list[dict[str, Any]] = field(default_factory=list)
    new_runs: list[dict[str, Any]] = field(default_factory=list)
    pending_reviews: list[dict[str, Any]] = field(default_factory=list)
    _dirty_steps: set[tuple[str, str]] = field(default_factory=set)
    _dirty_runs: set[str] = field(default_factory=set)
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

    def adopt(self, run: RunRow, steps: Iterable[StepRow]) -> None:
        """Track a run this transaction has just inserted (and so already holds)."""
        self.runs[run.id] = run
        self.steps[run.id] = {step.key: step for step in steps}

    def touch_step(self, step: StepRow) -> None:
        self._dirty_steps.add((step.run_id, step.key))

    def touch_run(self, run: RunRow) -> None:
        self._dirty_runs.add(run.id)

    def set_result(self, step: StepRow, result: Any) -> None:
        self.results[(step.run_id, step.key)] = result

    def add_run(self, run: dict[str, Any], steps: Sequence[dict[str, Any]]) -> RunRow:
        """Insert a new run with its steps in this transaction and track it."""
        self.new_runs.append(run)
        self.new_steps.extend(steps)
        row = RunRow(*[run[name] for name in _RUN_FIELDS])
        row.status = RunStatus(row.status)
        self.adopt(row, [_new_step_row(step) for step in steps])
        return row

    def add_step(self, row: dict[str, Any]) -> StepRow:
        """Insert a new step row (a map item) in this transaction."""
        self.new_steps.append(row)
        step = _new_step_row(row)
        self.steps[step.run_id][step.key] = step
        return step

    def set_run_status(self, run: RunRow, status: RunStatus, **data: Any) -> None:
        check_run_transition(run.status, status)
        run.status = status
        run.updated_at = self.now
        if status is RunStatus.RUNNING and run.started_at is None:
            run.started_at = self.now
        if status.terminal:
            run.finished_at = self.now
        elif run.finished_at is not None:
            run.finished_at = None
        self.touch_run(run)
        type_ = {
            RunStatus.RUNNING: "run.started" if "reason" not in data else "run.resumed",
            RunStatus.WAITING: "run.waiting",
            RunStatus.SUCCEEDED: "run.succeeded",
            RunStatus.FAILED: "run.failed",
            RunStatus.DEAD: "run.dead",
            RunStatus.CANCELLED: "run.cancelled",
        }.get(status)
        if type_ is None:
            raise IllegalTransition(f"no event describes a move to {status}")
        self.emit(run, type_, **data)

    def emit(self, run: RunRow, type_: str, step_key: str | None = None, **data: Any) -> None:
        self.events.append(event(type_, run.id, run.tenant_id, step_key, **data))
        self.touch_run(run)

    def record_attempt(
        self, step: StepRow, status: AttemptStatus, worker: str, error: Any = None
    ) -> None:
        started = step.started_at or self.now
        self.attempts.append(
            {
                "run_id": step.run_id,
                "step_key": step.key,
                "dispatch": step.dispatch,
                "tenant_id": step.tenant_id,
                "attempt": step.attempt,
                "status": status.value,
                "worker": worker,
                "idempotency_key": f"{step.run_id}:{step.key}:{step.attempt}",
                "started_at": started,
                "finished_at": self.now,
                "duration_ms": round((self.now - started).total_seconds() * 1000, 3),
                "error": error,
            }
        )

    async def cancel_steps(self, run: RunRow, statuses: frozenset[StepStatus], by: str) -> None:
        """Cancel the run's steps in `statuses` (a running one's attempt is recorded as
        cancelled) and close its pending reviews."""
        for step in self.steps[run.id].values():
            if step.status not in statuses:
                continue
            if step.status is StepStatus.RUNNING:
                self.record_attempt(step, AttemptStatus.CANCELLED, step.lease_owner or by)
            step.status = StepStatus.CANCELLED
            step.lease_owner = None
            step.lease_expires_at = None
            step.finished_at = self.now
            self.touch_step(step)
        await close_pending_reviews(self.conn, run.tenant_id, run.id, by, self.now)

    async def flush(self) -> list[StoredEvent]:
        """Write every change; returns the stored events in order."""
        conn = self.conn
        rows = self._number_events()
        new_ids = {row["id"] for row in self.new_runs}
        if self.new_runs:
            inserted = []
            for row in self.new_runs:
                run = self.runs[row["id"]]
                current = {name: getattr(run, name) for name in _RUN_MUTABLE}
                inserted.append({**row, **current, "status": run.status.value})
            await _INSERT_RUNS.run(conn, inserted, keyed=True)
            self.new_runs = []
        self._dirty_runs -= new_ids
        await self._write_runs()
        if self.pending_reviews:
            await conn.execute(insert(table(Review)), self.pending_reviews)
            self.pending_reviews = []
        if self.new_steps:
            await _INSERT_STEPS.run(conn, self.new_steps, keyed=True)
            self.new_steps = []
        for run_id, key in self.results:
            self._dirty_steps.add((run_id, key))
        if self._dirty_steps:
            params = []
            for run_id, key in sorted(self._dirty_steps):
                step = self.steps[run_id][key]
                values = dict(zip(_STEP_MUTABLE, _step_values(step), strict=True))
                values["status"] = _VALUES[step.status]
                values["result"] = self.results.get((run_id, key))
                values["b_run_id"] = run_id
                values["b_key"] = key
                params.append(values)
            await _UPDATE_STEP.run(conn, params)
            self._dirty_steps = set()
            self.results = {}
        if self.attempts:
            await _INSERT_ATTEMPTS.run(conn, self.attempts, keyed=True)
            self.attempts = []
        stored: list[StoredEvent] = []
        if rows:
            await _INSERT_EVENTS.run(conn, rows, keyed=True)
            # Live subscribers get the events as written; their database ids are read back by
            # whoever needs them (a resumable stream reads from the table).
            stored = [StoredEvent(id=None, **row) for row in rows]
        if self.cache is not None:
            self._remember()
        return stored

    def _number_events(self) -> list[dict[str, Any]]:
        rows = []
        for item in self.events:
            run = self.runs[item.run_id]
            run.event_seq += 1
            self.touch_run(run)
            rows.append(
                {
                    "tenant_id": item.tenant_id,
                    "run_id": item.run_id,
                    "seq": run.event_seq,
                    "type": item.type,
                    "version": item.version,
                    "step_key": item.step_key,
                    "data": item.data,
                    "created_at": self.now,
                }
            )
        self.events = []
        return rows

    async def _write_runs(self) -> None:
        """Update changed runs first: a cached run's update is also its version check."""
        checked, plain = [], []
        for run_id in sorted(self._dirty_runs):
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
        self._dirty_runs = set()

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
