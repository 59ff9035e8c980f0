"""The scoping app's commands: `batonflow scoping new "title"`, `list`, `show`, `attach SESSION
FILE` (a document its questions draw on), `answer` (work through the stages at the terminal)
and `charter SESSION --format md|pdf`.

The CLI acts as its actor (`BATONFLOW_ACTOR`) in its tenant, and drives the stage executions
it starts in this process, with the same limits as the API.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.prompt import Prompt

from batonflow.apps.scoping import actions, documents, service, sessions
from batonflow.apps.scoping import versions as charter_store
from batonflow.apps.scoping.charter import Charter, markdown
from batonflow.apps.scoping.pdf import render
from batonflow.apps.scoping.sessions import Viewer
from batonflow.auth.ratelimit import RateLimiter
from batonflow.cli import display
from batonflow.cli.session import open_session
from batonflow.cli.terminal import JsonFlag, TenantOpt, console, dump, run, settings_for
from batonflow.errors import InvalidInput, NotFound
from batonflow.retrieval.documents import detect_format
from batonflow.retrieval.service import Knowledge
from batonflow.store.db import Conn
from batonflow.workflows.executor import Executor

commands = typer.Typer(no_args_is_help=True, help="The scoping app: sessions to a charter.")
SessionArg = Annotated[str, typer.Argument(help="A session id (or the start of one).")]


@contextlib.asynccontextmanager
async def _opened(tenant: str | None) -> AsyncIterator[tuple[Executor, service.Host, Viewer]]:
    async with _opened_with(tenant) as (executor, host, viewer, _):
        yield executor, host, viewer


@contextlib.asynccontextmanager
async def _opened_with(
    tenant: str | None,
) -> AsyncIterator[tuple[Executor, service.Host, Viewer, Knowledge]]:
    """As `_opened`, with the tenant's knowledge bases too."""
    settings = settings_for(tenant)
    async with open_session(settings) as session:
        platform = session.platform
        limiter = RateLimiter(settings)
        executor = platform.executor()
        try:
            host = service.Host(
                write=platform.write,
                read=platform.read,
                limiter=limiter,
                settings=platform.apps.settings_of("scoping"),
                wake=executor.wake,
                max_active_runs=settings.tenant_max_active_runs,
            )
            viewer = Viewer(session.tenant_id, f"cli:{session.actor.name}", session.actor.name)
            yield (
                executor,
                host,
                viewer,
                Knowledge(platform.write, platform.read, platform.embedders),
            )
        finally:
            await limiter.close()


async def _resolve(host: service.Host, viewer: Viewer, prefix: str) -> str:
    async def work(conn: Conn) -> list[dict[str, Any]]:
        return await sessions.page(conn, viewer, limit=1000, archived=None)

    matches = [str(row["id"]) for row in await host.read(work) if row["id"].startswith(prefix)]
    if len(matches) != 1:
        raise NotFound(
            f"no session '{prefix}'" if not matches else f"'{prefix}' names several sessions"
        )
    return matches[0]


@commands.command("new")
def new(title: str, as_json: JsonFlag = False, tenant: TenantOpt = None) -> None:
    """Open a new session titled TITLE."""

    async def main() -> int:
        async with _opened(tenant) as (_, host, viewer):
            row = await host.write(lambda conn: sessions.create(conn, viewer, title, host.now()))
        if as_json:
            dump({"id": row["id"], "title": row["title"]})
        else:
            console.print(f"session {row['id']}: {row['title']}", highlight=False)
            console.print(f"answer its questions with: batonflow scoping answer {row['id'][:13]}")
        return 0

    raise typer.Exit(run(main()))


@commands.command("list")
def list_sessions(
    search: Annotated[
        str | None, typer.Option("--search", "-q", help="Words of the title.")
    ] = None,
    as_json: JsonFlag = False,
    tenant: TenantOpt = None,
) -> None:
    """Your sessions, newest first."""

    async def main() -> int:
        async with _opened(tenant) as (_, host, viewer):
            rows = await host.read(
                lambda conn: sessions.page(conn, viewer, limit=200, search=search)
            )
        if as_json:
            dump(
                [{"id": r["id"], "title": r["title"], "created_at": r["created_at"]} for r in rows]
            )
            return 0
        table = display.table("id", "title", "created")
        for r in rows:
            table.add_row(r["id"], r["title"], display.ago(r["created_at"]))
        console.print(table)
        return 0

    raise typer.Exit(run(main()))


