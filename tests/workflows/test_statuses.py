"""Run statuses as an executor sees them: from its own commits' events at once, from reads for
changes made elsewhere; a drain's watchers look whenever one changes."""

from __future__ import annotations

from datetime import UTC, datetime

from batonflow.events.contracts import StoredEvent
from batonflow.runs.run import RunStatus
from batonflow.workflows.statuses import RunStatuses


def committed(type_: str, run_id: str) -> StoredEvent:
    return StoredEvent(1, type_, 1, "tenant-1", run_id, 1, None, {}, datetime.now(UTC))


def test_committed_events_and_reads_update_statuses_and_wake_the_watchers() -> None:
    statuses = RunStatuses()
    looked: list[bool] = []
    statuses.watchers.append(lambda: looked.append(statuses.settled(["a", "b"])))
    statuses.observe([committed("run.started", "a"), committed("step.completed", "a")])
    statuses.observe([committed("step.completed", "a")])  # no run changed: nobody looks
    statuses.update([("b", "waiting")])
    statuses.observe([committed("run.succeeded", "a")])
    assert (looked, statuses["a"], statuses["b"]) == (
        [False, True],
        RunStatus.SUCCEEDED,
        RunStatus.WAITING,
    )
