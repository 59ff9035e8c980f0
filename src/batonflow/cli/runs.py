"""`batonflow run` (validate a workflow, run it here, print its outputs) and `batonflow runs`
(list, show, cancel, retry, override; `calls` lives in cli/llm.py)."""

from __future__ import annotations

import asyncio
import functools
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from batonflow.cli import llm as llm_commands
from batonflow.cli.driving import act_then_watch, on_run, report, watch
from batonflow.cli.session import Session, open_session
from batonflow.cli.terminal import JsonFlag, TenantOpt, console, dump, fail, settings_for
from batonflow.cli.terminal import run as run_command
from batonflow.cli.workflows import register
from batonflow.errors import InvalidInput
from batonflow.runs import service as run_service
from batonflow.runs.run import RunStatus
from batonflow.runs.state import RunRow
from batonflow.store import runs as run_store
from batonflow.store import workflows as workflow_store
from batonflow.store.db import Conn
from batonflow.telemetry.traces import starting_run
from batonflow.workflows.spec import WorkflowSpec

runs_app = typer.Typer(no_args_is_help=True, help="Inspect and operate runs.")
runs_app.command("calls")(llm_commands.runs_calls)


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

    async def main() -> int:
        settings = settings_for(tenant)
        async with open_session(settings) as session:
            platform = session.platform
            version = await _version(session, workflow)
            spec = WorkflowSpec.model_validate(version.spec)
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


async def _version(session: Session, workflow: str) -> workflow_store.VersionRow:
    """The file's version (stored now), or the stored workflow `id[@version]`."""
    path = Path(workflow)
    if path.suffix in (".yaml", ".yml", ".json") or await asyncio.to_thread(path.exists):
        return await register(session, path)
    workflow_id, _, number = workflow.partition("@")
    return await session.read(
        lambda c, t: workflow_store.get_version(c, t, workflow_id, number or None)
    )


def _run_summary(run: RunRow) -> dict[str, Any]:
    duration = None
    if run.started_at and run.finished_at:
        duration = round((run.finished_at - run.started_at).total_seconds(), 3)
    return {
        "id": run.id,
        "workflow": f"{run.workflow_id}@{run.workflow_version}",
        "status": run.status.value,
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "duration_s": duration,
    }


@runs_app.command("list")
def runs_list(
    status: Annotated[
        list[str] | None, typer.Option(help="Only runs in this status (repeat).")
    ] = None,
    workflow: Annotated[str | None, typer.Option(help="Only runs of this workflow id.")] = None,
    dead: Annotated[bool, typer.Option("--dead", help="The dead-letter list.")] = False,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    as_json: JsonFlag = False,
    tenant: TenantOpt = None,
) -> None:
    """List runs, newest first."""
    wanted = list(status or []) + (["dead"] if dead else [])
    for item in wanted:
        if item not in RunStatus.__members__.values():
            fail(
                InvalidInput(
                    f"unknown status '{item}'; use one of {', '.join(s.value for s in RunStatus)}"
                )
            )

    async def main() -> int:
        async with open_session(settings_for(tenant)) as session:
            rows = await session.read(
                functools.partial(
                    run_store.list_runs, status=wanted, workflow_id=workflow, limit=limit
                )
            )
        summaries = [_run_summary(row) for row in rows]
        if as_json:
            dump(summaries)
            return 0
        table = Table("id", "workflow", "status", "started", "duration")
        for item in summaries:
            table.add_row(
                item["id"],
                item["workflow"],
                item["status"],
                item["started_at"] or "",
                f"{item['duration_s'] or ''}",
            )
        console.print(table)
        return 0

    raise typer.Exit(run_command(main()))


