"""The pack commands: `batonflow portfolio packs build [--as-of DATE] [--symbol S ...] [--wait]`
starts a build (with `--wait` this process runs it and prints how it ended; without, a worker
or `batonflow serve` runs it), `packs list [--json]` lists the builds and `packs show ID` a
pack and its series. They act for the CLI's tenant (`BATONFLOW_TENANT`) as its actor."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import typer

from batonflow.apps.portfolio import pack_build, packs
from batonflow.cli import display
from batonflow.cli.session import open_session
from batonflow.cli.terminal import JsonFlag, TenantOpt, console, dump, run, settings_for
from batonflow.store.db import Conn

group = typer.Typer(no_args_is_help=True, help="Pricing packs: build, list, show.")


def _line(row: dict[str, Any]) -> str:
    pack = row["pack_id"] or (f"same as {row['same_as']}" if row["same_as"] else "-")
    return f"{row['build_id']}  {row['state']:<10} as of {row['as_of']}  {pack}"


@group.command("build")
def build(
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="The pack's date, YYYY-MM-DD (default: today).")
    ] = None,
    symbols: Annotated[
        list[str] | None,
        typer.Option("--symbol", "-s", help="A symbol to price (default: the ledgers')."),
    ] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Run the build here and wait.")] = False,
    as_json: JsonFlag = False,
    tenant: TenantOpt = None,
) -> None:
    """Start a pricing pack build."""
    try:
        day = date.fromisoformat(as_of) if as_of else None
    except ValueError:
        raise typer.BadParameter(f"--as-of takes a date as YYYY-MM-DD, not {as_of!r}") from None

    async def main() -> int:
        settings = settings_for(tenant)
        async with open_session(settings) as session:
            platform = session.platform
            row = await platform.write(
                lambda conn: pack_build.queue(
                    conn,
                    session.tenant_id,
                    session.actor,
                    platform.now(),
                    platform.apps.settings_of("portfolio"),
                    as_of=day,
                    symbols=symbols,
                )
            )
            if wait:
                with console.status("building the pack..."):
                    await platform.executor().drain([row["run_id"]])
                row = await platform.read(
                    lambda conn: packs.get_build(conn, session.tenant_id, row["build_id"])
                )
        if as_json:
            dump(row)
        else:
            console.print(_line(row), highlight=False)
            if row["state"] == "failed":
                console.print(f"[red]failed[/red]: {(row['error'] or {}).get('message')}")
            elif row["state"] == "warming":
                console.print(
                    f"run {row['run_id']} builds it when a worker or `batonflow serve` runs; "
                    f"follow it with: batonflow runs show {row['run_id']}",
                    highlight=False,
                )
        return 1 if row["state"] == "failed" else 0

    raise typer.Exit(run(main()))


@group.command("list")
def list_packs(as_json: JsonFlag = False, tenant: TenantOpt = None) -> None:
    """The pack builds, newest first."""

    async def main() -> int:
        async with open_session(settings_for(tenant)) as session:

            async def work(conn: Conn, tenant_id: str) -> list[dict[str, Any]]:
                return await packs.list_packs(conn, tenant_id, limit=200)

            rows = await session.read(work)
        if as_json:
            dump(rows)
            return 0
        # The pack id last: the one column that wraps rather than being cut, as it is what
        # `execute --pack` pins; the build by its short id (`packs list --json` has it whole).
        table = display.table("state", "as of", "started", "build", "pack")
        table.columns[-1].overflow = "fold"
        for r in rows:
            pack = r["pack_id"] or (f"= {r['same_as']}" if r["same_as"] else "")
            table.add_row(
                r["state"],
                r["as_of"],
                display.ago(r["started_at"]),
                display.short_id(r["build_id"]),
                pack,
            )
        console.print(table)
        return 0

    raise typer.Exit(run(main()))


@group.command("show")
def show(
    pack_id: Annotated[str, typer.Argument(help="A pack id (its content hash).")],
    as_json: JsonFlag = False,
    tenant: TenantOpt = None,
) -> None:
    """A pack and a summary of its series."""

    async def main() -> int:
        async with open_session(settings_for(tenant)) as session:

            async def work(conn: Conn, tenant_id: str) -> dict[str, Any]:
                return await packs.get_pack(conn, tenant_id, pack_id)

            row = await session.read(work)
        if as_json:
            dump(row)
            return 0
        console.print(_line(row), highlight=False)
        console.print(f"sources: {', '.join(row['sources']) or '-'}", highlight=False)
        table = display.table("kind", "key", "source", "points", "first", "last")
        for s in row["series"]:
            table.add_row(
                s["kind"],
                s["key"],
                s["source"],
                str(s["points"]),
                s["first"] or "",
                s["last"] or "",
            )
        console.print(table)
        return 0

    raise typer.Exit(run(main()))


def register(commands: typer.Typer) -> None:
    commands.add_typer(group, name="packs")