@commands.command("show")
def show(session_id: SessionArg, as_json: JsonFlag = False, tenant: TenantOpt = None) -> None:
    """A session's stages and progress."""

    async def main() -> int:
        async with _opened(tenant) as (_, host, viewer):
            found = await service.view(host, viewer, await _resolve(host, viewer, session_id))
        if as_json:
            dump(found)
            return 0
        console.print(f"{found['title']} ({found['progress']}%)", highlight=False)
        for stage in found["stages"]:
            console.print(f"  {stage['number']}. {stage['title']}: {stage['status']}")
        return 0

    raise typer.Exit(run(main()))


@commands.command("attach")
def attach(
    session_id: SessionArg,
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="Text, Markdown, HTML or PDF.")
    ],
    title: Annotated[str, typer.Option("--title", help="Its title (default: its name).")] = "",
    as_json: JsonFlag = False,
    tenant: TenantOpt = None,
) -> None:
    """Attach a document to a session: its questions and analyses draw on it once indexed
    (which this command waits for)."""

    async def main() -> int:
        async with _opened_with(tenant) as (executor, host, viewer, knowledge):
            sid = await _resolve(host, viewer, session_id)
            document, changed = await documents.attach(
                host,
                knowledge,
                viewer,
                sid,
                file.name,
                file.read_bytes(),
                fmt=detect_format(file.name),
                title=title,
            )
            if changed and document["run_id"]:
                with console.status(f"indexing {file.name}..."):
                    await executor.drain([document["run_id"]])
            _, rows = await documents.listing(host, viewer, sid)
        found = next(row for row in rows if row["id"] == document["id"])
        keep = ("id", "source", "title", "format", "status", "chunk_count", "error")
        if as_json:
            dump({key: found[key] for key in keep})
        else:
            state = found["status"] if found["status"] != "failed" else f"failed: {found['error']}"
            console.print(
                f"{found['source']} attached to {sid[:13]}: {state}, {found['chunk_count']} chunks",
                highlight=False,
            )
        return 0 if found["status"] == "ready" else 1

    raise typer.Exit(run(main()))


def _show_analysis(stage: dict[str, Any]) -> None:
    analysis = stage["analysis"]
    console.print(f"[green]stage {stage['number']} analysed[/green]: {analysis['summary']}")
    for gap in analysis["gaps"]:
        console.print(f"  gap: {gap}", highlight=False)
    covered = [c["item"] for c in analysis["coverage"] if c["covered"]]
    console.print(f"  covered: {', '.join(covered) or 'nothing yet'}", highlight=False)


def _ask(question: dict[str, Any]) -> str:
    console.print(f"\n[bold]{question['text']}[/bold]", highlight=False)
    default = None
    for index, choice in enumerate(question["choices"], 1):
        mark = " (recommended)" if choice == question["recommended"] else ""
        console.print(f"  {index}. {choice}{mark}", highlight=False)
        if mark:
            default = str(index)
    hint = "a number or your own words" if question["choices"] else "your answer"
    return Prompt.ask(f"{hint}; s skips, d finishes the stage, q quits", default=default) or ""


