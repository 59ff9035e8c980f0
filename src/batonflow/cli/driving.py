"""A run driven in this process: an executor works on it until it finishes or waits (with live
progress, or quietly for `--json`), then the command reports how it ended. The live progress
is one line per step with status, attempt and duration; while a model generates for a step, its
line shows the newest text as it streams.

Exit codes: 0 the run succeeded (or still runs), 1 it failed, died or was cancelled, 3 it waits
for a person.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from batonflow.cli import display
from batonflow.cli.session import Session
from batonflow.cli.terminal import console, dump
from batonflow.events.bus import EventBus
from batonflow.events.contracts import StoredEvent
from batonflow.runs.run import RunStatus
from batonflow.runs.state import RunRow
from batonflow.store import reviews as review_store
from batonflow.store import runs as run_store
from batonflow.store.db import Conn
from batonflow.store.reviews import ReviewRow
from batonflow.workflows.spec import WorkflowSpec

COLOURS = {
    "pending": "grey50",
    "ready": "cyan",
    "running": "yellow",
    "waiting": "magenta",
    "succeeded": "green",
    "skipped": "grey50",
    "failed": "red",
    "retrying": "dark_orange",
    "cancelled": "red",
}


@dataclass
class StepLine:
    status: str = "pending"
    attempt: int = 0
    started: float | None = None
    duration_ms: float | None = None
    note: str = ""
    streamed: str = ""


@dataclass
class Progress:
    run_id: str
    steps: dict[str, StepLine] = field(default_factory=dict)
    run_status: str = "queued"

    def seed(self, keys: Iterable[str]) -> None:
        for key in keys:
            self.steps.setdefault(key, StepLine())

    def apply(self, item: StoredEvent) -> None:
        if item.run_id != self.run_id:
            return
        if item.type.startswith("run."):
            self.run_status = item.type.removeprefix("run.")
            return
        if item.step_key is None:
            return
        key = item.step_key.split("[", 1)[0]  # a map item's text shows on its map step
        line = self.steps.setdefault(key, StepLine())
        data = item.data
        if item.type == "llm.delta":
            if data["index"] == 0:
                line.streamed = ""  # a new call, or a retry streaming again
            line.streamed = (line.streamed + data["text"])[-200:]
            line.note = "… " + " ".join(line.streamed.split())[-60:]
            return
        if item.type == "llm.call":
            line.streamed = ""
            return
        line = self.steps.setdefault(item.step_key, StepLine())
        if item.type == "step.started":
            line.status, line.attempt, line.started = "running", data["attempt"], time.monotonic()
            line.note = ""
        elif item.type == "step.completed":
            line.status, line.duration_ms = "succeeded", data["duration_ms"]
            line.attempt = data["attempt"]
            line.note = data.get("capability") or ""
        elif item.type == "step.failed":
            line.status = "retrying" if data["retry_in"] is not None else "failed"
            line.note = data["error"]["message"][:80]
            if data["retry_in"] is not None:
                line.note = f"retry in {data['retry_in']:.1f}s: {line.note}"
        elif item.type == "step.skipped":
            line.status, line.note = "skipped", data["reason"]
        elif item.type == "step.waiting":
            line.status = "waiting"
            line.note = (
                f"review {data['review_id']}"
                if data.get("review_id")
                else f"run {data.get('child_run_id')}"
            )
        elif item.type == "step.lease_expired":
            line.status, line.note = "ready", f"lease of {data['worker']} expired"
        elif item.type == "step.overridden":
            line.status, line.note = "succeeded", f"overridden by {data['by']}"

    def table(self) -> Table:
        table = Table(
            title=f"run {self.run_id} · {self.run_status}", title_justify="left", expand=False
        )
        for column in ("step", "status", "attempt", "duration", ""):
            table.add_column(column)
        for key, line in self.steps.items():
            duration = ""
            if line.duration_ms is not None:
                duration = display.duration(line.duration_ms / 1000)
            elif line.started is not None and line.status == "running":
                duration = display.duration(time.monotonic() - line.started)
            colour = COLOURS.get(line.status, "white")
            table.add_row(
                key, f"[{colour}]{line.status}[/]", str(line.attempt or ""), duration, line.note
            )
        return table


async def follow(
    bus: EventBus, progress: Progress, console: Console, until: asyncio.Future[Any]
) -> None:
    """Redraw the table on each event until `until` is done."""
    with Live(progress.table(), console=console, refresh_per_second=8, transient=False) as live:
        async with bus.subscribe() as queue:
            while not until.done():
                getter = asyncio.ensure_future(queue.get())
                done, _ = await asyncio.wait(
                    {getter, until}, timeout=0.25, return_when=asyncio.FIRST_COMPLETED
                )
                if getter in done:
                    progress.apply(getter.result())
                    while not queue.empty():
                        progress.apply(queue.get_nowait())
                else:
                    getter.cancel()
                live.update(progress.table())
            while not queue.empty():
                progress.apply(queue.get_nowait())
            live.update(progress.table())


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
