"""Runs as operators see them: start (within the tenant's quota), cancel, retry, override.

Every function takes an open connection; the caller (CLI command, API request, job) owns the
transaction. Each action lets the engine decide (`workflows/actions.py`, then the same
checkpoint `settle` the executor uses), so the engine decides what runs next no matter who acted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from batonflow.audit import log as audit
from batonflow.errors import InvalidInput, NotFound, QuotaExceeded
from batonflow.runs.layout import new_run_rows, version_spec
from batonflow.runs.run import run_viewer, sees
from batonflow.runs.state import RunRow
from batonflow.store import run_pages
from batonflow.store.db import Conn
from batonflow.store.run_tx import RunTx
from batonflow.store.tables import Run
from batonflow.store.workflows import VersionRow
from batonflow.workflows import actions
from batonflow.workflows.checkpoint import Checkpointer, CommitResult, SpecCache
from batonflow.workflows.transitions import Transition


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts, and with which roles (the CLI acts as a local admin); for the audit log, what
    kind of actor (a `user` or `api_key` of the API, `local` for the CLI), its id and the client
    address it acted from."""

    name: str
    roles: frozenset[str] = frozenset({"admin"})
    kind: str = "local"
    id: str | None = None
    address: str | None = None

    @property
    def viewer(self) -> str | None:
        """Whom the actor reads runs as (`run_viewer`): a run private to another user is not
        there for them unless they are an admin."""
        return run_viewer(self.id, self.roles)


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


def checkpointer(specs: SpecCache, actor: Actor) -> Checkpointer:
    return Checkpointer(specs, worker=f"service:{actor.name}", lease_seconds=30)


async def start_run(
    conn: Conn,
    *,
    tenant_id: str,
    version: VersionRow,
    inputs: dict[str, Any],
    actor: Actor,
    now: datetime,
    ctx: dict[str, Any] | None = None,
    idempotency: tuple[str, str] | None = None,
    max_active_runs: int | None = None,
    private_to: str | None = None,
) -> RunRow:
    """Record a queued run pinned to `version`; a worker picks it up. `idempotency` is the
    caller's `(key, request hash)`: a key the tenant already used is checked by the caller.
    `max_active_runs` is the tenant's quota; None: no quota. `private_to` makes the run (and
    its child runs) private to that user: the tenant's other members, admins aside, are told
    there is no such run."""
    if max_active_runs is not None:
        await check_active_runs(conn, tenant_id, max_active_runs)
    spec = version_spec(version)
    run, steps = new_run_rows(
        tenant_id=tenant_id,
        version=version,
        spec=spec,
        inputs=inputs,
        ctx={"tenant": tenant_id, "started_by": actor.name, **(ctx or {})},
        created_by=actor.name,
        now=now,
        idempotency=idempotency,
        private_to=private_to,
    )
    tx = RunTx(conn, now)
    t = Transition(tx.runs, tx.steps, now, {})
    row = t.queue(run, steps)
    await tx.flush(t.changes)
    return row


async def _locked(tx: RunTx, tenant_id: str, run_id: str, actor: Actor) -> RunRow:
    """The run, locked; absent when the actor may not see it."""
    await tx.load([run_id], tenant_id=tenant_id)
    run = tx.runs.get(run_id)
    if run is None or not sees(actor.viewer, run.private_to):
        raise NotFound(f"no run '{run_id}'")
    return run


async def _settled(tx: RunTx, settle: Checkpointer, t: Transition, run: RunRow) -> CommitResult:
    """Let the engine advance the run an action changed, and write it all."""
    result = CommitResult()
    await settle.settle(tx, t, run, result)
    result.events = await tx.flush(t.changes)
    return result


async def cancel_run(
    conn: Conn, *, tenant_id: str, run_id: str, actor: Actor, reason: str, now: datetime
) -> CommitResult:
    return await _end(conn, tenant_id, run_id, actor, reason, now, dismiss=False)


async def dismiss_run(
    conn: Conn, *, tenant_id: str, run_id: str, actor: Actor, reason: str, now: datetime
) -> CommitResult:
    """Take a dead run off the dead-letter list (it becomes cancelled; see `actions.dismiss`)."""
    return await _end(conn, tenant_id, run_id, actor, reason, now, dismiss=True)


async def _end(
    conn: Conn, tenant_id: str, run_id: str, actor: Actor, reason: str, now: datetime, dismiss: bool
) -> CommitResult:
    tx = RunTx(conn, now)
    run = await _locked(tx, tenant_id, run_id, actor)
    if not dismiss:
        await _load_children(tx, run)
    t = Transition(tx.runs, tx.steps, now, {})
    (actions.dismiss if dismiss else actions.cancel)(t, run, actor.name, reason)
    result = CommitResult(events=await tx.flush(t.changes))
    action = "run.dismiss" if dismiss else "run.cancel"
    await _audit(
        conn, tenant_id, action, actor, run_id, now, workflow_id=run.workflow_id, reason=reason
    )
    return result


async def _load_children(tx: RunTx, run: RunRow) -> None:
    """Load the run's sub-workflow runs, and theirs, for a cancel to reach them all."""
    parents = [run.id]
    while parents:
        children = await tx.conn.execute(
            select(Run.id).where(Run.tenant_id == run.tenant_id, Run.parent_run_id.in_(parents))
        )
        parents = await tx.load([row[0] for row in children], tenant_id=run.tenant_id)


async def retry_run(
    conn: Conn, specs: SpecCache, *, tenant_id: str, run_id: str, actor: Actor, now: datetime
) -> CommitResult:
    """Run a failed or dead run again from its failed step; finished steps are kept."""
    tx = RunTx(conn, now)
    run = await _locked(tx, tenant_id, run_id, actor)
    settle = checkpointer(specs, actor)
    await specs.load(conn, [run])
    t = settle.transition(tx)
    actions.retry(t, run, actor.name)
    result = await _settled(tx, settle, t, run)
    await _audit(conn, tenant_id, "run.retry", actor, run_id, now, workflow_id=run.workflow_id)
    return result


async def override_step(
    conn: Conn,
    specs: SpecCache,
    *,
    tenant_id: str,
    run_id: str,
    step_key: str,
    output: Any,
    reason: str,
    actor: Actor,
    now: datetime,
) -> CommitResult:
    """Set a step's output by hand, record who and why, and let the run continue."""
    if not reason.strip():
        raise InvalidInput("an override needs a reason; say why the output is set by hand")
    tx = RunTx(conn, now)
    run = await _locked(tx, tenant_id, run_id, actor)
    settle = checkpointer(specs, actor)
    await specs.load(conn, [run])
    t = settle.transition(tx)
    actions.override(t, run, step_key, output, actor.name, reason)
    result = await _settled(tx, settle, t, run)
    await _audit(conn, tenant_id, "step.override", actor, run_id, now, step=step_key, reason=reason)
    return result


async def _audit(
    conn: Conn,
    tenant_id: str,
    action: str,
    actor: Actor,
    run_id: str,
    now: datetime,
    **details: Any,
) -> None:
    """An audit entry for an action on a run, in the transaction that made the change."""
    await audit.record(
        conn, tenant_id, action, actor=actor, target=("run", run_id), details=details, now=now
    )
