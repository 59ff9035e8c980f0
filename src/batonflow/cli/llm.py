"""Commands for the LLM gateway: the prompt registry, a tenant's gateway policy, a run's calls."""

from __future__ import annotations

import difflib
import functools
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from batonflow.cli import display
from batonflow.cli.terminal import JsonFlag, TenantOpt, console, dump, fail, run, settings_for
from batonflow.errors import InvalidInput

if TYPE_CHECKING:
    from batonflow.store.db import Conn

prompts_app = typer.Typer(no_args_is_help=True, help="The prompt registry.")
tenant_app = typer.Typer(no_args_is_help=True, help="The tenant's LLM policy: budgets, logging.")


def _prompt_view(row: dict[str, Any]) -> dict[str, Any]:
    return {
        k: row[k]
        for k in (
            "key",
            "version",
            "description",
            "variables",
            "system",
            "template",
            "content_hash",
            "created_by",
            "created_at",
        )
    }


@prompts_app.command("list")
def prompts_list(as_json: JsonFlag = False, tenant: TenantOpt = None) -> None:
    """Every prompt key with its newest version."""
    from batonflow.cli.session import open_session
    from batonflow.store import prompts as prompt_store

    async def main() -> int:
        async with open_session(settings_for(tenant)) as session:
            rows = await session.read(prompt_store.list_latest)
        if as_json:
            dump([_prompt_view(r) for r in rows])
            return 0
        table = display.table("key", "version", "variables", "description")
        for row in rows:
            table.add_row(
                row["key"], str(row["version"]), ", ".join(row["variables"]), row["description"]
            )
        console.print(table)
        return 0

    raise typer.Exit(run(main()))


@prompts_app.command("show")
def prompts_show(
    key: str,
    version: Annotated[int | None, typer.Option(min=1, help="Default: the newest.")] = None,
    diff: Annotated[
        int | None, typer.Option(min=1, help="Show the changes from this version.")
    ] = None,
    as_json: JsonFlag = False,
    tenant: TenantOpt = None,
) -> None:
    """One prompt version (or the difference between two)."""
    from batonflow.cli.session import open_session
    from batonflow.store import prompts as prompt_store

    async def main() -> int:
        async def versions(conn: Conn, tenant_id: str) -> tuple[Any, Any]:
            row = await prompt_store.get(conn, tenant_id, key, version)
            base = await prompt_store.get(conn, tenant_id, key, diff) if diff else None
            return row, base

        async with open_session(settings_for(tenant)) as session:
            row, base = await session.read(versions)
        if as_json:
            dump(_prompt_view(row))
            return 0
        if base is not None:
            lines = difflib.unified_diff(
                base["template"].splitlines(),
                row["template"].splitlines(),
                f"{key} v{base['version']}",
                f"{key} v{row['version']}",
                lineterm="",
            )
            console.print("\n".join(lines), highlight=False, markup=False)
            return 0
        console.print(
            f"prompt {row['key']} v{row['version']} · variables: "
            f"{', '.join(row['variables']) or 'none'}",
            highlight=False,
        )
        if row["system"]:
            console.print(f"system: {row['system']}", highlight=False, markup=False)
        console.print(row["template"], highlight=False, markup=False)
        return 0

    raise typer.Exit(run(main()))


@prompts_app.command("set")
def prompts_set(
    key: str,
    template: Annotated[str | None, typer.Option(help="The template text.")] = None,
    file: Annotated[
        Path | None, typer.Option(help="Read the template from this file.", exists=True)
    ] = None,
    var: Annotated[
        list[str] | None, typer.Option("--var", help="A variable the template reads (repeat).")
    ] = None,
    system: Annotated[str | None, typer.Option(help="A system message template.")] = None,
    description: str = "",
    tenant: TenantOpt = None,
) -> None:
    """Store a new version of a prompt (identical content keeps the newest version)."""
    from batonflow.cli.session import open_session
    from batonflow.llm import prompts

    if (template is None) == (file is None):
        fail(InvalidInput("give the template with exactly one of --template or --file"))
    text = template if template is not None else file.read_text("utf-8")  # type: ignore[union-attr]
    draft = prompts.PromptDraft(
        key=key, template=text, variables=tuple(var or ()), system=system, description=description
    )

    async def main() -> int:
        async with open_session(settings_for(tenant)) as session:
            save = functools.partial(
                prompts.save,
                tenant_id=session.tenant_id,
                draft=draft,
                created_by=session.actor.name,
                now=session.platform.now(),
            )
            row, created = await session.platform.write(save)
        state = "stored" if created else "unchanged, newest is"
        console.print(f"prompt {row['key']}: {state} v{row['version']}", highlight=False)
        return 0

    raise typer.Exit(run(main()))


def _policy_view(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "tenant": row["slug"],
        "log_bodies": bool(row["llm_log_bodies"]),
        "monthly_budget_tokens": row["budget_tokens"],
        "monthly_budget_usd": None if row["budget_usd"] is None else str(row["budget_usd"]),
    }


