"""Schedules, webhook hooks and the scheduler loop from the terminal (docs/schedules.md).

Hooks' secrets derive from BATONFLOW_SECRET_KEY: create them with the server's key.
"""

from __future__ import annotations

import asyncio
import signal
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.table import Table

from batonflow.cli.display import when
from batonflow.cli.session import open_session
from batonflow.cli.terminal import (
    JsonFlag,
    TenantOpt,
    console,
    dump,
    errors,
    input_pairs,
    run,
    settings_for,
)
from batonflow.platform import open_platform
from batonflow.schedules import hooks as hook_service
from batonflow.schedules import service
from batonflow.schedules.service import NewSchedule
from batonflow.schedules.timing import Kind, preview
from batonflow.store import hooks as hook_store
from batonflow.store import schedules as store
from batonflow.store.db import Conn

schedules_app = typer.Typer(no_args_is_help=True, help="Schedules that start runs.")
hooks_app = typer.Typer(no_args_is_help=True, help="Webhook URLs that start runs.")
RefArg = Annotated[str, typer.Argument(help="The schedule's name or id.")]


def _view(row: dict[str, Any], fires: list[dict[str, Any]]) -> dict[str, Any]:
    upcoming: list[datetime] = []
    if not row["paused"] and row["next_fire_at"] is not None:
        upcoming = [row["next_fire_at"], *preview(service.timing_of(row), row["next_fire_at"], 2)]
    timing = {
        "cron": f"{row['cron']} ({row['timezone']})",
        "interval": f"every {row['interval_seconds']}s",
        "once": f"at {when(row['start_at'])}",
    }[row["kind"]]
    return {
        "id": row["id"],
        "name": row["name"],
        "workflow": row["workflow_id"] + (f"@{row['version']}" if row["version"] else ""),
        "when": timing,
        "catch_up": row["catch_up"],
        "paused": row["paused"],
        "upcoming": [when(moment) for moment in upcoming],
        "runs": [
            {"due_at": when(f["due_at"]), "run_id": f["run_id"], "error": f["error"]} for f in fires
        ],
    }


@schedules_app.command("add")
def add(
    name: str,
    workflow: Annotated[str, typer.Argument(help="The stored workflow's id.")],
    cron: Annotated[str | None, typer.Option(help='Five cron fields: "0 9 * * 1-5".')] = None,
    tz: Annotated[str, typer.Option("--tz", help="The cron's time zone (IANA).")] = "UTC",
    every: Annotated[int | None, typer.Option(help="Fire every N seconds.")] = None,
    at: Annotated[
        datetime | None,
        typer.Option(help="A one-off's time (or an interval's first), with its UTC offset."),
    ] = None,
    version: Annotated[str | None, typer.Option(help="Pin a version (default: newest).")] = None,
    input_: Annotated[
        list[str] | None, typer.Option("--input", "-i", help="key=value (repeat).")
    ] = None,
    catch_up: Annotated[str, typer.Option(help="After downtime: skip, once or all.")] = "skip",
    catch_up_limit: Annotated[int, typer.Option(help="With `all`: at most this many.")] = 10,
    paused: Annotated[bool, typer.Option("--paused", help="Create it paused.")] = False,
    as_json: JsonFlag = False,
    tenant: TenantOpt = None,
) -> None:
    """Add a schedule: --cron (with --tz), --every, or --at alone."""
    kind: Kind = "cron" if cron else "interval" if every else "once"
    new = NewSchedule(
        name=name,
        workflow_id=workflow,
        kind=kind,
        version=version,
        inputs=input_pairs(input_ or []),
        cron=cron,
        timezone=tz,
        interval_seconds=every,
        at=at,
        catch_up=catch_up,  # type: ignore[arg-type]  # checked by the service
        catch_up_limit=catch_up_limit,
        paused=paused,
    )

    async def main() -> int:
        async with open_session(settings_for(tenant)) as session:
            row = await session.platform.write(
                lambda conn: service.create(
                    conn,
                    session.tenant_id,
                    new,
                    actor=session.actor.name,
                    now=session.platform.now(),
                )
            )
        view = _view(row, [])
        if as_json:
            dump(view)
        else:
            following = view["upcoming"][0] if view["upcoming"] else "never (paused)"
            console.print(f"schedule {name} added; next fire {following}", highlight=False)
        return 0

    raise typer.Exit(run(main()))


@schedules_app.command("list")
def list_(as_json: JsonFlag = False, tenant: TenantOpt = None) -> None:
    """Schedules with their next fire times and the runs they started."""

    async def main() -> int:
        async with open_session(settings_for(tenant)) as session:

            async def work(conn: Conn, tenant_id: str) -> list[dict[str, Any]]:
                rows = await store.list_schedules(conn, tenant_id)
                fires = await store.recent_fires(conn, tenant_id, [r["id"] for r in rows], 3)
                return [_view(r, fires[r["id"]]) for r in rows]

            views = await session.read(work)
        if as_json:
            dump(views)
            return 0
        table = Table("name", "workflow", "when", "catch-up", "next fires", "latest runs")
        for v in views:
            upcoming = "paused" if v["paused"] else "\n".join(v["upcoming"]) or "done"
            latest = "\n".join(f["run_id"] or f"not started: {f['error']}" for f in v["runs"])
            table.add_row(v["name"], v["workflow"], v["when"], v["catch_up"], upcoming, latest)
        console.print(table)
        return 0

    raise typer.Exit(run(main()))


