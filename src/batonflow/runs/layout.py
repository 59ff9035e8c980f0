"""How a new run is laid out: its inputs checked against the workflow's declarations, its row,
and its steps' rows. The service starts runs from it, and a `workflow` step its child runs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import jsonschema

from batonflow.errors import InvalidInput
from batonflow.ids import new_id
from batonflow.runs.run import RunStatus
from batonflow.store.run_tx import new_step_row
from batonflow.store.workflows import VersionRow
from batonflow.workflows.spec import WorkflowSpec

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
    private_to: str | None = None,
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
        "private_to": private_to,
    }
    steps = [new_step_row(run_id, step.id, tenant_id, step.kind) for step in spec.steps]
    return run, steps
