"""The demo app's commands: `batonflow demo outbox`."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from batonflow.apps.demo.routes import outbox
from batonflow.cli.context import open_context
from batonflow.cli.terminal import JsonFlag, TenantOpt, console, dump, run, settings_for
from batonflow.store.db import reading

commands = typer.Typer(no_args_is_help=True, help="The demo app: its outbox.")


@commands.command("outbox")
def show_outbox(
    run_id: Annotated[str | None, typer.Option("--run", help="Only this run's emails.")] = None,
    as_json: JsonFlag = False,
    tenant: TenantOpt = None,
) -> None:
    """Emails the demo's `email.send` tool sent, oldest first."""

    async def main() -> int:
        async with open_context(settings_for(tenant)) as ctx, reading(ctx.engine) as conn:
            items = await outbox(conn, ctx.tenant_id, run_id)
        if as_json:
            dump([item.model_dump(mode="json") for item in items])
            return 0
        if not items:
            console.print("the outbox is empty")
            return 0
        table = Table("sent at", "to", "subject", "run")
        for item in items:
            table.add_row(
                item.sent_at.isoformat(timespec="seconds"), item.to, item.subject, item.run_id or ""
            )
        console.print(table)
        return 0

    raise typer.Exit(run(main()))
