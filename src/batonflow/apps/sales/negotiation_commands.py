"""The negotiation's commands: `batonflow sales policy show [--json]`, `batonflow sales policy
set FILE.json` (a new version of the tenant's discount policy, as the CLI's actor, a local
admin) and `batonflow sales offers list DEAL [--json]` (a deal's negotiation, round by round)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from batonflow.apps.sales import negotiation
from batonflow.apps.sales.policy import Policy, shown
from batonflow.cli import display
from batonflow.cli.session import open_session
from batonflow.cli.terminal import JsonFlag, TenantOpt, console, dump, run, settings_for
from batonflow.errors import InvalidInput

policy_commands = typer.Typer(no_args_is_help=True, help="The tenant's discount policy.")
offer_commands = typer.Typer(no_args_is_help=True, help="Deals' offers and counter-offers.")


def _print_policy(row: dict[str, Any]) -> None:
    policy = Policy.model_validate(row["policy"])
    console.print(
        f"discount policy version {row['version']}, set by {row['changed_by']} "
        f"at {display.when(row['changed_at'])}; at most {policy.max_rounds} rounds",
        highlight=False,
    )
    bands = display.table("deal size", "max discount %")
    low = "0"
    for band in policy.bands:
        size = f"{low} to below {shown(band.below)}" if band.below else f"{low} or more"
        bands.add_row(size, shown(band.max_discount))
        low = shown(band.below) if band.below else low
    console.print(bands)
    if policy.products:
        products = display.table("sku", "max discount %", "floor price")
        for rule in policy.products:
            products.add_row(
                rule.sku,
                shown(rule.max_discount) if rule.max_discount is not None else "",
                shown(rule.floor_price) if rule.floor_price is not None else "",
            )
        console.print(products)
    for who, above in (("a reviewer", policy.reviewer_above), ("an admin", policy.admin_above)):
        if above is not None:
            console.print(f"a discount above {shown(above)} % needs {who}", highlight=False)


@policy_commands.command("show")
def show(as_json: JsonFlag = False, tenant: TenantOpt = None) -> None:
    """The tenant's discount policy, its latest version."""

    async def main() -> int:
        async with open_session(settings_for(tenant)) as session:
            row = await session.read(negotiation.get_policy)
        if as_json:
            dump(_public(row))
        else:
            _print_policy(row)
        return 0

    raise typer.Exit(run(main()))


def _public(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k in ("version", "policy", "changed_by", "changed_at")}


def read_policy(file: Path) -> Policy:
    """The policy in a JSON file, or an error that lists what to fix."""
    try:
        body = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"{file.name} is not JSON: {exc}") from None
    try:
        return Policy.model_validate(body)
    except ValidationError as exc:
        issues = [
            f"{'.'.join(map(str, e['loc'])) or '(policy)'}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        ]
        raise InvalidInput(f"{file.name} is not a valid policy: " + "; ".join(issues)) from None


@policy_commands.command("set")
def set_policy(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="A policy as JSON.")],
    as_json: JsonFlag = False,
    tenant: TenantOpt = None,
) -> None:
    """Set the discount policy from FILE.json (bands, products, thresholds, max_rounds; see
    docs/apps/sales.md): a new version."""

    async def main() -> int:
        policy = read_policy(file)
        async with open_session(settings_for(tenant)) as session:
            row = await session.platform.write(
                lambda conn: negotiation.set_policy(
                    conn,
                    session.tenant_id,
                    policy,
                    actor=session.actor.name,
                    now=session.platform.now(),
                )
            )
        if as_json:
            dump(_public(row))
        else:
            console.print(f"discount policy version {row['version']} set", highlight=False)
        return 0

    raise typer.Exit(run(main()))


@offer_commands.command("list")
def list_offers(
    deal: Annotated[str, typer.Argument(help="A deal's id.")],
    as_json: JsonFlag = False,
    tenant: TenantOpt = None,
) -> None:
    """A deal's offers and counter-offers, round by round, with the policy's verdicts."""

    async def main() -> int:
        async with open_session(settings_for(tenant)) as session:
            rows = await session.read(
                lambda conn, tenant_id: negotiation.list_offers(conn, tenant_id, deal)
            )
        if as_json:
            dump([{k: v for k, v in row.items() if k != "tenant_id"} for row in rows])
            return 0
        table = display.table(
            "round", "party", "action", "discount %", "net", "verdict", "approved by"
        )
        for r in rows:
            verdict = r["verdict"] + (f" ({r['role_needed']})" if r["role_needed"] else "")
            table.add_row(
                str(r["round"]),
                r["party"],
                r["action"],
                shown(r["discount"]),
                f"{r['net_amount']} {r['currency']}",
                verdict,
                r["approved_by"] or "",
            )
        console.print(table)
        return 0

    raise typer.Exit(run(main()))


def register(commands: typer.Typer) -> None:
    commands.add_typer(policy_commands, name="policy")
    commands.add_typer(offer_commands, name="offers")
