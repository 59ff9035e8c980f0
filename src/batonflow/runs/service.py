"""Runs as operators see them: start, cancel, retry, override, read. Tenant-scoped throughout.

Every function takes an open connection; the caller (CLI command, API request, job) owns the
transaction. Changes that move a run forward go through the same checkpoint logic the executor
uses, so the engine decides what runs next no matter who acted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jsonschema
from sqlalchemy import select

from batonflow.errors import Conflict, InvalidInput, NotFound
from batonflow.ids import new_id
from batonflow.runs import quotas
from batonflow.runs.run import RunStatus, StepStatus
from batonflow.store import reviews as review_store
from batonflow.store import runs as run_store
from batonflow.store.db import Conn
from batonflow.store.runs import RunRow, RunTx, StepRow
from batonflow.store.tables import Run
from batonflow.store.workflows import VersionRow
from batonflow.workflows.checkpoint import Checkpointer, CommitResult, SpecCache
from batonflow.workflows.spec import WorkflowSpec


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts, and with which roles (the CLI acts as a local admin)."""

    name: str
    roles: frozenset[str] = frozenset({"admin"})


_OPEN = frozenset({StepStatus.PENDING, StepStatus.READY, StepStatus.RUNNING, StepStatus.WAITING})


def checkpointer(specs: SpecCache, actor: Actor) -> Checkpointer:
    return Checkpointer(specs, worker=f"service:{actor.name}", lease_seconds=30)


# Versions are immutable: each is parsed, and its input validator built, once per process.
_SPECS: dict[str, WorkflowSpec] = {}
_VALIDATORS: dict[str, jsonschema.Draft202012Validator] = {}


def _validator(spec: WorkflowSpec) -> jsonschema.Draft202012Validator:
    validator = _VALIDATORS.get(spec.content_hash)
    if validator is None:
        validator = _VALIDATORS[spec.content_hash] = jsonschema.Draft202012Validator(
            spec.inputs_schema()
        )
    return validator


def version_spec(version: VersionRow) -> WorkflowSpec:
    spec = _SPECS.get(version.id)
    if spec is None:
        spec = _SPECS[version.id] = WorkflowSpec.model_validate(version.spec)
    return spec


def validate_inputs(spec: WorkflowSpec, inputs: dict[str, Any]) -> dict[str, Any]:
    """Apply defaults and check `inputs` against the workflow's input declarations."""
    merged = {
        name: field.default for name, field in spec.inputs.items() if field.default is not None
    } | inputs
    validator = _validator(spec)
    errors = sorted(validator.iter_errors(merged), key=lambda e: list(e.absolute_path))
    if errors:
        problems = []
        for error in errors:
            where = ".".join(str(p) for p in error.absolute_path)
            problems.append(
                f"inputs.{where}: {error.message}" if where else f"inputs: {error.message}"
            )
        problems.sort()
        raise InvalidInput(
            f"workflow '{spec.id}' rejects these inputs: " + "; ".join(problems),
            details={"issues": problems},
        )
    return merged


def new_run_rows(
    *,
    tenant_id: str,
    version: VersionRow,
    spec: WorkflowSpec,
    inputs: dict[str, Any],
    ctx: dict[str, Any],
    created_by: str,
    now: datetime,
    parent: tuple[str, str, int] | None = None,
    idempotency: tuple[str, str] | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    checked = validate_inputs(spec, inputs)
    run_id = new_id()
    run = {
        "id": run_id,
        "tenant_id": tenant_id,
        "workflow_version_pk": version.id,
        "workflow_id": version.workflow_id,
        "workflow_version": version.version,
        "content_hash": version.content_hash,
        "status": RunStatus.QUEUED.value,
        "inputs": checked,
        "ctx": ctx,
        "outputs": None,
        "error": None,
        "event_seq": 0,
        "created_by": created_by,
        "parent_run_id": parent[0] if parent else None,
        "parent_step_key": parent[1] if parent else None,
        "parent_attempt": parent[2] if parent else None,
        "created_at": now,
        "started_at": None,
        "finished_at": None,
        "updated_at": now,
        "idempotency_key": idempotency[0] if idempotency else None,
        "idempotency_hash": idempotency[1] if idempotency else None,
    }
    steps = [run_store.new_step_row(run_id, step.id, tenant_id, step.kind) for step in spec.steps]
    return run, steps


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
) -> RunRow:
    """Record a queued run pinned to `version`; a worker picks it up. `idempotency` is the
    caller's `(key, request hash)`: a key the tenant already used is checked by the caller.
    `max_active_runs` is the tenant's quota (see runs/quotas.py); None: no quota."""
    if max_active_runs is not None:
        await quotas.check_active_runs(conn, tenant_id, max_active_runs)
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
    )
    tx = RunTx(conn, now)
    row = tx.add_run(run, steps)
    tx.emit(row, "run.queued", workflow_id=version.workflow_id, workflow_version=version.version)
    await tx.flush()
    return row


