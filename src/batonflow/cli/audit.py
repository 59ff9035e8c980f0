"""`batonflow audit`: read and export the tenant's audit log, as an admin would in the API.

The CLI acts as a local admin on the database; an export it makes is recorded like any other,
with the actor `BATONFLOW_ACTOR` of kind `local`.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from batonflow.audit import log as audit
from batonflow.cli import display
from batonflow.cli.session import open_session
from batonflow.cli.terminal import JsonFlag, TenantOpt, console, dump, run, settings_for
from batonflow.errors import InvalidInput
from batonflow.llm.leaks import LeakCheck
from batonflow.store.db import Conn

audit_app = typer.Typer(no_args_is_help=True, help="The tenant's audit log: who did what, when.")

ActorOpt = Annotated[str | None, typer.Option(help="An actor's name (email) or id.")]
ActionOpt = Annotated[str | None, typer.Option(help="One action, such as auth.sign_in.")]
SinceOpt = Annotated[
    str | None, typer.Option(help="Entries at or after this time (ISO 8601 with a zone).")
]
UntilOpt = Annotated[str | None, typer.Option(help="Entries before this time.")]


def _moment(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"--{name} is not a time; write it like 2026-12-01T00:00:00Z") from None


def _filters(
    actor: str | None, action: str | None, since: str | None, until: str | None
) -> audit.Filters:
    return audit.Filters(
        actor=actor, action=action, since=_moment(since, "since"), until=_moment(until, "until")
    )


@audit_app.command("list")
def audit_list(
    actor: ActorOpt = None,
    action: ActionOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="How many, newest first.")] = 50,
    as_json: JsonFlag = False,
    tenant: TenantOpt = None,
) -> None:
    """The newest entries of the audit log."""

    async def main() -> int:
        filters = _filters(actor, action, since, until)
        async with open_session(settings_for(tenant)) as session:
            rows = await session.read(
                lambda conn, tenant_id: audit.list_entries(conn, tenant_id, filters, limit=limit)
            )
        if as_json:
            dump([json.loads(audit.jsonl_line(row)) for row in rows])
            return 0
        if not rows:
            console.print("no audit entries match")
            return 0
        table = display.table("when", "actor", "action", "target", "from", "details")
        for row in rows:
            target = (
                f"{row['target_kind']} {display.short_id(row['target_id'])}"
                if row["target_kind"]
                else ""
            )
            table.add_row(
                display.when(row["created_at"]),
                row["actor"],
                row["action"],
                target,
                row["client_address"] or "",
                json.dumps(row["details"], sort_keys=True)[:80],
            )
        console.print(table)
        return 0

    raise typer.Exit(run(main()))


@audit_app.command("export")
def audit_export(
    format: Annotated[
        Literal["jsonl", "csv"], typer.Option("--format", help="jsonl or csv.")
    ] = "jsonl",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
    actor: ActorOpt = None,
    action: ActionOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    tenant: TenantOpt = None,
) -> None:
    """Every matching entry, oldest first, as JSON Lines or CSV. The export is recorded."""

    async def main() -> int:
        filters = _filters(actor, action, since, until)
        settings = settings_for(tenant)
        async with open_session(settings) as session:
            platform, tenant_id = session.platform, session.tenant_id
            details: dict[str, Any] = {"format": format}
            details |= {
                k: v.isoformat() if isinstance(v, datetime) else v
                for k, v in filters.where().items()
                if v is not None
            }
            await platform.write(
                lambda conn: audit.record(
                    conn,
                    tenant_id,
                    "audit.export",
                    actor=session.actor,
                    details=details,
                    now=platform.now(),
                )
            )

            async def batch(after: tuple[datetime, str] | None) -> list[dict[str, Any]]:
                async def read(conn: Conn) -> list[dict[str, Any]]:
                    return await audit.batch_after(conn, tenant_id, filters, after)

                return await platform.read(read)

            out = output.open("w", encoding="utf-8", newline="") if output else sys.stdout
            try:
                if format == "csv":
                    out.write(audit.csv_header())
                async for row in audit.export(batch, LeakCheck.of(settings)):
                    out.write(audit.csv_line(row) if format == "csv" else audit.jsonl_line(row))
            finally:
                if output:
                    out.close()
        return 0

    raise typer.Exit(run(main()))
