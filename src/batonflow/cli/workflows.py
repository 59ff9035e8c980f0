"""`batonflow workflows`: validate workflow files, store versions, list them; and `batonflow run`:
validate a workflow, run it here with live progress, print its outputs."""

from __future__ import annotations

import asyncio
import functools
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from batonflow.cli import display
from batonflow.cli.terminal import JsonFlag, TenantOpt, console, dump, errors, run, settings_for
from batonflow.errors import InvalidInput, SpecError

if TYPE_CHECKING:
    from batonflow.cli.session import Session
    from batonflow.store.workflows import VersionRow
    from batonflow.workflows.spec import WorkflowSpec

workflows_app = typer.Typer(no_args_is_help=True, help="Validate and list workflows.")


async def register(session: Session, path: Path) -> VersionRow:
    """Store the workflow file's version (an identical one is kept) and cache its spec."""
    from batonflow.store import workflows as workflow_store
    from batonflow.workflows.validation import load_spec

    try:
        text = await asyncio.to_thread(path.read_text)
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None
    platform, tenant_id = session.platform, session.tenant_id
    spec = load_spec(text, str(path), platform.registry)
    now = platform.now()

    version, _ = await platform.write(
        lambda conn: workflow_store.save_version(conn, tenant_id, spec, text, now, origin=str(path))
    )
    platform.specs.put(version.id, spec)
    return version


@workflows_app.command("validate")
def workflows_validate(files: list[Path], as_json: JsonFlag = False) -> None:
    """Check workflow files without running them: every problem of a file at once, each with
    its place."""
    from batonflow.apps.app import load_apps
    from batonflow.llm.ledger import MemoryLedger
    from batonflow.llm.registry import build_gateway
    from batonflow.platform import build_agents
    from batonflow.workflows.validation import load_spec

    settings = settings_for()
    registry = build_agents(
        load_apps(settings.apps), settings, build_gateway(settings, MemoryLedger())
    )
    failed = 0
    report = []
    for path in files:
        try:
            spec = load_spec(path.read_text(), str(path), registry)
        except SpecError as exc:
            failed += 1
            report.append({"file": str(path), "valid": False, "issues": exc.issues})
            if not as_json:
                errors.print(exc.message, highlight=False, markup=False)
        except OSError as exc:
            failed += 1
            report.append({"file": str(path), "valid": False, "issues": [exc.strerror]})
            if not as_json:
                errors.print(f"{path}: cannot read: {exc.strerror}", highlight=False)
        else:
            report.append(
                {
                    "file": str(path),
                    "valid": True,
                    "id": spec.id,
                    "version": spec.version,
                    "hash": spec.content_hash,
                }
            )
            if not as_json:
                console.print(
                    f"{path}: ok ({spec.id}@{spec.version}, {len(spec.steps)} steps)",
                    highlight=False,
                )
    if as_json:
        dump(report)
    raise typer.Exit(2 if failed else 0)


@workflows_app.command("add")
def workflows_add(files: list[Path], tenant: TenantOpt = None) -> None:
    """Store workflow versions without running them (e.g. sub-workflows)."""
    from batonflow.cli.session import open_session

    async def main() -> int:
        async with open_session(settings_for(tenant)) as session:
            for path in files:
                version = await register(session, path)
                console.print(
                    f"{path}: stored {version.workflow_id}@{version.version} ({version.content_hash[:19]})",
                    highlight=False,
                )
        return 0

    raise typer.Exit(run(main()))


@workflows_app.command("list")
def workflows_list(as_json: JsonFlag = False, tenant: TenantOpt = None) -> None:
    """Stored workflow versions, by workflow id, oldest version first."""
    from batonflow.cli.session import open_session
    from batonflow.store import workflows as workflow_store

    async def main() -> int:
        async with open_session(settings_for(tenant)) as session:
            rows = await session.read(workflow_store.list_versions)
        items = [
            {
                "id": r.workflow_id,
                "version": r.version,
                "hash": r.content_hash,
                "created_at": display.when(r.created_at),
            }
            for r in rows
        ]
        if as_json:
            dump(items)
            return 0
        table = display.table("workflow", "version", "hash", "stored")
        for row in rows:
            table.add_row(
                row.workflow_id, row.version, row.content_hash[:19], display.ago(row.created_at)
            )
        console.print(table)
        return 0

    raise typer.Exit(run(main()))


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


def run_workflow(
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

    raise typer.Exit(run(main()))


async def _version(session: Session, workflow: str) -> VersionRow:
    """The file's version (stored now), or the stored workflow `id[@version]`."""
    from batonflow.store import workflows as workflow_store

    path = Path(workflow)
    if path.suffix in (".yaml", ".yml", ".json") or await asyncio.to_thread(path.exists):
        return await register(session, path)
    workflow_id, _, number = workflow.partition("@")
    return await session.read(
        lambda c, t: workflow_store.get_version(c, t, workflow_id, number or None)
    )