def _cap(value: str | None, name: str, kind: type) -> tuple[bool, Any]:
    """(given, value) for a cap option: 'none' clears it."""
    if value is None:
        return False, None
    if value.lower() == "none":
        return True, None
    try:
        parsed = kind(value)
    except (ValueError, InvalidOperation):
        fail(InvalidInput(f"--{name} takes a number or 'none', got '{value}'"))
    if parsed <= 0:
        fail(InvalidInput(f"--{name} must be above zero (or 'none' to remove the cap)"))
    return True, parsed


@tenant_app.command("show")
def tenant_show(as_json: JsonFlag = False, tenant: TenantOpt = None) -> None:
    """The tenant's LLM policy and this month's spend."""
    from datetime import UTC, datetime

    from batonflow.cli.session import open_session
    from batonflow.llm.ledger import month_start
    from batonflow.store import llm_calls as call_store
    from batonflow.store import tenants as tenant_store

    async def main() -> int:
        async def policy(conn: Conn, tenant_id: str) -> tuple[Any, tuple[int, Any]]:
            since = month_start(datetime.now(UTC))
            return await tenant_store.llm_policy(conn, tenant_id), await call_store.spent(
                conn, tenant_id, since=since
            )

        async with open_session(settings_for(tenant)) as session:
            row, (tokens, cost) = await session.read(policy)
        data = {**_policy_view(row), "month_tokens": tokens, "month_cost_usd": str(cost)}
        if as_json:
            dump(data)
            return 0
        for name, value in data.items():
            console.print(f"{name}: {value}", highlight=False)
        return 0

    raise typer.Exit(run(main()))


@tenant_app.command("set")
def tenant_set(
    log_bodies: Annotated[
        bool | None,
        typer.Option("--log-bodies/--no-log-bodies", help="Store prompt and completion text."),
    ] = None,
    budget_tokens: Annotated[str | None, typer.Option(help="Monthly token cap, or 'none'.")] = None,
    budget_usd: Annotated[
        str | None, typer.Option(help="Monthly cost cap in USD, or 'none'.")
    ] = None,
    tenant: TenantOpt = None,
) -> None:
    """Change the tenant's LLM policy."""
    from batonflow.cli.session import open_session
    from batonflow.store import tenants as tenant_store

    values: dict[str, Any] = {}
    if log_bodies is not None:
        values["llm_log_bodies"] = log_bodies
    given, tokens = _cap(budget_tokens, "budget-tokens", int)
    if given:
        values["budget_tokens"] = tokens
    given, usd = _cap(budget_usd, "budget-usd", Decimal)
    if given:
        values["budget_usd"] = usd
    if not values:
        fail(InvalidInput("nothing to change: give --log-bodies, --budget-tokens or --budget-usd"))

    async def main() -> int:
        async with open_session(settings_for(tenant)) as session:
            change = functools.partial(
                tenant_store.set_llm_policy, tenant_id=session.tenant_id, **values
            )
            await session.platform.write(change)
            row = await session.read(tenant_store.llm_policy)
        for name, value in _policy_view(row).items():
            console.print(f"{name}: {value}", highlight=False)
        return 0

    raise typer.Exit(run(main()))


def runs_calls(run_id: str, as_json: JsonFlag = False, tenant: TenantOpt = None) -> None:
    """The model calls of a run: model, tokens, cost, latency, status."""
    from batonflow.cli.session import open_session
    from batonflow.store import llm_calls as call_store
    from batonflow.store import runs as run_store

    async def main() -> int:
        async def calls(conn: Conn, tenant_id: str) -> list[dict[str, Any]]:
            full = await run_store.find_run_by_prefix(conn, tenant_id, run_id)
            return await call_store.list_calls(conn, tenant_id, full)

        async with open_session(settings_for(tenant)) as session:
            rows = await session.read(calls)
        if as_json:
            dump(
                [
                    {**row, "cost_usd": None if row["cost_usd"] is None else str(row["cost_usd"])}
                    for row in rows
                ]
            )
            return 0
        table = display.table(
            "step", "model", "status", "tokens in/out", "cost $", "latency", "retries"
        )
        total = Decimal(0)
        for row in rows:
            total += row["cost_usd"] or 0
            table.add_row(
                row["step_key"] or "",
                f"{row['provider']}:{row['model']}",
                row["status"]
                if not row["error_code"]
                else f"{row['status']} ({row['error_code']})",
                f"{row['input_tokens']}/{row['output_tokens']}",
                "unknown" if row["cost_usd"] is None else str(row["cost_usd"]),
                "" if row["latency_ms"] is None else display.duration(row["latency_ms"] / 1000),
                str(row["retries"]),
            )
        console.print(table)
        console.print(f"{len(rows)} calls, total ${total}", highlight=False)
        return 0

    raise typer.Exit(run(main()))
