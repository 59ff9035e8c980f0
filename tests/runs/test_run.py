"""Run and step states: the complete table of legal run transitions."""

from __future__ import annotations

import itertools

import pytest

from batonflow.errors import Conflict, IllegalTransition
from batonflow.runs.run import (
    RUN_TRANSITIONS,
    AttemptStatus,
    RunStatus,
    StepStatus,
    check_run_transition,
    idempotency_key,
)

Q, R, W = RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.WAITING
S, F, D, C = RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.DEAD, RunStatus.CANCELLED

# Written out by hand from the diagram in runs/run.py, not derived from RUN_TRANSITIONS.
LEGAL = {
    (Q, R),
    (Q, C),
    (R, W),
    (R, S),
    (R, F),
    (R, D),
    (R, C),
    (W, R),
    (W, C),
    (F, R),
    (D, R),
    (D, C),  # dismissed from the dead-letter list
}
ALL_PAIRS = list(itertools.product(RunStatus, RunStatus))


def pair_id(pair: tuple[RunStatus, RunStatus]) -> str:
    return f"{pair[0]}->{pair[1]}"


def test_the_table_covers_every_status() -> None:
    assert set(RUN_TRANSITIONS) == set(RunStatus)
    assert {(a, b) for a, targets in RUN_TRANSITIONS.items() for b in targets} == LEGAL


@pytest.mark.parametrize("pair", sorted(LEGAL), ids=pair_id)
def test_legal_transition(pair: tuple[RunStatus, RunStatus]) -> None:
    assert check_run_transition(*pair) is None


@pytest.mark.parametrize("pair", [p for p in ALL_PAIRS if p not in LEGAL], ids=pair_id)
def test_illegal_transition(pair: tuple[RunStatus, RunStatus]) -> None:
    current, target = pair

    with pytest.raises(IllegalTransition) as caught:
        check_run_transition(current, target)

    assert caught.value.details == {"from": current.value, "to": target.value}


def test_no_status_may_stay_where_it_is() -> None:
    assert not {(a, b) for a, b in LEGAL if a is b}
    assert len(ALL_PAIRS) - len(LEGAL) == 37


def test_illegal_transition_message_names_the_allowed_targets() -> None:
    with pytest.raises(IllegalTransition) as caught:
        check_run_transition(RunStatus.QUEUED, RunStatus.WAITING)

    error = caught.value
    assert error.message == (
        "a queued run cannot become waiting; from queued it may become cancelled, running"
    )
    assert (error.code, isinstance(error, Conflict)) == ("illegal_transition", True)


def test_illegal_transition_from_a_final_status() -> None:
    with pytest.raises(IllegalTransition) as caught:
        check_run_transition(RunStatus.SUCCEEDED, RunStatus.RUNNING)

    assert caught.value.message == (
        "a succeeded run cannot become running; from succeeded it may become nothing (it is final)"
    )


def test_terminal_run_statuses() -> None:
    assert {status for status in RunStatus if status.terminal} == {S, F, D, C}


def test_final_statuses_lead_nowhere_but_failed_and_dead_may_be_retried() -> None:
    assert {status for status in RunStatus if not RUN_TRANSITIONS[status]} == {S, C}
    assert RUN_TRANSITIONS[F] == frozenset({R})
    assert RUN_TRANSITIONS[D] == frozenset({R, C})  # retried, or dismissed


def test_step_status_done() -> None:
    assert {status for status in StepStatus if status.done} == {
        StepStatus.SUCCEEDED,
        StepStatus.SKIPPED,
    }


def test_status_values() -> None:
    assert [status.value for status in RunStatus] == [
        "queued",
        "running",
        "waiting",
        "succeeded",
        "failed",
        "dead",
        "cancelled",
    ]
    assert [status.value for status in StepStatus] == [
        "pending",
        "ready",
        "running",
        "waiting",
        "succeeded",
        "skipped",
        "failed",
        "cancelled",
    ]
    assert [status.value for status in AttemptStatus] == [
        "succeeded",
        "failed",
        "lost",
        "cancelled",
        "waiting",
    ]


def test_idempotency_key_format() -> None:
    assert idempotency_key("run_01", "send_email", 1) == "run_01:send_email:1"
    assert idempotency_key("run_01", "quotes[3]", 12) == "run_01:quotes[3]:12"


def test_idempotency_key_differs_per_attempt_and_step() -> None:
    keys = {idempotency_key("r", step, attempt) for step in ("a", "b") for attempt in (1, 2)}

    assert keys == {"r:a:1", "r:a:2", "r:b:1", "r:b:2"}
