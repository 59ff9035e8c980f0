"""Live progress of a run in the terminal: one line per step with status, attempt and duration;
while a model generates for a step, its line shows the newest text as it streams."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from batonflow.cli import display
from batonflow.events.bus import EventBus
from batonflow.events.contracts import StoredEvent

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