async def _locked(tx: RunTx, tenant_id: str, run_id: str) -> RunRow:
    await tx.load([run_id], tenant_id=tenant_id)
    run = tx.runs.get(run_id)
    if run is None:
        raise NotFound(f"no run '{run_id}'")
    return run


async def cancel_run(
    conn: Conn,
    *,
    tenant_id: str,
    run_id: str,
    actor: Actor,
    reason: str,
    now: datetime,
) -> CommitResult:
    tx = RunTx(conn, now)
    run = await _locked(tx, tenant_id, run_id)
    if run.status.terminal:
        raise Conflict(
            f"run {run_id} is already {run.status}; only queued, running or waiting runs can be cancelled"
        )
    await _cancel(tx, run, actor, reason)
    return CommitResult(events=await tx.flush())


async def _cancel(tx: RunTx, run: RunRow, actor: Actor, reason: str) -> None:
    await tx.cancel_steps(run, _OPEN, actor.name)
    tx.set_run_status(run, RunStatus.CANCELLED, by=actor.name, reason=reason)
    children = await tx.conn.execute(
        select(Run.id).where(Run.tenant_id == run.tenant_id, Run.parent_run_id == run.id)
    )
    child_ids = [row[0] for row in children]
    await tx.load(child_ids, tenant_id=run.tenant_id)
    for child_id in child_ids:
        child = tx.runs[child_id]
        if not child.status.terminal:
            await _cancel(tx, child, actor, f"parent run {run.id} was cancelled")


async def retry_run(
    conn: Conn,
    specs: SpecCache,
    *,
    tenant_id: str,
    run_id: str,
    actor: Actor,
    now: datetime,
) -> CommitResult:
    """Run a failed or dead run again from its failed step; finished steps are kept."""
    tx = RunTx(conn, now)
    run = await _locked(tx, tenant_id, run_id)
    if run.status not in (RunStatus.FAILED, RunStatus.DEAD):
        raise Conflict(f"run {run_id} is {run.status}; only failed or dead runs can be retried")
    again = []
    for step in tx.steps[run.id].values():
        if step.parent_key is not None:
            continue
        if step.status in (StepStatus.FAILED, StepStatus.CANCELLED):
            if step.status is StepStatus.FAILED:
                step.attempt += 1  # the failed attempt ended; the retry is a new one
                again.append(step.key)
            step.status = StepStatus.PENDING
            step.exhausted = False
            step.error = None
            step.lost = 0
            step.finished_at = None
            tx.touch_step(step)
    run.error = None
    tx.set_run_status(run, RunStatus.RUNNING, reason=f"retried by {actor.name}")
    tx.emit(run, "run.retried", by=actor.name, steps=sorted(again))
    result = CommitResult()
    await checkpointer(specs, actor).advance(tx, run, result)
    result.events = await tx.flush()
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
    run = await _locked(tx, tenant_id, run_id)
    step = tx.steps[run.id].get(step_key)
    if step is None or step.parent_key is not None:
        raise NotFound(f"run {run_id} has no step '{step_key}'")
    if run.status in (RunStatus.SUCCEEDED, RunStatus.CANCELLED):
        raise Conflict(f"run {run_id} is {run.status}; its steps can no longer be overridden")
    if step.status in (StepStatus.SUCCEEDED, StepStatus.SKIPPED):
        raise Conflict(
            f"step '{step_key}' already {step.status}; only unfinished steps can be overridden"
        )
    _settle_by_hand(tx, step, output, actor, reason)
    await review_store.close_open_for_step(conn, tenant_id, run.id, step_key, actor.name, now)
    tx.emit(run, "step.overridden", step.key, by=actor.name, reason=reason)
    run.error = None
    if run.status is not RunStatus.RUNNING:
        tx.set_run_status(
            run, RunStatus.RUNNING, reason=f"step {step_key} overridden by {actor.name}"
        )
    result = CommitResult()
    await checkpointer(specs, actor).advance(tx, run, result)
    result.events = await tx.flush()
    return result


def _settle_by_hand(tx: RunTx, step: StepRow, output: Any, actor: Actor, reason: str) -> None:
    step.status = StepStatus.SUCCEEDED
    step.error = None
    step.exhausted = False
    step.lease_owner = None
    step.lease_expires_at = None
    step.finished_at = tx.now
    step.overridden_by = actor.name
    step.override_reason = reason
    tx.set_result(step, output)
    tx.touch_step(step)
