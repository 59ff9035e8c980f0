"""The run aggregate's unit of work: `RunTx` loads and persists; it decides nothing.

It locks the runs it touches first (row locks on PostgreSQL; SQLite transactions are
`BEGIN IMMEDIATE` and so already exclusive) and reads their step rows; the engine
(`workflows/transitions.py`) moves those rows in memory and records what else it decided in a
`Changes`; `flush` writes it all back in a handful of batched statements: one UPDATE for steps,
one INSERT for attempts, one INSERT for events and one UPDATE for runs, which PostgreSQL receives
as one statement (`store.batch.Batch`): a checkpoint there is BEGIN, that statement and COMMIT. A
cached run's UPDATE is also its version check (see `RunTx`). Event sequence numbers
are assigned per run in the same transaction, so a run's events are stored in the order they
happened. The caller owns the transaction. The run queries (lists, reads, the queue) are in
`store/runs.py`.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import bindparam, insert, select, update

from batonflow.events.contracts import StoredEvent
from batonflow.runs.run import RunStatus, StepStatus
from batonflow.runs.state import Changes, RunRow, StepRow
from batonflow.store import reviews as review_store
from batonflow.store.batch import Batch
from batonflow.store.db import Conn, Prepared
from batonflow.store.tables import Attempt, Event, Review, Run, Step, table

runs_t = table(Run)
steps_t = table(Step)
attempts_t = table(Attempt)
events_t = table(Event)


_RUN_FIELDS = tuple(f.name for f in fields(RunRow))
_STEP_FIELDS = tuple(f.name for f in fields(StepRow))
RUN_COLUMNS = [runs_t.c[name] for name in _RUN_FIELDS]
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


def run_row(row: Sequence[Any]) -> RunRow:
    """A row of `RUN_COLUMNS`, in that order."""
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
    query = select(*RUN_COLUMNS)
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
        got = [run_row(row) for row in await query.fetch(self.conn, params)]
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
        events in order. `changes` is emptied.

        Two batches (`store.batch.Batch`, one round trip each on PostgreSQL): the new rows first,
        since the second may change them (a map item inserted and finished at once), then every
        other write; the review changes go between the two."""
        conn = self.conn
        rows = self._number_events(changes)
        dirty_runs = changes.runs
        inserts = Batch()
        if changes.new_runs:
            inserted = []
            for row in changes.new_runs:
                run = self.runs[row["id"]]
                current = {name: getattr(run, name) for name in _RUN_MUTABLE}
                inserted.append({**row, **current, "status": run.status.value})
                dirty_runs.discard(row["id"])
            inserts.add(_INSERT_RUNS, inserted, keyed=True)
        if changes.new_steps:
            inserts.add(_INSERT_STEPS, changes.new_steps, keyed=True)
        if changes.new_runs or changes.new_steps:
            await inserts.send(conn)
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
        writes = Batch()
        checked = self._write_runs(writes, dirty_runs)
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
            writes.add(_UPDATE_STEP, params)
        writes.add(_INSERT_ATTEMPTS, changes.attempts, keyed=True)
        writes.add(_INSERT_EVENTS, rows, keyed=True)
        counts = await writes.send(conn)
        if counts[0] != len(checked):
            # Some cached run moved on in the database: the caller rolls back, whichever it was.
            raise StaleRows([params["b_id"] for params in checked])
        stored: list[StoredEvent] = []
        if rows:
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

    def _write_runs(self, writes: Batch, dirty: set[str]) -> list[dict[str, Any]]:
        """Add the updates of changed runs to `writes`, the version-checked ones (cached runs)
        first, as the batch's guard: if one of them moved on, nothing else is written; returns
        them, whose count `flush` checks."""
        checked, plain = [], []
        for run_id in sorted(dirty):
            run = self.runs[run_id]
            values = {name: getattr(run, name) for name in _RUN_MUTABLE}
            values["status"] = _VALUES[run.status]
            if run_id in self._cached_seq:
                checked.append({"b_id": run_id, "b_seq": self._cached_seq[run_id], **values})
            else:
                plain.append({"b_id": run_id, **values})
        writes.add(_UPDATE_RUN_CHECKED, checked, guard=True)
        writes.add(_UPDATE_RUN, plain)
        return checked

    def _remember(self) -> None:
        assert self.cache is not None
        for run_id, run in self.runs.items():
            if run.status.terminal:
                self.cache.pop(run_id, None)
            else:
                self.cache[run_id] = (run, self.steps[run_id])