def _change(verb: str, ref: str, tenant: str | None) -> None:
    async def main() -> int:
        async with open_session(settings_for(tenant)) as session:
            now = session.platform.now()

            async def work(conn: Conn) -> dict[str, Any]:
                if verb == "paused":
                    return await service.pause(conn, session.tenant_id, ref, now)
                if verb == "resumed":
                    return await service.resume(conn, session.tenant_id, ref, now)
                return await service.remove(conn, session.tenant_id, ref)

            row = await session.platform.write(work)
        console.print(f"schedule {row['name']} {verb}", highlight=False)
        return 0

    raise typer.Exit(run(main()))


@schedules_app.command("pause")
def pause(ref: RefArg, tenant: TenantOpt = None) -> None:
    """Stop firing until resumed."""
    _change("paused", ref, tenant)


@schedules_app.command("resume")
def resume(ref: RefArg, tenant: TenantOpt = None) -> None:
    """Fire again from now on (times missed while paused are not fired)."""
    _change("resumed", ref, tenant)


@schedules_app.command("delete")
def delete(ref: RefArg, tenant: TenantOpt = None) -> None:
    """Delete a schedule; the runs it started stay."""
    _change("deleted", ref, tenant)


def scheduler(
    once: Annotated[bool, typer.Option("--once", help="Fire what is due now, then exit.")] = False,
) -> None:
    """Fire due schedules (any number of schedulers may run: each due time starts one run).
    Runs it starts are picked up by `serve` or `batonflow worker`."""

    async def main() -> int:
        settings = settings_for(command="scheduler")
        async with open_platform(settings) as platform:
            loop = platform.scheduler()
            if once:
                fired = await loop.tick()
                console.print(f"fired {len(fired)} due times", highlight=False)
                return 0
            stop = asyncio.Event()
            for sig in (signal.SIGINT, signal.SIGTERM):
                asyncio.get_running_loop().add_signal_handler(sig, stop.set)
            errors.print(f"scheduler {settings.worker_id} started", highlight=False)
            await loop.serve(stop)
            errors.print(f"scheduler {settings.worker_id} stopped", highlight=False)
        return 0

    raise typer.Exit(run(main(), serving=not once))


@hooks_app.command("create")
def create_hook(
    name: str,
    workflow: Annotated[str, typer.Argument(help="The stored workflow's id.")],
    version: Annotated[str | None, typer.Option(help="Pin a version (default: newest).")] = None,
    as_json: JsonFlag = False,
    tenant: TenantOpt = None,
) -> None:
    """Make a webhook URL for a workflow; prints its secret, this once."""

    async def main() -> int:
        settings = settings_for(tenant)
        async with open_session(settings) as session:
            row, secret = await session.platform.write(
                lambda conn: hook_service.create(
                    conn,
                    session.tenant_id,
                    name=name,
                    workflow_id=workflow,
                    version=version,
                    actor=session.actor.name,
                    now=session.platform.now(),
                    server_key=settings.secret_key.get_secret_value(),
                )
            )
        _print_secret(row, secret, as_json)
        return 0

    raise typer.Exit(run(main()))


def _print_secret(row: dict[str, Any], secret: str, as_json: bool) -> None:
    path = f"/api/v1/hooks/{row['id']}"
    if as_json:
        dump({"id": row["id"], "name": row["name"], "path": path, "secret": secret})
        return
    console.print(f"hook {row['name']}: POST {path}", highlight=False)
    console.print(f"secret (shown once): {secret}", highlight=False)


@hooks_app.command("list")
def list_hooks(as_json: JsonFlag = False, tenant: TenantOpt = None) -> None:
    """The tenant's hooks (their secrets are never shown again)."""

    async def main() -> int:
        async with open_session(settings_for(tenant)) as session:
            rows = await session.read(hook_store.list_hooks)
        views = [
            {
                "id": r["id"],
                "name": r["name"],
                "workflow": r["workflow_id"] + (f"@{r['version']}" if r["version"] else ""),
                "path": f"/api/v1/hooks/{r['id']}",
            }
            for r in rows
        ]
        if as_json:
            dump(views)
            return 0
        table = Table("name", "workflow", "path")
        for v in views:
            table.add_row(v["name"], v["workflow"], v["path"])
        console.print(table)
        return 0

    raise typer.Exit(run(main()))


@hooks_app.command("rotate")
def rotate(hook_id: str, as_json: JsonFlag = False, tenant: TenantOpt = None) -> None:
    """A new secret for the hook (printed once); the old one stops working."""

    async def main() -> int:
        settings = settings_for(tenant)
        async with open_session(settings) as session:
            row, secret = await session.platform.write(
                lambda conn: hook_service.rotate(
                    conn,
                    session.tenant_id,
                    hook_id,
                    now=session.platform.now(),
                    server_key=settings.secret_key.get_secret_value(),
                )
            )
        _print_secret(row, secret, as_json)
        return 0

    raise typer.Exit(run(main()))


@hooks_app.command("delete")
def delete_hook(hook_id: str, tenant: TenantOpt = None) -> None:
    """Delete a hook; its URL answers 401 from now on."""

    async def main() -> int:
        async with open_session(settings_for(tenant)) as session:
            row = await session.platform.write(
                lambda conn: hook_service.remove(conn, session.tenant_id, hook_id)
            )
        console.print(f"hook {row['name']} deleted", highlight=False)
        return 0

    raise typer.Exit(run(main()))
