"""`batonflow sales timeline lead|deal|contract|invoice ID [--json]`: a record's audit timeline,
oldest first, in the CLI's tenant."""

from __future__ import annotations

from typing import Annotated

import typer

from batonflow.apps.sales import timeline as timelines
from batonflow.cli import display
from batonflow.cli.session import open_session
from batonflow.cli.terminal import JsonFlag, TenantOpt, console, dump, run, settings_for


def show_timeline(
    entity: Annotated[str, typer.Argument(help="lead, deal, contract or invoice")],
    record_id: Annotated[str, typer.Argument(metavar="ID", help="The record's id.")],
    as_json: JsonFlag = False,
    tenant: TenantOpt = None,
) -> None:
    """What happened to a record, oldest first: its changes, emails, the runs that worked on it
    and their reviews, and the audit log's entries about them."""
    if entity not in timelines.ENTITIES:
        raise typer.BadParameter(
            f"'{entity}' is not a record with a timeline; use one of "
            + ", ".join(timelines.ENTITIES),
            param_hint="ENTITY",
        )
    kind: timelines.Entity = entity

    async def main() -> int:
        async with open_session(settings_for(tenant)) as session:
            events = await session.read(
                lambda conn, tenant_id: timelines.timeline(conn, tenant_id, kind, record_id)
            )
        if as_json:
            dump({"entity": kind, "entity_id": record_id, "events": [e.as_dict() for e in events]})
            return 0
        table = display.table("at", "kind", "actor", "summary")
        for event in events:
            table.add_row(display.when(event.at), event.kind, event.actor, event.summary)
        console.print(table)
        return 0

    raise typer.Exit(run(main()))


def register(commands: typer.Typer) -> None:
    commands.command("timeline")(show_timeline)
