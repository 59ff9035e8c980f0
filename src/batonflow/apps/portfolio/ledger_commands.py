"""The ledger's commands: `batonflow portfolio create NAME --currency USD`, `list`, `import
FILE.csv --portfolio NAME`, `positions PORTFOLIO` and `reconcile PORTFOLIO STATEMENT.csv
--account NAME`. They act as the CLI's actor (`BATONFLOW_ACTOR`) in its tenant; a portfolio is
named by its name or its id."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from batonflow.apps.portfolio import csv_import, ledger, reconcile
from batonflow.apps.portfolio.ledger_rules import text
from batonflow.cli import display
from batonflow.cli.session import open_session
from batonflow.cli.terminal import JsonFlag, TenantOpt, console, dump, run, settings_for
from batonflow.store.db import Conn

PortfolioArg = Annotated[str, typer.Argument(help="A portfolio's name or id.")]


def _report(report: dict[str, Any]) -> None:
    for error in report["errors"]:
        column = f" {error['column']}" if error["column"] else ""
        console.print(f"row {error['row']}{column}: {error['message']}", highlight=False)


def create(
    name: str,
    currency: Annotated[str, typer.Option("--currency", help="ISO 4217, like USD.")],
    benchmark: Annotated[str | None, typer.Option("--benchmark", help="A symbol.")] = None,
    as_json: JsonFlag = False,
    tenant: TenantOpt = None,
) -> None:
    """Create a portfolio NAME in a base currency."""

    async def main() -> int:
        async with open_session(settings_for(tenant)) as session:
            row = await session.platform.write(
                lambda conn: ledger.create_portfolio(
                    conn,
                    session.tenant_id,
                    name=name,
                    base_currency=currency,
                    benchmark=benchmark,
                    actor=session.actor.name,
                    now=session.platform.now(),
                )
            )
        if as_json:
            dump(row)
        else:
            console.print(
                f"portfolio {row['id']}: {row['name']} ({row['base_currency']})", highlight=False
            )
        return 0

    raise typer.Exit(run(main()))


def list_portfolios(as_json: JsonFlag = False, tenant: TenantOpt = None) -> None:
    """The tenant's portfolios, each with its ledger's head."""

    async def main() -> int:
        async with open_session(settings_for(tenant)) as session:

            async def work(conn: Conn, tenant_id: str) -> list[dict[str, Any]]:
                rows = await ledger.list_portfolios(conn, tenant_id)
                return [r | {"head": await ledger.head(conn, tenant_id, r["id"])} for r in rows]

            rows = await session.read(work)
        if as_json:
            dump(rows)
            return 0
        table = display.table("id", "name", "currency", "benchmark", "head")
        for r in rows:
            table.add_row(
                r["id"], r["name"], r["base_currency"], r["benchmark"] or "", r["head"][:12]
            )
        console.print(table)
        return 0

    raise typer.Exit(run(main()))


def import_file(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="A ledger CSV.")],
    portfolio: Annotated[str, typer.Option("--portfolio", help="A portfolio's name or id.")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check only; write nothing.")] = False,
    as_json: JsonFlag = False,
    tenant: TenantOpt = None,
) -> None:
    """Import a ledger CSV as one commit: every row is checked, and one bad row writes nothing
    (each bad row is listed; the exit code is 1)."""

    async def main() -> int:
        async with open_session(settings_for(tenant)) as session:
            found = await session.read(
                lambda conn, tenant_id: ledger.find_portfolio(conn, tenant_id, portfolio)
            )
            try:
                report = await csv_import.import_csv(
                    session.platform.write,
                    session.tenant_id,
                    found["id"],
                    file.read_bytes(),
                    source=f"csv:{file.name}",
                    actor=session.actor.name,
                    now=session.platform.now(),
                    dry_run=dry_run,
                )
            except csv_import.ImportRefused as refused:
                if as_json:
                    dump(refused.report.as_dict())
                else:
                    console.print(f"[red]{refused.message}[/red]", highlight=False)
                    _report(refused.report.as_dict())
                return 1
        done = report.as_dict()
        if as_json:
            dump(done)
        elif dry_run:
            console.print(f"{done['rows']} rows are valid; nothing was written (dry run)")
        else:
            commit = done["commit"]
            console.print(
                f"imported {done['rows']} rows as commit {commit['seq']} ({commit['hash']})",
                highlight=False,
            )
        return 0

    raise typer.Exit(run(main()))


def positions(portfolio: PortfolioArg, as_json: JsonFlag = False, tenant: TenantOpt = None) -> None:
    """A portfolio's positions and cash at its ledger's head."""

    async def main() -> int:
        async with open_session(settings_for(tenant)) as session:

            async def work(conn: Conn, tenant_id: str) -> Any:
                found = await ledger.find_portfolio(conn, tenant_id, portfolio)
                return await ledger.holdings(conn, tenant_id, found["id"])

            held = await session.read(work)
        body = {
            "portfolio_id": held.portfolio_id,
            "ledger_commit_hash": held.ledger_commit_hash,
            "base_currency": held.base_currency,
            "positions": [
                {
                    "account_id": p.account_id,
                    "symbol": p.symbol,
                    "quantity": text(p.quantity),
                    "cost": text(p.cost),
                    "currency": p.currency,
                }
                for p in held.positions
            ],
            "cash": {currency: text(amount) for currency, amount in held.cash.items()},
        }
        if as_json:
            dump(body)
            return 0
        table = display.table("symbol", "quantity", "cost", "currency")
        for p in body["positions"]:
            table.add_row(p["symbol"], p["quantity"], p["cost"], p["currency"])
        for currency, amount in body["cash"].items():
            table.add_row("cash", amount, "", currency)
        console.print(table)
        console.print(f"ledger {held.ledger_commit_hash or '(empty)'}", highlight=False)
        return 0

    raise typer.Exit(run(main()))


def reconcile_account(
    portfolio: PortfolioArg,
    statement: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="symbol,quantity CSV.")
    ],
    account: Annotated[str, typer.Option("--account", help="The account's name.")],
    on: Annotated[str | None, typer.Option("--date", help="Statement date (YYYY-MM-DD).")] = None,
    as_json: JsonFlag = False,
    tenant: TenantOpt = None,
) -> None:
    """Compare an account with a custodian statement and record the breaks (exit code 1 when
    there are any)."""

    try:
        statement_date = date.fromisoformat(on) if on else None
    except ValueError:
        raise typer.BadParameter(
            f"'{on}' is not a date (YYYY-MM-DD)", param_hint="--date"
        ) from None

    async def main() -> int:
        held = reconcile.read_statement(statement.read_bytes())
        async with open_session(settings_for(tenant)) as session:
            now = session.platform.now()

            async def work(conn: Conn) -> dict[str, Any]:
                found = await ledger.find_portfolio(conn, session.tenant_id, portfolio)
                return await reconcile.reconcile(
                    conn,
                    session.tenant_id,
                    found["id"],
                    account=account,
                    statement=held,
                    statement_date=statement_date or now.date(),
                    actor=session.actor.name,
                    now=now,
                )

            row = await session.platform.write(work)
        if as_json:
            dump(row)
        elif not row["breaks"]:
            console.print(
                f"{row['account']} matches the statement at ledger "
                f"{row['ledger_commit_hash'][:12]}",
                highlight=False,
            )
        else:
            table = display.table("symbol", "ledger", "custodian", "difference")
            for b in row["breaks"]:
                table.add_row(b["symbol"], b["ledger"], b["custodian"], b["difference"])
            console.print(table)
        return 1 if row["breaks"] else 0

    raise typer.Exit(run(main()))


def register(commands: typer.Typer) -> None:
    commands.command("create")(create)
    commands.command("list")(list_portfolios)
    commands.command("import")(import_file)
    commands.command("positions")(positions)
    commands.command("reconcile")(reconcile_account)
