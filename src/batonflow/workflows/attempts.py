"""A claimed attempt and what it reported: what passes between the engine, the executor and the
step handlers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(frozen=True, slots=True)
class Claim:
    """A step attempt this worker now holds a lease on."""

    run_id: str
    key: str
    tenant_id: str
    kind: str
    attempt: int
    dispatch: int
    workflow_version_pk: str
    inputs: dict[str, Any] = field(default_factory=dict)
    ctx: dict[str, Any] = field(default_factory=dict)
    private_to: str | None = None  # the user the run is private to (`runs.private_to`)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a finished attempt reports. `dispatch` is its fencing number."""

    run_id: str
    key: str
    dispatch: int
    worker: str
    status: Literal["succeeded", "failed", "waiting", "skipped", "released"]
    result: Any = None
    error: dict[str, Any] | None = None
    retryable: bool = False
    meta: dict[str, Any] = field(default_factory=dict)
    review: dict[str, Any] | None = None
    child_run: dict[str, Any] | None = None
    child_steps: tuple[dict[str, Any], ...] = ()
    parent_dispatch: int | None = None  # for map items: the map step's dispatch
    llm_calls: tuple[dict[str, Any], ...] = ()  # `llm.call` event data of the attempt's calls
    events: tuple[tuple[str, dict[str, Any]], ...] = ()  # more (type, data) of the attempt
    args: dict[str, Any] | None = None  # what the step's templates resolved to


@dataclass(frozen=True, slots=True)
class Wake:
    """A ready step announced on a queue: the claim it asks for is `dispatch` (its next)."""

    tenant_id: str
    run_id: str
    key: str
    dispatch: int
    queue: str
    traceparent: str | None = None  # the run's trace context, carried in the message's headers
