"""The finance commands: `batonflow sales invoices list`, `invoices pdf ID --output FILE`,
`contracts list` and `dunning run [--today D]`. They act in the CLI's tenant; listings take
`--json`."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from batonflow.apps.sales import contracts, dunning, finance_pdf, invoices, money
from batonflow.apps.sales.settings import SalesSettings
from batonflow.cli import display
from batonflow.cli.session import open_session
from batonflow.cli.terminal import JsonFlag, TenantOpt, console, dump, run, settings_for

invoice_commands = typer.Typer(no_args_is_help=True, help="Invoices: list them, get their PDF.")
contract_commands = typer.Typer(no_args_is_help=True, help="Contracts: list them.")
dunning_commands = typer.Typer(no_args_is_help=True, help="Payment reminders for late invoices.")
Limit = Annotated[int, typer.Option("--limit", min=1, max=10_000, help="At most this many.")]


def _day(text: str | None, option: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        raise typer.BadParameter(
            f"'{text}' is not a date (YYYY-MM-DD)", param_hint=option
        ) from None


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    drop = ("tenant_id", "lines", "payments", "versions")
    return {k: v for k, v in row.items() if k not in drop}


@invoice_commands.command("list")
def list_invoices(
    status: Annotated[str | None, typer.Option("--status", help="draft, sent, ...")] = None,
    company: Annotated[str | None, typer.Option("--company", help="A company id.")] = None,
    deal: Annotated[str | None, typer.Option("--deal", help="A deal id.")] = None,
    limit: Limit = 100,
    as_json: JsonFlag = False,
    tenant: TenantOpt = None,
) -> None:
    """The tenant's invoices, newest first."""

    async def main() -> int:
        async with open_session(settings_for(tenant)) as session:
            rows = await session.read(
                lambda conn, tenant_id: invoices.page(
                    conn, tenant_id, limit=limit, status=status, company_id=company, deal_id=deal
                )
            )
        if as_json:
            dump([_plain(r) for r in rows])
            return 0
        table = display.table("id", "number", "status", "due", "total", "balance")
        for r in rows:
            code = r["currency"]
            table.add_row(
                display.short_id(r["id"]),
                r["number"] or "(draft)",
                r["status"],
                str(r["due_date"] or ""),
                f"{money.text(r['total'], code)} {code}",
                f"{money.text(r['balance'], code)} {code}",
            )
        console.print(table)
        return 0

    raise typer.Exit(run(main()))


@invoice_commands.command("pdf")
def invoice_pdf(
    invoice_id: Annotated[str, typer.Argument(help="The invoice's id.")],
    output: Annotated[Path, typer.Option("--output", "-o", dir_okay=False, help="The file.")],
    tenant: TenantOpt = None,
) -> None:
    """Write an invoice's PDF to a file."""

    async def main() -> int:
        async with open_session(settings_for(tenant)) as session:
            document = await session.read(
                lambda conn, tenant_id: finance_pdf.invoice_document(conn, tenant_id, invoice_id)
            )
        output.write_bytes(finance_pdf.render_invoice(document))
        console.print(f"wrote {output}", highlight=False)
        return 0

    raise typer.Exit(run(main()))


@contract_commands.command("list")
def list_contracts(
    status: Annotated[str | None, typer.Option("--status", help="draft, in_review, ...")] = None,
    deal: Annotated[str | None, typer.Option("--deal", help="A deal id.")] = None,
    limit: Limit = 100,
    as_json: JsonFlag = False,
    tenant: TenantOpt = None,
) -> None:
    """The tenant's contracts, newest first."""

    async def main() -> int:
        async with open_session(settings_for(tenant)) as session:
            rows = await session.read(
                lambda conn, tenant_id: contracts.page(
                    conn, tenant_id, limit=limit, status=status, deal_id=deal
                )
            )
        if as_json:
            dump([_plain(r) for r in rows])
            return 0
        table = display.table("id", "title", "status", "version", "deal")
        for r in rows:
            table.add_row(
                display.short_id(r["id"]),
                r["title"],
                r["status"],
                str(r["version"]),
                display.short_id(r["deal_id"]),
            )
        console.print(table)
        return 0

    raise typer.Exit(run(main()))


@dunning_commands.command("run")
def run_dunning(
    today: Annotated[
        str | None, typer.Option("--today", help="The day to run for (default: today, UTC).")
    ] = None,
    as_json: JsonFlag = False,
    tenant: TenantOpt = None,
) -> None:
    """Mark late invoices overdue and send each one's reminder now due (the exit code is 1 when
    a reminder could not be sent; the next run tries it again)."""
    day = _day(today, "--today")

    async def main() -> int:
        async with open_session(settings_for(tenant)) as session:
            platform = session.platform
            settings: SalesSettings = platform.apps.settings_of("sales")
            done = await dunning.run(
                platform.db,
                session.tenant_id,
                day or platform.now().date(),
                dunning.mail_sender(platform.db, settings),
                days=settings.dunning_days,
                now=platform.now(),
            )
        if as_json:
            dump(done)
        elif not done:
            console.print("no reminders are due")
        else:
            table = display.table("invoice", "level", "due on", "state", "email / error")
            for d in done:
                table.add_row(
                    d["number"] or d["invoice_id"],
                    str(d["level"]),
                    str(d["due_on"]),
                    d["state"],
                    d["email_id"] or d["error"] or "",
                )
            console.print(table)
        return 1 if any(d["state"] == "failed" for d in done) else 0

    raise typer.Exit(run(main()))


def register(commands: typer.Typer) -> None:
    commands.add_typer(invoice_commands, name="invoices")
    commands.add_typer(contract_commands, name="contracts")
    commands.add_typer(dunning_commands, name="dunning")
