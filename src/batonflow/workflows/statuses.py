"""The statuses of runs as this executor last saw them: updated by the events of its own commits
(at once) and by reads (`refresh`, for changes made elsewhere); a drain waits on them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from batonflow.events.contracts import StoredEvent
from batonflow.runs.run import RunStatus

SETTLED = frozenset({RunStatus.WAITING, *[s for s in RunStatus if s.terminal]})
BY_EVENT = {
    "run.started": RunStatus.RUNNING,
    "run.resumed": RunStatus.RUNNING,
    "run.waiting": RunStatus.WAITING,
    "run.succeeded": RunStatus.SUCCEEDED,
    "run.failed": RunStatus.FAILED,
    "run.dead": RunStatus.DEAD,
    "run.cancelled": RunStatus.CANCELLED,
}


class RunStatuses:
    def __init__(self) -> None:
        self._statuses: dict[str, RunStatus] = {}
        self.watchers: list[Callable[[], None]] = []  # drains waiting on statuses

    def __getitem__(self, run_id: str) -> RunStatus:
        return self._statuses[run_id]

    def settled(self, run_ids: Iterable[str]) -> bool:
        """True when every run is finished or waiting for a person."""
        return all(self._statuses.get(run_id) in SETTLED for run_id in run_ids)

    def update(self, statuses: Iterable[tuple[str, str]]) -> None:
        """Statuses as read from the database."""
        for run_id, status in statuses:
            self._statuses[run_id] = RunStatus(status)

    def observe(self, events: Sequence[StoredEvent]) -> None:
        """Statuses as committed here; the watchers look at once."""
        changed = False
        for item in events:
            status = BY_EVENT.get(item.type)
            if status is not None:
                self._statuses[item.run_id] = status
                changed = True
        if changed:
            self.notify()

    def notify(self) -> None:
        for check in list(self.watchers):
            check()
