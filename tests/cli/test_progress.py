"""The live progress table follows a run's events, including a model's streamed text."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from batonflow.cli.driving import Progress, StepLine
from batonflow.events.contracts import StoredEvent


def ev(type_: str, key: str | None, **data: Any) -> StoredEvent:
    return StoredEvent(None, type_, 1, "t", "run-1", 0, key, data, datetime.now(UTC))


def test_streamed_text_shows_on_the_steps_line_until_the_call_ends() -> None:
    progress = Progress("run-1")
    progress.seed(["rate"])
    progress.apply(ev("run.started", None))
    progress.apply(
        ev("step.started", "rate", attempt=1, dispatch=1, worker="w", idempotency_key="k")
    )
    for index, text in enumerate(["The lead ", "looks\n", "good"]):
        progress.apply(
            ev("llm.delta", "rate", call_id="c", model="local:smollm2", index=index, text=text)
        )
    line = progress.steps["rate"]
    assert (line.status, line.note) == ("running", "… The lead looks good")

    progress.apply(ev("llm.call", "rate", call_id="c"))
    progress.apply(
        ev("step.completed", "rate", attempt=1, duration_ms=12.5, capability="local:smollm2")
    )
    assert progress.steps["rate"] == StepLine(
        status="succeeded", attempt=1, started=line.started, duration_ms=12.5, note="local:smollm2"
    )
    assert progress.run_status == "started"


def test_events_of_other_runs_are_ignored() -> None:
    progress = Progress("run-2")
    progress.apply(ev("step.started", "rate", attempt=1))
    assert progress.steps == {}
