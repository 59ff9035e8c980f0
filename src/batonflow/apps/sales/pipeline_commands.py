"""`batonflow sales pipeline run --lead ID | --deal ID`: start the sales workflow on a record
and drive it here, like `batonflow run`, until it finishes or waits for a person (exit code 3;
decide with `batonflow reviews ...`, then `batonflow runs resume`). `--detach` only queues it."""

from __future__ import annotations

from typing import Annotated

import typer

from batonflow.apps.sales import pipeline
from batonflow.cli.terminal import JsonFlag, TenantOpt, console, dump, run, settings_for
from batonflow.errors import InvalidInput
from batonflow.store.db import Conn

pipeline_commands = typer.Typer(no_args_is_help=True, help="Run the sales pipeline on a record.")


@pipeline_commands.command("run")
def run_pipeline(
    lead: Annotated[str | None, typer.Option("--lead", help="A lead id: sales-outreach.")] = None,
    deal: Annotated[str | None, typer.Option("--deal", help="A deal id: sales-deal.")] = None,
    detach: Annotated[
        bool, typer.Option(help="Only record the run (queued) and print its id.")
    ] = False,
    as_json: JsonFlag = False,
    tenant: TenantOpt = None,
) -> None:
    """Start sales-outreach on a lead or sales-deal on a deal, print the run id, and drive the
    run until it finishes or waits for a review."""
    from batonflow.cli.driving import report, watch
    from batonflow.cli.session import open_session
    from batonflow.runs import service as run_service
    from batonflow.store import workflows as workflow_store

    try:
        workflow_id, inputs = pipeline.start_request(lead, deal)
    except InvalidInput:
        raise typer.BadParameter("give exactly one of --lead or --deal") from None

    async def main() -> int:
        settings = settings_for(tenant)
        async with open_session(settings) as session:
            platform = session.platform

            async def start(conn: Conn) -> str:
                await pipeline.check_record(conn, session.tenant_id, inputs)
                version = await workflow_store.get_version(conn, session.tenant_id, workflow_id)
                row = await run_service.start_run(
                    conn,
                    tenant_id=session.tenant_id,
                    version=version,
                    inputs=inputs,
                    actor=session.actor,
                    now=platform.now(),
                    ctx={"labels": inputs},
                    max_active_runs=settings.tenant_max_active_runs,
                )
                return row.id

            run_id = await platform.write(start)
            if detach:
                if as_json:
                    dump({"run_id": run_id, "workflow_id": workflow_id, "status": "queued"})
                else:
                    console.print(run_id, highlight=False)
                return 0
            if not as_json:
                console.print(f"{workflow_id} run {run_id}", highlight=False)
            status = await watch(session, run_id, as_json)
            return await report(session, run_id, status, as_json)

    raise typer.Exit(run(main()))


def register(commands: typer.Typer) -> None:
    commands.add_typer(pipeline_commands, name="pipeline")