@runs_app.command("show")
def runs_show(run_id: str, as_json: JsonFlag = False, tenant: TenantOpt = None) -> None:
    """A run with its steps, attempts and outputs."""

    async def main() -> int:
        async def load(conn: Conn, tenant_id: str) -> tuple[RunRow, list[Any], list[Any]]:
            full = await run_store.find_run_by_prefix(conn, tenant_id, run_id)
            run = await run_store.get_run(conn, tenant_id, full)
            steps = await run_store.list_steps(conn, tenant_id, full)
            return run, steps, await run_store.list_attempts(conn, tenant_id, full)

        async with open_session(settings_for(tenant)) as session:
            run, steps, attempts = await session.read(load)
        data = {
            **_run_summary(run),
            "inputs": run.inputs,
            "outputs": run.outputs,
            "error": run.error,
            "steps": [
                {
                    k: step[k]
                    for k in (
                        "key",
                        "kind",
                        "status",
                        "attempt",
                        "result",
                        "error",
                        "overridden_by",
                        "override_reason",
                    )
                }
                for step in steps
            ],
            "attempts": [
                {
                    "step": a["step_key"],
                    "attempt": a["attempt"],
                    "dispatch": a["dispatch"],
                    "status": a["status"],
                    "worker": a["worker"],
                    "duration_ms": a["duration_ms"],
                    "error": a["error"],
                }
                for a in attempts
            ],
        }
        if as_json:
            dump(data)
            return 0
        console.print(
            f"run {run.id} · {run.workflow_id}@{run.workflow_version} · [bold]{run.status}[/bold]"
        )
        table = Table("step", "kind", "status", "attempt", "result / error")
        for step in data["steps"]:
            detail = (
                step["error"]["message"]
                if step["error"]
                else json.dumps(step["result"], default=str)
            )
            table.add_row(
                step["key"], step["kind"], step["status"], str(step["attempt"]), detail[:100]
            )
        console.print(table)
        if run.outputs is not None:
            console.print("outputs:")
            dump(run.outputs)
        return 0

    raise typer.Exit(run_command(main()))


@runs_app.command("cancel")
def runs_cancel(
    run_id: str,
    reason: Annotated[str, typer.Option(help="Why (kept in the run's events).")] = "",
    tenant: TenantOpt = None,
) -> None:
    """Cancel a queued, running or waiting run."""

    async def main() -> int:
        async with open_session(settings_for(tenant)) as session:
            cancel = functools.partial(run_service.cancel_run, reason=reason)
            full = await session.platform.write(on_run(session, run_id, cancel))
            console.print(f"run {full} cancelled")
        return 0

    raise typer.Exit(run_command(main()))


@runs_app.command("retry")
def runs_retry(
    run_id: str,
    detach: Annotated[bool, typer.Option(help="Leave the run to a worker.")] = False,
    as_json: JsonFlag = False,
    tenant: TenantOpt = None,
) -> None:
    """Retry a failed or dead run from its failed step."""

    async def main() -> int:
        async with open_session(settings_for(tenant)) as session:
            retry = functools.partial(run_service.retry_run, specs=session.platform.specs)
            return await act_then_watch(session, on_run(session, run_id, retry), detach, as_json)

    raise typer.Exit(run_command(main()))


@runs_app.command("override")
def runs_override(
    run_id: str,
    step: str,
    output: Annotated[str, typer.Option(help="The step's output as JSON.")],
    reason: Annotated[str, typer.Option(help="Why the output is set by hand.")],
    detach: Annotated[bool, typer.Option(help="Leave the run to a worker.")] = False,
    as_json: JsonFlag = False,
    tenant: TenantOpt = None,
) -> None:
    """Set a step's output by hand (recorded with who and why), then continue the run."""
    try:
        value = json.loads(output)
    except json.JSONDecodeError as exc:
        fail(InvalidInput(f"--output is not JSON: {exc.msg} at column {exc.colno}"))

    async def main() -> int:
        async with open_session(settings_for(tenant)) as session:
            override = functools.partial(
                run_service.override_step,
                specs=session.platform.specs,
                step_key=step,
                output=value,
                reason=reason,
            )
            return await act_then_watch(session, on_run(session, run_id, override), detach, as_json)

    raise typer.Exit(run_command(main()))
