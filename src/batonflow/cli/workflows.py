"""`batonflow workflows`: validate workflow files, store versions, list them."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from batonflow.cli import display
from batonflow.cli.terminal import JsonFlag, TenantOpt, console, dump, errors, run, settings_for
from batonflow.errors import InvalidInput, SpecError

if TYPE_CHECKING:
    from batonflow.cli.session import Session
    from batonflow.store.workflows import VersionRow

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
                row.workflow_id,
                row.version,
                row.content_hash[:19],
                display.ago(row.created_at),
            )
        console.print(table)
        return 0

    raise typer.Exit(run(main()))
