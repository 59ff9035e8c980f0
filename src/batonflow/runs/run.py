"""Run and step states, and the only legal moves between them.

    queued ──> running <──> waiting
      │          │  │          │
      │          │  └──> succeeded | failed | dead ──(dismissed)──┐
      └──────────┴──────────┴──> cancelled <──────────────────────┘

`dead` is a run whose step exhausted its retries (the dead-letter list); `failed` is a run whose
step failed without a retry left to try (a rejected review, invalid args). Both may be retried,
which returns them to `running`; a dead run an operator will not retry is dismissed, which
cancels it (its error and attempts are kept).

A step moves along `STEP_TRANSITIONS`:

    pending ──> ready ──> running ──> succeeded | skipped
       │          ^          │  │
       │          └──────────┘  ├──> waiting ──> succeeded | failed | ready
       │      (retry, lease     └──> failed ──> pending (run retried)
       │       lost, released)
       └──> skipped       any open step ──> cancelled ──> pending (run retried)

An operator's override settles any unfinished step as `succeeded`. The workflows engine
(`workflows/transitions.py`) is the only code that moves a step; every move is checked here.
"""

from __future__ import annotations

from collections.abc import Collection
from enum import StrEnum

from batonflow.errors import IllegalTransition


class RunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    WAITING = "waiting"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    DEAD = "dead"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in _TERMINAL_RUN


_TERMINAL_RUN = frozenset(
    {RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.DEAD, RunStatus.CANCELLED}
)

RUN_TRANSITIONS: dict[RunStatus, frozenset[RunStatus]] = {
    RunStatus.QUEUED: frozenset({RunStatus.RUNNING, RunStatus.CANCELLED}),
    RunStatus.RUNNING: frozenset(
        {
            RunStatus.WAITING,
            RunStatus.SUCCEEDED,
            RunStatus.FAILED,
            RunStatus.DEAD,
            RunStatus.CANCELLED,
        }
    ),
    RunStatus.WAITING: frozenset({RunStatus.RUNNING, RunStatus.CANCELLED}),
    RunStatus.SUCCEEDED: frozenset(),
    RunStatus.FAILED: frozenset({RunStatus.RUNNING}),
    RunStatus.DEAD: frozenset({RunStatus.RUNNING, RunStatus.CANCELLED}),
    RunStatus.CANCELLED: frozenset(),
}


def check_run_transition(current: RunStatus, target: RunStatus) -> None:
    if target not in RUN_TRANSITIONS[current]:
        allowed = ", ".join(sorted(RUN_TRANSITIONS[current])) or "nothing (it is final)"
        raise IllegalTransition(
            f"a {current} run cannot become {target}; from {current} it may become {allowed}",
            details={"from": current.value, "to": target.value},
        )


class StepStatus(StrEnum):
    PENDING = "pending"  # waiting for its needs
    READY = "ready"  # queued for a worker (maybe not before `available_at`)
    RUNNING = "running"  # a worker holds a lease on the current attempt
    WAITING = "waiting"  # a person (review, input) or a sub-workflow must act
    SUCCEEDED = "succeeded"
    SKIPPED = "skipped"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def done(self) -> bool:
        return self in (StepStatus.SUCCEEDED, StepStatus.SKIPPED)


_OVERRIDE = StepStatus.SUCCEEDED  # an operator may settle any unfinished step by hand

STEP_TRANSITIONS: dict[StepStatus, frozenset[StepStatus]] = {
    StepStatus.PENDING: frozenset(
        {StepStatus.READY, StepStatus.SKIPPED, StepStatus.CANCELLED, _OVERRIDE}
    ),
    StepStatus.READY: frozenset({StepStatus.RUNNING, StepStatus.CANCELLED, _OVERRIDE}),
    StepStatus.RUNNING: frozenset(
        {
            StepStatus.SUCCEEDED,
            StepStatus.SKIPPED,
            StepStatus.FAILED,
            StepStatus.READY,  # a retry, a lost lease, or a worker handing the attempt back
            StepStatus.WAITING,
            StepStatus.CANCELLED,
        }
    ),
    StepStatus.WAITING: frozenset(
        {StepStatus.SUCCEEDED, StepStatus.FAILED, StepStatus.READY, StepStatus.CANCELLED}
    ),
    # `running` again is a map item's next attempt; `pending` is the run retried.
    StepStatus.FAILED: frozenset({StepStatus.PENDING, StepStatus.RUNNING, _OVERRIDE}),
    StepStatus.CANCELLED: frozenset({StepStatus.PENDING, _OVERRIDE}),
    StepStatus.SUCCEEDED: frozenset(),
    StepStatus.SKIPPED: frozenset(),
}


def check_step_transition(key: str, current: StepStatus, target: StepStatus) -> None:
    if target not in STEP_TRANSITIONS[current]:
        allowed = ", ".join(sorted(STEP_TRANSITIONS[current])) or "nothing (it is final)"
        raise IllegalTransition(
            f"step '{key}' is {current} and cannot become {target}; "
            f"from {current} it may become {allowed}",
            details={"step": key, "from": current.value, "to": target.value},
        )


class AttemptStatus(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    LOST = "lost"  # the lease expired: the worker died or stalled
    CANCELLED = "cancelled"
    WAITING = "waiting"  # handed to a person or a sub-workflow


def idempotency_key(run_id: str, step_key: str, attempt: int) -> str:
    """The key an attempt's side effects are applied under.

    `attempt` is the logical attempt: it grows when an attempt *fails* and the retry policy tries
    again. When a worker dies mid-attempt, the reaper dispatches the *same* attempt again under a
    new fencing number (`dispatch`), so an effect the dead worker already applied keeps its key and
    is not applied twice.
    """
    return f"{run_id}:{step_key}:{attempt}"


def run_viewer(user_id: str | None, roles: Collection[str]) -> str | None:
    """Whom someone reads runs as: None for a tenant admin (the CLI acts as one), who sees every
    run of the tenant; anyone else as their id, so a run private to another user
    (`runs.private_to`) is not there for them."""
    return None if "admin" in roles else user_id or ""


def reads_as(private_to: str | None) -> str:
    """Whom a run reads as (a viewer, for what it searches): the user it is private to, else
    nobody in particular (""), who sees only what is private to nobody."""
    return private_to or ""


def sees(viewer: str | None, private_to: str | None) -> bool:
    """Whether `viewer` (`run_viewer`) may see a run private to `private_to` (None: to nobody)."""
    return viewer is None or private_to is None or private_to == viewer
