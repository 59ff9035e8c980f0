"""`batonflow runs`: list (and the dead-letter list), show, cancel, retry, override, dismiss;
`calls` lives in cli/llm.py and `batonflow run` in cli/workflows.py."""

from __future__ import annotations

import functools
import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from batonflow.cli import display
from batonflow.cli import llm as llm_commands
from batonflow.cli.terminal import JsonFlag, TenantOpt, console, dump, fail, settings_for
from batonflow.cli.terminal import run as run_command
from batonflow.errors import InvalidInput
from batonflow.runs.run import RunStatus

if TYPE_CHECKING:
    from batonflow.runs.state import RunRow
    from batonflow.store.db import Conn

runs_app = typer.Typer(no_args_is_help=True, help="Inspect and operate runs.")
runs_app.command("calls")(llm_commands.runs_calls)


def _seconds(run: RunRow) -> float | None:
    if run.started_at and run.finished_at:
        return round((run.finished_at - run.started_at).total_seconds(), 3)
    return None


def _run_summary(run: RunRow) -> dict[str, Any]:
    return {
        "id": run.id,
        "workflow": f"{run.workflow_id}@{run.workflow_version}",
        "status": run.status.value,
        "started_at": display.when(run.started_at),
        "finished_at": display.when(run.finished_at),
        "duration_s": _seconds(run),
    }


def _dead_letter(run: RunRow, attempts: int | None) -> dict[str, Any]:
    """What the dead-letter list shows of a run: where it stopped, after how many attempts,
    and the last attempt's error."""
    error = run.error or {}
    return {
        **_run_summary(run),
        "failed_step": error.get("step"),
        "attempts": attempts,
        "error": {k: error[k] for k in ("code", "message", "details") if k in error} or None,
    }


@runs_app.command("list")
def runs_list(
    status: Annotated[
        list[str] | None, typer.Option(help="Only runs in this status (repeat).")
    ] = None,
    workflow: Annotated[str | None, typer.Option(help="Only runs of this workflow id.")] = None,
    dead: Annotated[
        bool,
        typer.Option(
            "--dead", help="The dead-letter list: the failed step, its attempts, the last error."
        ),
    ] = False,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    as_json: JsonFlag = False,
    tenant: TenantOpt = None,
) -> None:
    """List runs, newest first. Times are UTC; ids are shown by their last 12 characters,
    which every command accepts."""
    wanted = list(status or []) + (["dead"] if dead else [])
    for item in wanted:
        if item not in RunStatus.__members__.values():
            fail(
                InvalidInput(
                    f"unknown status '{item}'; use one of {', '.join(s.value for s in RunStatus)}"
                )
            )
    from batonflow.cli.session import open_session
    from batonflow.store import runs as run_store

    async def main() -> int:
        async def load(conn: Conn, tenant_id: str) -> tuple[list[RunRow], dict[str, int]]:
            rows = await run_store.list_runs(
                conn, tenant_id, status=wanted, workflow_id=workflow, limit=limit
            )
            failed = [(row.id, step) for row in rows if (step := _failed_step(row))]
            return rows, await run_store.step_attempts(conn, tenant_id, failed)

        async with open_session(settings_for(tenant)) as session:
            rows, attempts = await session.read(load)
        if dead:
            _print_dead([_dead_letter(row, attempts.get(row.id)) for row in rows], as_json)
            return 0
        if as_json:
            dump([_run_summary(row) for row in rows])
            return 0
        if not rows:
            empty = "no runs match" if wanted or workflow else "no runs yet"
            console.print(f"{empty}; start one with: batonflow run <workflow>", highlight=False)
            return 0
        table = display.table("id", "workflow", "status", "started", "duration")
        for row in rows:
            table.add_row(
                display.short_id(row.id),
                f"{row.workflow_id}@{row.workflow_version}",
                row.status.value,
                display.ago(row.started_at),
                display.duration(_seconds(row)),
            )
        console.print(table)
        return 0

    raise typer.Exit(run_command(main()))


def _failed_step(run: RunRow) -> str | None:
    """The step a failed or dead run stopped at."""
    if run.status not in (RunStatus.FAILED, RunStatus.DEAD) or not run.error:
        return None
    step = run.error.get("step")
    return step if isinstance(step, str) else None


