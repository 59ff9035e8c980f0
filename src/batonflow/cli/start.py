"""`batonflow run`: validate a workflow, run it here with live progress, print its outputs."""

from __future__ import annotations

import asyncio
import functools
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from batonflow.cli.terminal import JsonFlag, TenantOpt, console, dump, settings_for
from batonflow.cli.terminal import run as run_command
from batonflow.errors import InvalidInput

if TYPE_CHECKING:
    from batonflow.cli.session import Session
    from batonflow.store.workflows import VersionRow
    from batonflow.workflows.spec import WorkflowSpec


def _parse_inputs(pairs: list[str], spec: WorkflowSpec) -> dict[str, Any]:
    inputs: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise InvalidInput(f"--input takes key=value, got '{pair}'")
        field = spec.inputs.get(key)
        if field is None:
            known = ", ".join(spec.inputs) or "none"
            raise InvalidInput(f"workflow '{spec.id}' has no input '{key}' (inputs: {known})")
        if field.type == "string":
            inputs[key] = raw
            continue
        try:
            inputs[key] = json.loads(raw)
        except json.JSONDecodeError:
            raise InvalidInput(
                f"--input {key}: '{raw}' is not a valid {field.type} (write it as JSON)"
            ) from None
    return inputs


def run(
    workflow: Annotated[
        str,
        typer.Argument(
            help="A workflow file (YAML or JSON), or a stored workflow: ID or ID@VERSION."
        ),
    ],
    input_: Annotated[
        list[str] | None, typer.Option("--input", "-i", help="key=value (repeat).")
    ] = None,
    detach: Annotated[
        bool, typer.Option(help="Only record the run (queued) and print its id.")
    ] = False,
    as_json: JsonFlag = False,
    tenant: TenantOpt = None,
) -> None:
    """Validate a workflow, run it here with live progress, and print its outputs. A file is
    stored as a version first; a stored workflow (an app's, say) runs its newest version."""
    from batonflow.cli.driving import report, watch
    from batonflow.cli.session import open_session
    from batonflow.runs import service as run_service
    from batonflow.telemetry.traces import starting_run
    from batonflow.workflows.spec import WorkflowSpec as Spec

    async def main() -> int:
        settings = settings_for(tenant)
        async with open_session(settings) as session:
            platform = session.platform
            version = await _version(session, workflow)
            spec = Spec.model_validate(version.spec)
            inputs = _parse_inputs(input_ or [], spec)
            with starting_run(platform.telemetry.tracing, spec.id) as run_span:
                start = functools.partial(
                    run_service.start_run,
                    tenant_id=session.tenant_id,
                    version=version,
                    inputs=inputs,
                    actor=session.actor,
                    now=platform.now(),
                    ctx=run_span.carrier,
                    max_active_runs=settings.tenant_max_active_runs,
                )
                row = await platform.write(start)
                run_span.started(row)
            if detach:
                if as_json:
                    dump({"run_id": row.id, "status": "queued"})
                else:
                    console.print(row.id, highlight=False)
                return 0
            status = await watch(session, row.id, as_json)
            return await report(session, row.id, status, as_json)

    raise typer.Exit(run_command(main()))


async def _version(session: Session, workflow: str) -> VersionRow:
    """The file's version (stored now), or the stored workflow `id[@version]`."""
    from batonflow.cli.workflows import register
    from batonflow.store import workflows as workflow_store

    path = Path(workflow)
    if path.suffix in (".yaml", ".yml", ".json") or await asyncio.to_thread(path.exists):
        return await register(session, path)
    workflow_id, _, number = workflow.partition("@")
    return await session.read(
        lambda c, t: workflow_store.get_version(c, t, workflow_id, number or None)
    )
