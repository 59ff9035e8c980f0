"""The sales agent's commands: `batonflow sales propose DEAL [--sku X --qty N ...] [--note T]`
runs `deal.propose` in this process (a durable run, like the API's) and prints the proposal;
`batonflow sales proposals list DEAL` lists a deal's proposals. Both take `--json`, and act in
the CLI's tenant (`--tenant`, else `BATONFLOW_TENANT`)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from batonflow.apps.sales import agent_runs, proposals
from batonflow.cli import display
from batonflow.cli.session import open_session
from batonflow.cli.terminal import JsonFlag, TenantOpt, console, dump, run, settings_for
from batonflow.errors import InvalidInput

proposal_commands = typer.Typer(no_args_is_help=True, help="Proposals of deals.")
Deal = Annotated[str, typer.Argument(help="The deal's id.")]


def items_of(skus: list[str], quantities: list[str]) -> list[dict[str, str]] | None:
    """The `--sku`/`--qty` pairs as the capability's items (None without any)."""
    if len(skus) != len(quantities):
        raise InvalidInput(
            f"{len(skus)} --sku and {len(quantities)} --qty: give one --qty after each --sku"
        )
    return [{"sku": s, "quantity": q} for s, q in zip(skus, quantities, strict=True)] or None


def _show(proposal: dict[str, Any]) -> None:
    text, code = proposal["text"], proposal["currency"]
    console.print(f"[bold]{text['title']}[/bold] (version {proposal['version']})", highlight=False)
    console.print(text["summary"], highlight=False)
    said = {x["sku"]: x["statement"] for x in text["lines"]}
    table = display.table("sku", "product", "qty", "unit price", "discount", "net", "value")
    for line in proposal["lines"]:
        table.add_row(
            line["sku"],
            line["description"],
            str(line["quantity"]),
            str(line["unit_price"]),
            str(line["discount"]),
            str(line["net"]),
            said.get(line["sku"], ""),
        )
    console.print(table)
    totals = proposal["totals"]
    for name in ("subtotal", "discount", "total"):
        console.print(f"{name:<9} {totals[name]} {code}", highlight=False)


@proposal_commands.command("list")
def list_proposals(deal: Deal, as_json: JsonFlag = False, tenant: TenantOpt = None) -> None:
    """The deal's proposals, the latest version first."""

    async def main() -> int:
        async with open_session(settings_for(tenant)) as session:
            rows = await session.read(
                lambda conn, tenant_id: proposals.list_proposals(conn, tenant_id, deal)
            )
        if as_json:
            dump(rows)
            return 0
        table = display.table("id", "version", "title", "total", "created")
        for r in rows:
            table.add_row(
                display.short_id(r["id"]),
                str(r["version"]),
                r["text"]["title"],
                f"{r['totals']['total']} {r['currency']}",
                display.when(r["created_at"]),
            )
        console.print(table)
        return 0

    raise typer.Exit(run(main()))


def register(commands: typer.Typer) -> None:
    commands.add_typer(proposal_commands, name="proposals")

    @commands.command("propose")
    def propose(
        deal: Deal,
        sku: Annotated[
            list[str] | None, typer.Option("--sku", help="A product to offer (repeat).")
        ] = None,
        qty: Annotated[
            list[str] | None, typer.Option("--qty", help="Its quantity (one per --sku).")
        ] = None,
        note: Annotated[str | None, typer.Option("--note", help="What to stress.")] = None,
        as_json: JsonFlag = False,
        tenant: TenantOpt = None,
    ) -> None:
        """Write a proposal for the deal: the products given (else the deal's lines) priced
        from the catalog, and the sales agent's text about them."""

        async def main() -> int:
            given: dict[str, Any] = {"deal_id": deal, "items": items_of(sku or [], qty or [])}
            if note:
                given["note"] = note
            settings = settings_for(tenant)
            async with open_session(settings) as session:
                platform = session.platform
                executor = platform.executor()
                sales = platform.apps.enabled["sales"]
                host = agent_runs.Host(
                    agents=sales.agents,
                    catalog=platform.registry,
                    write=platform.write,
                    read=platform.read,
                    wake=executor.wake,
                    bus=platform.bus,
                    max_active_runs=settings.tenant_max_active_runs,
                )
                run_id = await agent_runs.start(
                    host, session.actor, session.tenant_id, "sales", "deal.propose", given
                )
                with console.status("writing the proposal..."):
                    await executor.drain([run_id])
                found = await agent_runs.answer(host, session.tenant_id, run_id)
            if as_json:
                dump(found)
            elif found["status"] == "succeeded":
                _show(found["output"])
            else:
                message = (found["error"] or {}).get("message")
                console.print(f"run {run_id}: {found['status']}: {message}", highlight=False)
            return 0 if found["status"] == "succeeded" else 1

        raise typer.Exit(run(main()))
