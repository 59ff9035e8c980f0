"""A run's state as plain data: the rows the engine moves (`RunRow`, `StepRow`), and `Changes`,
everything else a transition decided, which the store (`store/run_tx.py`) persists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from batonflow.events.contracts import NewEvent
from batonflow.runs.run import RunStatus, StepStatus


@dataclass(slots=True)
class RunRow:
    id: str
    tenant_id: str
    status: RunStatus
    event_seq: int
    workflow_version_pk: str
    workflow_id: str
    workflow_version: str
    inputs: dict[str, Any]
    ctx: dict[str, Any]
    outputs: dict[str, Any] | None
    error: dict[str, Any] | None
    parent_run_id: str | None
    parent_step_key: str | None
    parent_attempt: int | None
    started_at: datetime | None
    finished_at: datetime | None
    updated_at: datetime
    private_to: str | None = None  # the user it is private to (`runs.private_to`); set once


@dataclass(slots=True)
class StepRow:
    run_id: str
    key: str
    tenant_id: str
    kind: str
    parent_key: str | None
    item_index: int | None
    status: StepStatus
    attempt: int
    dispatch: int
    lost: int
    available_at: datetime | None
    lease_owner: str | None
    lease_expires_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    error: dict[str, Any] | None
    exhausted: bool
    overridden_by: str | None = None
    override_reason: str | None = None


@dataclass(frozen=True, slots=True)
class ClosedReviews:
    """Pending reviews to close: the run's (`step_key` None) or one step's."""

    tenant_id: str
    run_id: str
    step_key: str | None
    status: str  # "cancelled" or "overridden"
    by: str


@dataclass(slots=True)
class Changes:
    """What a transition decided, besides moving the rows it was given."""

    events: list[NewEvent] = field(default_factory=list)
    attempts: list[dict[str, Any]] = field(default_factory=list)
    results: dict[tuple[str, str], Any] = field(default_factory=dict)  # (run id, key) -> result
    new_runs: list[dict[str, Any]] = field(default_factory=list)
    new_steps: list[dict[str, Any]] = field(default_factory=list)
    reviews: list[dict[str, Any]] = field(default_factory=list)  # opened
    closed_reviews: list[ClosedReviews] = field(default_factory=list)
    steps: set[tuple[str, str]] = field(default_factory=set)  # (run id, key) of changed steps
    runs: set[str] = field(default_factory=set)  # ids of changed runs
