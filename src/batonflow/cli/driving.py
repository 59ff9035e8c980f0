"""A run driven in this process: an executor works on it until it finishes or waits (with live
progress, or quietly for `--json`), then the command reports how it ended.

Exit codes: 0 the run succeeded (or still runs), 1 it failed, died or was cancelled, 3 it waits
for a person.
"""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import Awaitable, Callable
from typing import Any

from rich.markup import escape

from batonflow.cli import display
from batonflow.cli.progress import Progress, follow
from batonflow.cli.session import Session
from batonflow.cli.terminal import console, dump
from batonflow.runs.run import RunStatus
from batonflow.runs.state import RunRow
from batonflow.store import reviews as review_store
from batonflow.store import runs as run_store
from batonflow.store.db import Conn
from batonflow.store.reviews import ReviewRow
from batonflow.workflows.spec import WorkflowSpec

EXIT = {
    RunStatus.SUCCEEDED: 0,
    RunStatus.FAILED: 1,
    RunStatus.DEAD: 1,
    RunStatus.CANCELLED: 1,
    RunStatus.WAITING: 3,
    RunStatus.RUNNING: 0,
    RunStatus.QUEUED: 0,
}


async def watch(session: Session, run_id: str, as_json: bool) -> RunStatus:
    """Drive the run in this process until it finishes or waits, showing progress."""
    platform = session.platform
    executor = platform.executor()

    async def load(conn: Conn, tenant_id: str) -> tuple[Any, Any, WorkflowSpec]:
        steps = await run_store.list_steps(conn, tenant_id, run_id)
        events = await run_store.list_events(conn, tenant_id, run_id)
        run = await run_store.get_run(conn, tenant_id, run_id)
        return steps, events, await platform.specs.get(conn, tenant_id, run.workflow_version_pk)

    steps, events, spec = await session.read(load)
    order = {step.id: index for index, step in enumerate(spec.steps)}
    progress = Progress(run_id)
    progress.seed(step["key"] for step in steps if step["parent_key"] is None)
    progress.steps = dict(sorted(progress.steps.items(), key=lambda kv: order.get(kv[0], 1 << 30)))
    for item in events:
        progress.apply(item)
    drained: asyncio.Task[dict[str, RunStatus]] = asyncio.create_task(executor.drain([run_id]))
    _on_signals(drained)
    if as_json:
        statuses = await drained
    else:
        await follow(platform.bus, progress, console, drained)
        console.print()
        statuses = drained.result()
    return statuses[run_id]


def _on_signals(task: asyncio.Task[Any]) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)


async def report(session: Session, run_id: str, status: RunStatus, as_json: bool) -> int:
    """Print how the run ended (or what it waits for) and give the command's exit code."""

    async def load(conn: Conn, tenant_id: str) -> tuple[RunRow, list[ReviewRow]]:
        run = await run_store.get_run(conn, tenant_id, run_id)
        return run, await review_store.list_reviews(conn, tenant_id, run_id=run_id)

    run, pending = await session.read(load)
    if as_json:
        dump(
            {
                "run_id": run.id,
                "status": run.status.value,
                "outputs": run.outputs,
                "error": run.error,
                "reviews": [{"id": r.id, "step": r.step_key, "kind": r.kind} for r in pending],
            }
        )
        return EXIT[run.status]
    if run.status is RunStatus.SUCCEEDED:
        console.print("[green]succeeded[/green]; outputs:")
        console.print(
            display.data(run.outputs or {}, 2), highlight=False, markup=False, soft_wrap=True
        )
    elif run.status is RunStatus.WAITING:
        for review in pending:
            verb = "approve" if review.kind == "review" else "submit"
            console.print(
                f"[magenta]waiting[/magenta] for {review.kind} of step '{review.step_key}': "
                f"batonflow reviews show {review.id}  ·  batonflow reviews {verb} {review.id}"
            )
    elif run.status.terminal:
        error = run.error or {}
        console.print(
            f"[red]{run.status}[/red] at step '{error.get('step')}': "
            f"{escape(str(error.get('code')))}: {escape(str(error.get('message')))}",
            highlight=False,
        )
        for failed in (error.get("details") or {}).get("failed_items", []):
            item_error = failed["error"]
            console.print(
                f"  item {failed['index']} ({display.one_line(json.dumps(failed['item']), 40)}), "
                f"{failed['attempts']} attempt{'' if failed['attempts'] == 1 else 's'}: "
                f"{item_error['code']}: {item_error['message']}",
                highlight=False,
                markup=False,
            )
        short = display.short_id(run.id)
        if run.status is RunStatus.DEAD:
            console.print(
                f"retry it from the failed step with: batonflow runs retry {short}  ·  "
                f"or drop it: batonflow runs dismiss {short}",
                highlight=False,
            )
    return EXIT[status]


async def act_then_watch(
    session: Session,
    act: Callable[[Conn], Awaitable[str]],
    detach: bool,
    as_json: bool,
    *,
    said: Callable[[], str] | None = None,
) -> int:
    """Commit `act` (a service call that moves a run; it gives the run's id) and print `said()`,
    then drive the run here unless `detach`."""
    run_id = await session.platform.write(act)
    if said is not None:
        console.print(said(), highlight=False)
    if detach:
        return 0
    status = await watch(session, run_id, as_json)
    return await report(session, run_id, status, as_json)


def on_run(session: Session, prefix: str, action: Callable[..., Awaitable[Any]]) -> Any:
    """A transaction that finds the run `prefix` starts (or names) and applies `action`, a run
    service call taking the run's tenant, id, actor and time as keywords; it gives the run id."""
    now = session.platform.now()

    async def act(conn: Conn) -> str:
        full = await run_store.find_run_by_prefix(conn, session.tenant_id, prefix)
        await action(conn, tenant_id=session.tenant_id, run_id=full, actor=session.actor, now=now)
        return full

    return act
