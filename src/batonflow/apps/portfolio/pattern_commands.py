"""`batonflow portfolio execute PATTERN [--portfolio P] [--input name=value ...]` and
`batonflow portfolio rerun RUN`: run a pattern in this process on the current pack (or a pinned
one) and print its result with the pack and ledger hash it was computed from."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Annotated, Any

import typer

from batonflow.apps.portfolio import executions, ledger
from batonflow.cli.session import Session, open_session
from batonflow.cli.terminal import (
    JsonFlag,
    TenantOpt,
    console,
    dump,
    input_pairs,
    run,
    settings_for,
)
from batonflow.errors import InvalidInput
from batonflow.store.db import Conn


@contextlib.asynccontextmanager
async def _opened(tenant: str | None) -> AsyncIterator[tuple[Session, executions.Host, Any]]:
    settings = settings_for(tenant)
    async with open_session(settings) as session:
        platform = session.platform
        executor = platform.executor()
        host = executions.Host(
            write=platform.write,
            read=platform.read,
            wake=executor.wake,
            bus=platform.bus,
            max_active_runs=settings.tenant_max_active_runs,
        )
        yield session, host, executor


async def _finish(session: Session, host: executions.Host, executor: Any, run_id: str) -> Any:
    with console.status("computing..."):
        await executor.drain([run_id])
    return await executions.settle(host, session.tenant_id, run_id)


def _figure(value: Any) -> str:
    """A metric for a line of text: a group of figures as `name=value` pairs, None as `-`."""
    if isinstance(value, dict):
        return ", ".join(f"{k}={_figure(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(map(_figure, value))
    return "-" if value is None else str(value)


def _show(found: dict[str, Any], as_json: bool) -> int:
    if as_json:
        dump(found)
        return 0 if found["status"] == "succeeded" else 1
    console.print(
        f"[bold]{found['pattern_id']}[/bold] run {found['run_id']}: {found['status']}",
        highlight=False,
    )
    console.print(f"pricing pack  {found['pricing_pack_id']}", highlight=False)
    if found.get("ledger_commit_hash"):
        console.print(f"ledger commit {found['ledger_commit_hash']}", highlight=False)
    if found["status"] != "succeeded":
        console.print(f"[red]error[/red]: {(found['error'] or {}).get('message')}")
        return 1
    console.print(f"result hash   {found['result_hash']}", highlight=False)
    result = found["result"]
    figures = result.get("metrics") or {k: v for k, v in result.items() if k != "narrative"}
    for name, value in figures.items():
        console.print(f"  {name:<18} {_figure(value)}", highlight=False)
    for split in result.get("unbooked_splits") or []:
        console.print(
            f"[yellow]unbooked split[/yellow] {split['symbol']}: {split['ratio']} new shares per "
            f"share on {split['date']} ({split['held']} held; from {split['source']}): book it",
            highlight=False,
        )
    if result.get("narrative"):
        console.print(result["narrative"], highlight=False)
    for line in found["attribution"]:
        console.print(f"[dim]{line}[/dim]", highlight=False)
    return 0


def register(commands: typer.Typer) -> None:
    @commands.command("execute")
    def execute(
        pattern_id: Annotated[str, typer.Argument(help="portfolio_overview or macro_regime")],
        portfolio: Annotated[
            str | None, typer.Option("--portfolio", "-p", help="A portfolio's name or id.")
        ] = None,
        input_: Annotated[
            list[str] | None, typer.Option("--input", "-i", help="name=value (repeat).")
        ] = None,
        pack: Annotated[str | None, typer.Option("--pack", help="Pin this pack.")] = None,
        commit: Annotated[str | None, typer.Option("--commit", help="Pin this ledger.")] = None,
        as_json: JsonFlag = False,
        tenant: TenantOpt = None,
    ) -> None:
        """Run a pattern on the current pricing pack and print its result."""

        async def main() -> int:
            found_pattern = executions.pattern(pattern_id)
            if found_pattern.on_portfolio and portfolio is None:
                raise InvalidInput(
                    f"the pattern '{pattern_id}' runs on a portfolio: give --portfolio NAME"
                )
            async with _opened(tenant) as (session, host, executor):
                portfolio_id = None
                if portfolio is not None:

                    async def find(conn: Conn) -> str:
                        found = await ledger.find_portfolio(conn, session.tenant_id, portfolio)
                        return str(found["id"])

                    portfolio_id = await host.read(find)
                run_id = await executions.start(
                    host,
                    session.actor,
                    session.tenant_id,
                    pattern_id,
                    inputs=input_pairs(input_ or []),
                    portfolio_id=portfolio_id,
                    pricing_pack_id=pack,
                    ledger_commit_hash=commit,
                )
                found = await _finish(session, host, executor, run_id)
            return _show(found, as_json)

        raise typer.Exit(run(main()))

    @commands.command("rerun")
    def rerun(
        run_id: Annotated[str, typer.Argument(help="A past execution's run id.")],
        as_json: JsonFlag = False,
        tenant: TenantOpt = None,
    ) -> None:
        """Run a past execution's pattern again on its pinned pack and ledger state."""

        async def main() -> int:
            async with _opened(tenant) as (session, host, executor):
                new_id = await executions.rerun(host, session.actor, session.tenant_id, run_id)
                found = await _finish(session, host, executor, new_id)
            return _show(found, as_json)

        raise typer.Exit(run(main()))
