"""The email log's commands: `batonflow sales emails list [--json]` and `batonflow sales
smtp-catcher --port 1025` (a local SMTP server for demos that records each message it receives
against its email, until interrupted)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Annotated, Any

import typer

from batonflow.apps.sales import catcher, threads
from batonflow.cli import display
from batonflow.cli.session import open_session
from batonflow.cli.terminal import JsonFlag, TenantOpt, console, dump, run, settings_for
from batonflow.store.db import Conn

if TYPE_CHECKING:
    from batonflow.settings import Settings

emails_commands = typer.Typer(no_args_is_help=True, help="The email log.")


def list_emails(
    status: Annotated[
        str | None, typer.Option("--status", help="sending, sent, failed or unconfirmed.")
    ] = None,
    lead: Annotated[str | None, typer.Option("--lead", help="A lead's id.")] = None,
    deal: Annotated[str | None, typer.Option("--deal", help="A deal's id.")] = None,
    invoice: Annotated[str | None, typer.Option("--invoice", help="An invoice's id.")] = None,
    thread: Annotated[str | None, typer.Option("--thread", help="A thread's id.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000)] = 50,
    as_json: JsonFlag = False,
    tenant: TenantOpt = None,
) -> None:
    """The tenant's emails, newest first."""

    async def main() -> int:
        async with open_session(settings_for(tenant)) as session:

            async def work(conn: Conn, tenant_id: str) -> list[dict[str, Any]]:
                return await threads.emails_page(
                    conn,
                    tenant_id,
                    limit=limit,
                    lead_id=lead,
                    deal_id=deal,
                    invoice_id=invoice,
                    thread_id=thread,
                    status=status,
                )

            rows = await session.read(work)
        shown = [{k: v for k, v in r.items() if k not in ("raw", "delivered_raw")} for r in rows]
        if as_json:
            dump(shown)
            return 0
        table = display.table("id", "status", "to", "subject", "sent")
        for r in shown:
            sent = display.when(r["sent_at"]) or ""
            table.add_row(r["id"], r["status"], ", ".join(r["to_addrs"]), r["subject"], sent)
        console.print(table)
        return 0

    raise typer.Exit(run(main()))


async def serve_catcher(settings: Settings, host: str, port: int, stop: asyncio.Event) -> int:
    """Run the catcher on `host:port` until `stop` is set; how many messages it caught."""
    from batonflow.platform import open_platform

    async with (
        open_platform(settings) as platform,
        catcher.serving(platform.write, host, port) as caught,
    ):
        console.print(f"SMTP catcher listening on {host}:{port}", highlight=False)
        await stop.wait()
        return caught.received


def smtp_catcher(
    port: Annotated[int, typer.Option("--port", min=1, max=65535)] = 1025,
    host: Annotated[str, typer.Option("--host", help="The address to listen on.")] = "127.0.0.1",
) -> None:
    """A local SMTP server for demos: every message it receives is recorded against its email
    (by Message-ID), so the dashboard shows it arrived. Stop it with Ctrl-C."""
    with contextlib.suppress(KeyboardInterrupt):
        run(serve_catcher(settings_for(command="smtp-catcher"), host, port, asyncio.Event()))


def register(commands: typer.Typer) -> None:
    emails_commands.command("list")(list_emails)
    commands.add_typer(emails_commands, name="emails")
    commands.command("smtp-catcher")(smtp_catcher)