async def _step(host: service.Host, viewer: Viewer, sid: str, executor_wait: Any) -> bool:
    """Do what the session needs next at the terminal; False when there is nothing left."""
    found = await service.view(host, viewer, sid)
    if found["running"] is not None:
        await executor_wait(found["running"]["run_id"])
        return True
    stage = next((s for s in found["stages"] if s["status"] != "analysed"), None)
    if stage is None:
        _show_analysis(found["stages"][-1])
        console.print(
            f"all five stages are analysed; write the charter with: "
            f"batonflow scoping charter {sid[:13]} --write"
        )
        return False
    n, status = stage["number"], stage["status"]
    if status == "locked":
        previous = found["stages"][n - 2]
        _show_analysis(previous)
        console.print(f"\n[bold]stage {n}: {stage['title']}[/bold]")
        await actions.open_stage(host, viewer, sid, n)
    elif status == "answering":
        question = next(q for q in stage["questions"] if q["id"] == stage["pending_question_id"])
        said = _ask(question).strip()
        if said.lower() == "q":
            return False
        if said.lower() == "d":
            await actions.done(host, viewer, sid, n)
        elif said.lower() == "s":
            await actions.answer(host, viewer, sid, n, question["id"], None)
        else:
            if said.isdigit() and 1 <= int(said) <= len(question["choices"]):
                said = question["choices"][int(said) - 1]
            await actions.answer(host, viewer, sid, n, question["id"], said or None)
    elif status == "ready":
        console.print(f"stage {n} has no more questions; analysing it")
        await actions.done(host, viewer, sid, n)
    else:  # waiting, failed or stale: run again what it waits for
        if stage["execution"] and stage["execution"]["error"]:
            console.print(f"[red]the last run failed[/red]: {stage['execution']['error']}")
        await actions.resume(host, viewer, sid, n)
    return True


@commands.command("answer")
def answer(
    session_id: Annotated[
        str | None, typer.Argument(help="A session (default: your newest).")
    ] = None,
    tenant: TenantOpt = None,
) -> None:
    """Work through a session's stages at the terminal: each question as it is asked (a number
    picks a choice, anything else is your answer), each stage's analysis as it is written."""

    async def main() -> int:
        async with _opened(tenant) as (executor, host, viewer):

            async def wait(run_id: str) -> None:
                with console.status("the agent is working..."):
                    await executor.drain([run_id])

            if session_id is None:
                rows = await host.read(lambda conn: sessions.page(conn, viewer, limit=1))
                if not rows:
                    raise NotFound('no session yet; start one with: batonflow scoping new "title"')
                sid = rows[0]["id"]
            else:
                sid = await _resolve(host, viewer, session_id)
            found = await service.view(host, viewer, sid)
            console.print(f"[bold]{found['title']}[/bold]", highlight=False)
            while await _step(host, viewer, sid, wait):
                pass
        return 0

    raise typer.Exit(run(main()))


@commands.command("charter")
def charter(
    session_id: SessionArg,
    format: Annotated[str, typer.Option("--format", "-f", help="md or pdf.")] = "md",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file.")
    ] = None,
    write: Annotated[bool, typer.Option("--write", help="Write a new version first.")] = False,
    version: Annotated[
        int | None, typer.Option("--version", help="A version (default: newest).")
    ] = None,
    tenant: TenantOpt = None,
) -> None:
    """Print (or save) a session's charter as Markdown or PDF; --write writes a new version."""
    if format not in ("md", "pdf"):
        raise typer.BadParameter("--format is md or pdf")

    async def main() -> int:
        async with _opened(tenant) as (executor, host, viewer):
            sid = await _resolve(host, viewer, session_id)
            if write:
                run_id = await actions.write_charter(host, viewer, sid)
                with console.status("writing the charter..."):
                    await executor.drain([run_id])
                await service.sync(host, viewer.tenant_id, sid)

            async def work(conn: Conn) -> dict[str, Any]:
                await sessions.find(conn, viewer, sid)
                return await charter_store.get(conn, viewer.tenant_id, sid, version)

            row = await host.read(work)
        body = Charter.model_validate(row["body"])
        if format == "md":
            data = markdown(body, version=row["version"]).encode()
        else:
            data = render(body, version=row["version"])
        if output is not None:
            output.write_bytes(data)
            console.print(f"wrote version {row['version']} to {output}", highlight=False)
        elif format == "pdf" and sys.stdout.isatty():
            raise InvalidInput("a PDF goes to a file: add --output charter.pdf")
        else:
            sys.stdout.buffer.write(data)
            sys.stdout.flush()
        return 0

    raise typer.Exit(run(main()))