def _print_dead(items: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        dump(items)
        return
    if not items:
        console.print("the dead-letter list is empty", highlight=False)
        return
    for item in items:
        error = item["error"] or {}
        console.print(
            f"[bold]{display.short_id(item['id'])}[/bold]  {item['workflow']}  "
            f"died {display.ago(display.parse(item['finished_at']))}",
            highlight=False,
        )
        console.print(
            f"  step '{item['failed_step']}' after {item['attempts']} attempt"
            f"{'' if item['attempts'] == 1 else 's'}; last: {error.get('code')}: "
            f"{error.get('message')}",
            highlight=False,
            markup=False,
        )
    console.print(
        "retry one with: batonflow runs retry <id>  ·  drop it with: batonflow runs dismiss <id>",
        highlight=False,
    )


@runs_app.command("show")
def runs_show(run_id: str, as_json: JsonFlag = False, tenant: TenantOpt = None) -> None:
    """A run with its steps, attempts (worker, duration, error) and outputs."""
    from batonflow.cli.session import open_session
    from batonflow.store import runs as run_store

    async def main() -> int:
        async def load(conn: Conn, tenant_id: str) -> tuple[RunRow, list[Any], list[Any]]:
            full = await run_store.find_run_by_prefix(conn, tenant_id, run_id)
            run = await run_store.get_run(conn, tenant_id, full)
            steps = await run_store.list_steps(conn, tenant_id, full)
            return run, steps, await run_store.list_attempts(conn, tenant_id, full)

        async with open_session(settings_for(tenant)) as session:
            run, steps, attempts = await session.read(load)
        data = _run_view(run, steps, attempts)
        if as_json:
            dump(data)
        else:
            _print_run(run, data)
        return 0

    raise typer.Exit(run_command(main()))


STEP_FIELDS = tuple("key kind status attempt result error overridden_by override_reason".split())


def _run_view(run: RunRow, steps: list[Any], attempts: list[Any]) -> dict[str, Any]:
    return {
        **_run_summary(run),
        "inputs": run.inputs,
        "outputs": run.outputs,
        "error": run.error,
        "steps": [{k: step[k] for k in STEP_FIELDS} for step in steps],
        "attempts": [
            {
                "step": a["step_key"],
                "attempt": a["attempt"],
                "dispatch": a["dispatch"],
                "status": a["status"],
                "worker": a["worker"],
                "started_at": display.when(a["started_at"]),
                "duration_ms": a["duration_ms"],
                "error": a["error"],
            }
            for a in attempts
        ],
    }


def _print_run(run: RunRow, data: dict[str, Any]) -> None:
    took = display.duration(data["duration_s"])
    console.print(
        f"run {run.id}\n{data['workflow']} · [bold]{run.status}[/bold]"
        + (f" · started {data['started_at']}" if data["started_at"] else "")
        + (f" · took {took}" if took else ""),
        highlight=False,
    )
    if run.error:
        console.print(
            f"error at step '{run.error.get('step')}': {run.error.get('code')}: "
            f"{run.error.get('message')}",
            highlight=False,
            markup=False,
        )
    steps = display.table("step", "kind", "status", "tries", "result / error", title="steps")
    for step in _in_order(data["steps"]):
        detail = step["error"]["message"] if step["error"] else display.one_line(step["result"])
        if step["overridden_by"]:
            detail = f"set by {step['overridden_by']} ({step['override_reason']}): {detail}"
        steps.add_row(step["key"], step["kind"], step["status"], str(step["attempt"]), detail)
    console.print(steps)
    if data["attempts"]:
        tries = display.table("step", "try", "status", "worker", "took", "error", title="attempts")
        for item in data["attempts"]:
            error = item["error"] or {}
            tries.add_row(
                item["step"],
                str(item["attempt"]),
                item["status"],
                item["worker"],
                display.duration(item["duration_ms"] / 1000),
                f"{error['code']}: {error['message']}" if error else "",
            )
        console.print(tries)
    if run.outputs is not None:
        console.print("outputs:")
        console.print(display.data(run.outputs, 2), highlight=False, markup=False, soft_wrap=True)


def _in_order(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The run's steps as stored, each map's items right after their map, by index."""
    items: dict[str, list[dict[str, Any]]] = {}
    top = []
    for step in steps:
        parent, bracket, _ = step["key"].rpartition("[")
        if bracket and parent:
            items.setdefault(parent, []).append(step)
        else:
            top.append(step)
    ordered = []
    for step in top:
        ordered.append(step)
        ordered += sorted(
            items.pop(step["key"], []), key=lambda s: int(s["key"][:-1].rpartition("[")[2])
        )
    return ordered + [step for rest in items.values() for step in rest]


@runs_app.command("cancel")
def runs_cancel(
    run_id: str,
    reason: Annotated[str, typer.Option(help="Why (kept in the run's events).")] = "",
    tenant: TenantOpt = None,
) -> None:
    """Cancel a queued, running or waiting run."""
    from batonflow.cli.driving import on_run
    from batonflow.cli.session import open_session
    from batonflow.runs import service as run_service

    async def main() -> int:
        async with open_session(settings_for(tenant)) as session:
            cancel = functools.partial(run_service.cancel_run, reason=reason)
            full = await session.platform.write(on_run(session, run_id, cancel))
            console.print(f"run {full} cancelled")
        return 0

    raise typer.Exit(run_command(main()))


@runs_app.command("retry")
def runs_retry(
    run_id: str,
    detach: Annotated[bool, typer.Option(help="Leave the run to a worker.")] = False,
    as_json: JsonFlag = False,
    tenant: TenantOpt = None,
) -> None:
    """Retry a failed or dead run from its failed step."""
    from batonflow.cli.driving import act_then_watch, on_run
    from batonflow.cli.session import open_session
    from batonflow.runs import service as run_service

    async def main() -> int:
        async with open_session(settings_for(tenant)) as session:
            retry = functools.partial(run_service.retry_run, specs=session.platform.specs)
            return await act_then_watch(session, on_run(session, run_id, retry), detach, as_json)

    raise typer.Exit(run_command(main()))


@runs_app.command("override")
def runs_override(
    run_id: str,
    step: str,
    output: Annotated[str, typer.Option(help="The step's output as JSON.")],
    reason: Annotated[str, typer.Option(help="Why the output is set by hand.")],
    detach: Annotated[bool, typer.Option(help="Leave the run to a worker.")] = False,
    as_json: JsonFlag = False,
    tenant: TenantOpt = None,
) -> None:
    """Set a step's output by hand (recorded with who and why), then continue the run."""
    try:
        value = json.loads(output)
    except json.JSONDecodeError as exc:
        fail(InvalidInput(f"--output is not JSON: {exc.msg} at column {exc.colno}"))
    from batonflow.cli.driving import act_then_watch, on_run
    from batonflow.cli.session import open_session
    from batonflow.runs import service as run_service

    async def main() -> int:
        async with open_session(settings_for(tenant)) as session:
            override = functools.partial(
                run_service.override_step,
                specs=session.platform.specs,
                step_key=step,
                output=value,
                reason=reason,
            )
            return await act_then_watch(session, on_run(session, run_id, override), detach, as_json)

    raise typer.Exit(run_command(main()))


@runs_app.command("dismiss")
def runs_dismiss(
    run_id: str,
    reason: Annotated[str, typer.Option(help="Why it is not retried (kept in its events).")] = "",
    tenant: TenantOpt = None,
) -> None:
    """Take a dead run off the dead-letter list without retrying it (it becomes cancelled;
    its error and attempts are kept)."""
    from batonflow.cli.driving import on_run
    from batonflow.cli.session import open_session
    from batonflow.runs import service as run_service

    async def main() -> int:
        async with open_session(settings_for(tenant)) as session:
            dismiss = functools.partial(run_service.dismiss_run, reason=reason)
            full = await session.platform.write(on_run(session, run_id, dismiss))
            console.print(f"run {full} dismissed (cancelled)", highlight=False)
        return 0

    raise typer.Exit(run_command(main()))
