"""The CRM's commands: `batonflow sales leads list|import FILE.csv`, `sales deals list`, `sales
pipelines list` and `sales products list`, each with `--json`. They act in the CLI's tenant
(`--tenant`, else `BATONFLOW_TENANT`); lists show the newest first, `--limit` at a time."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from batonflow.apps.sales import catalog, deals, lead_import, leads, pipelines
from batonflow.cli import display
from batonflow.cli.session import open_session
from batonflow.cli.terminal import JsonFlag, TenantOpt, console, dump, run, settings_for
from batonflow.store.db import Conn

Limit = Annotated[int, typer.Option("--limit", min=1, max=1000, help="How many to show.")]
Search = Annotated[str | None, typer.Option("--search", help="Text to search for.")]
Owner = Annotated[str | None, typer.Option("--owner", help="Only this owner's.")]
lead_commands = typer.Typer(no_args_is_help=True, help="Leads: list and import.")
deal_commands = typer.Typer(no_args_is_help=True, help="Deals.")
pipeline_commands = typer.Typer(no_args_is_help=True, help="Pipelines and their stages.")
product_commands = typer.Typer(no_args_is_help=True, help="The product catalog.")


def _text(value: Any) -> str:
    return "" if value is None else str(value)


@lead_commands.command("list")
def list_leads(
    status: Annotated[str | None, typer.Option("--status", help="new, qualified, ...")] = None,
    owner: Owner = None,
    source: Annotated[str | None, typer.Option("--source", help="web, event, import...")] = None,
    min_score: Annotated[int | None, typer.Option("--min-score", min=0, max=100)] = None,
    search: Search = None,
    limit: Limit = 50,
    as_json: JsonFlag = False,
    tenant: TenantOpt = None,
) -> None:
    """The tenant's leads, newest first, with their company, contact and score."""

    async def main() -> int:
        async with open_session(settings_for(tenant)) as session:
            rows = await session.read(
                lambda conn, tenant_id: leads.list_leads(
                    conn,
                    tenant_id,
                    limit=limit,
                    status=status,
                    owner=owner,
                    source=source,
                    min_score=min_score,
                    q=search,
                )
            )
        if as_json:
            dump(rows)
            return 0
        table = display.table("id", "company", "contact", "status", "score", "owner")
        for r in rows:
            table.add_row(
                display.short_id(r["id"]),
                r["company"]["name"],
                r["contact"]["email"],
                r["status"],
                _text(r["score"]),
                _text(r["owner"]),
            )
        console.print(table)
        return 0

    raise typer.Exit(run(main()))


@lead_commands.command("import")
def import_leads(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="A leads CSV.")],
    as_json: JsonFlag = False,
    tenant: TenantOpt = None,
) -> None:
    """Import leads from a CSV: good rows are stored, each bad one is listed with its row,
    column and what to fix (the exit code is then 1)."""

    async def main() -> int:
        async with open_session(settings_for(tenant)) as session:
            report = await lead_import.import_leads(
                session.platform.write,
                session.tenant_id,
                file.read_bytes(),
                now=session.platform.now(),
            )
        done = report.as_dict()
        if as_json:
            dump(done)
        else:
            console.print(
                f"{done['rows']} rows: {done['leads_created']} leads created, "
                f"{done['duplicates']} already there, {len(done['errors'])} problem(s); "
                f"{done['companies_created']} companies and {done['contacts_created']} "
                "contacts created",
                highlight=False,
                soft_wrap=True,
            )
            for error in done["errors"]:
                column = f" {error['column']}" if error["column"] else ""
                console.print(
                    f"row {error['row']}{column}: {error['message']}",
                    highlight=False,
                    soft_wrap=True,
                )
        return 1 if done["errors"] else 0

    raise typer.Exit(run(main()))


@deal_commands.command("list")
def list_deals(
    pipeline: Annotated[str | None, typer.Option("--pipeline", help="A pipeline's id.")] = None,
    stage: Annotated[str | None, typer.Option("--stage", help="A stage's id.")] = None,
    owner: Owner = None,
    company: Annotated[str | None, typer.Option("--company", help="A company's id.")] = None,
    search: Search = None,
    limit: Limit = 50,
    as_json: JsonFlag = False,
    tenant: TenantOpt = None,
) -> None:
    """The tenant's deals, newest first."""

    async def main() -> int:
        async with open_session(settings_for(tenant)) as session:

            async def work(conn: Conn, tenant_id: str) -> list[dict[str, Any]]:
                rows = await deals.list_deals(
                    conn,
                    tenant_id,
                    limit=limit,
                    pipeline_id=pipeline,
                    stage_id=stage,
                    owner=owner,
                    company_id=company,
                    q=search,
                )
                stages = {
                    s["id"]: s["name"]
                    for p in await pipelines.list_pipelines(conn, tenant_id)
                    for s in p["stages"]
                }
                return [r | {"stage": stages.get(r["stage_id"], "")} for r in rows]

            rows = await session.read(work)
        if as_json:
            dump(rows)
            return 0
        table = display.table("id", "title", "stage", "amount", "currency", "close", "owner")
        for r in rows:
            table.add_row(
                display.short_id(r["id"]),
                r["title"],
                r["stage"],
                _text(r["amount"]),
                r["currency"],
                _text(r["close_date"]),
                _text(r["owner"]),
            )
        console.print(table)
        return 0

    raise typer.Exit(run(main()))


@pipeline_commands.command("list")
def list_pipelines(as_json: JsonFlag = False, tenant: TenantOpt = None) -> None:
    """The tenant's pipelines and their stages, the default first (made on first use)."""

    async def main() -> int:
        async with open_session(settings_for(tenant)) as session:
            now = session.platform.now()

            async def work(conn: Conn) -> list[dict[str, Any]]:
                await pipelines.default_pipeline(conn, session.tenant_id, now)
                return await pipelines.list_pipelines(conn, session.tenant_id)

            rows = await session.platform.write(work)
        if as_json:
            dump(rows)
            return 0
        table = display.table("pipeline", "stage", "kind", "probability", "requires")
        for p in rows:
            label = p["name"] + (" (default)" if p["is_default"] else "")
            for s in p["stages"]:
                table.add_row(
                    label if s["position"] == 0 else "",
                    s["name"],
                    s["kind"],
                    f"{s['probability']} %",
                    ", ".join(s["required_fields"]),
                )
        console.print(table)
        return 0

    raise typer.Exit(run(main()))


@product_commands.command("list")
def list_products(
    retired: Annotated[
        bool | None,
        typer.Option("--retired/--offered", help="Only retired, or only offered products."),
    ] = None,
    search: Search = None,
    as_json: JsonFlag = False,
    tenant: TenantOpt = None,
) -> None:
    """The product catalog by SKU."""

    async def main() -> int:
        async with open_session(settings_for(tenant)) as session:
            rows = await session.read(
                lambda conn, tenant_id: catalog.list_products(
                    conn, tenant_id, active=None if retired is None else not retired, q=search
                )
            )
        if as_json:
            dump(rows)
            return 0
        table = display.table("sku", "name", "unit price", "currency", "offered")
        for r in rows:
            table.add_row(
                r["sku"],
                r["name"],
                str(r["unit_price"]),
                r["currency"],
                "yes" if r["active"] else "no",
            )
        console.print(table)
        return 0

    raise typer.Exit(run(main()))


def register(commands: typer.Typer) -> None:
    commands.add_typer(lead_commands, name="leads")
    commands.add_typer(deal_commands, name="deals")
    commands.add_typer(pipeline_commands, name="pipelines")
    commands.add_typer(product_commands, name="products")
