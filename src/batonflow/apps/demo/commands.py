"""The demo app's commands: `batonflow demo serve` (the API with a seeded demo tenant) and
`batonflow demo outbox`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from batonflow.api.deps import ApiState
from batonflow.apps.demo.routes import outbox
from batonflow.apps.demo.seed import seed_demo
from batonflow.cli import display
from batonflow.cli.serve import DevFlag, HostOpt, PortOpt, serve_api
from batonflow.cli.session import open_session
from batonflow.cli.terminal import JsonFlag, TenantOpt, console, dump, fail, run, settings_for
from batonflow.errors import InvalidInput

commands = typer.Typer(no_args_is_help=True, help="The demo app: a seeded server, its outbox.")


@commands.command("serve")
def serve(
    host: HostOpt = None,
    port: PortOpt = None,
    dev: DevFlag = True,
    workflows: Annotated[
        list[Path] | None,
        typer.Option("--workflow", "-w", help="A workflow file to store as well (repeat)."),
    ] = None,
) -> None:
    """Serve the API and dashboard with the 'demo' tenant seeded (an admin, an operator, a
    reviewer with fresh passwords; the apps' workflows) and print how to sign in. Development
    mode."""
    sources = []
    for path in workflows or []:
        try:
            sources.append((str(path), path.read_text()))
        except OSError as exc:
            fail(InvalidInput(f"cannot read {path}: {exc.strerror}"))

    # The sales app's mail lands in a local SMTP catcher inside the server, where the dashboard
    # shows it arrived (unless the environment says otherwise).
    os.environ.setdefault("BATONFLOW_SALES_SMTP_CATCHER", "1")

    async def seed(state: ApiState, url: str) -> None:
        seeded = await seed_demo(state, sources)
        console.print(seeded.describe(url), highlight=False)

    raise typer.Exit(serve_api(host, port, dev, on_ready=seed))


@commands.command("outbox")
def show_outbox(
    run_id: Annotated[str | None, typer.Option("--run", help="Only this run's emails.")] = None,
    as_json: JsonFlag = False,
    tenant: TenantOpt = None,
) -> None:
    """Emails the demo's `email.send` tool sent, oldest first."""

    async def main() -> int:
        async with open_session(settings_for(tenant)) as session:
            items = await session.read(lambda conn, tenant_id: outbox(conn, tenant_id, run_id))
        if as_json:
            dump([item.model_dump() for item in items])
            return 0
        if not items:
            console.print("the outbox is empty")
            return 0
        table = display.table("sent", "to", "subject", "run")
        for item in items:
            table.add_row(
                display.ago(item.sent_at),
                item.to,
                item.subject,
                display.short_id(item.run_id) if item.run_id else "",
            )
        console.print(table)
        return 0

    raise typer.Exit(run(main()))
