"""The engine's transitions without a database: rows and outcomes in, moved rows and the
recorded changes (events, attempt records, claims, new runs and reviews) out."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from batonflow.errors import IllegalTransition
from batonflow.events.contracts import NewEvent, event
from batonflow.runs.run import STEP_TRANSITIONS, RunStatus, StepStatus
from batonflow.runs.state import Changes, ClosedReviews, RunRow, StepRow
from batonflow.workflows.attempts import Claim, Outcome
from batonflow.workflows.moves import Moves
from batonflow.workflows.spec import WorkflowSpec, load_spec
from batonflow.workflows.transitions import Settle, Transition

PENDING, READY, RUNNING, WAITING = (
    StepStatus.PENDING,
    StepStatus.READY,
    StepStatus.RUNNING,
    StepStatus.WAITING,
)
SUCCEEDED, SKIPPED, FAILED, CANCELLED = (
    StepStatus.SUCCEEDED,
    StepStatus.SKIPPED,
    StepStatus.FAILED,
    StepStatus.CANCELLED,
)
NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
STARTED = NOW - timedelta(seconds=2)
LEASE_END = NOW + timedelta(seconds=28)

# `a` retries up to 3 attempts after 2 s, then 6 s (x 1.25 at rand 0.75 with jitter 0.5).
LINEAR = load_spec(
    """
id: w
version: "1"
steps:
  - id: a
    kind: agent
    capability: demo.noop
    retry: {max_attempts: 3, backoff: {initial: 2, multiplier: 3, jitter: 0.5}}
  - {id: b, kind: agent, capability: demo.noop, needs: [a]}
outputs: {answer: "{{ state.b.value }}"}
""",
    "linear.yaml",
)
SPECS: dict[str, WorkflowSpec] = {"v1": LINEAR}


def run_row(run_id: str = "r1", status: RunStatus = RunStatus.RUNNING, **fields: Any) -> RunRow:
    values: dict[str, Any] = {
        "id": run_id,
        "tenant_id": "t1",
        "status": status,
        "event_seq": 3,
        "workflow_version_pk": "v1",
        "workflow_id": "w",
        "workflow_version": "1",
        "inputs": {},
        "ctx": {},
        "outputs": None,
        "error": None,
        "parent_run_id": None,
        "parent_step_key": None,
        "parent_attempt": None,
        "started_at": STARTED,
        "finished_at": None,
        "updated_at": STARTED,
    }
    return RunRow(**(values | fields))


def step_row(key: str, status: StepStatus = PENDING, **fields: Any) -> StepRow:
    values: dict[str, Any] = {
        "run_id": "r1",
        "key": key,
        "tenant_id": "t1",
        "kind": "agent",
        "parent_key": None,
        "item_index": None,
        "status": status,
        "attempt": 0,
        "dispatch": 0,
        "lost": 0,
        "available_at": None,
        "lease_owner": None,
        "lease_expires_at": None,
        "started_at": None,
        "finished_at": None,
        "error": None,
        "exhausted": False,
    }
    return StepRow(**(values | fields))


def running(key: str, attempt: int = 1, dispatch: int = 1, **fields: Any) -> StepRow:
    """A step a worker holds: claimed 2 s ago by `w1`, lease not expired."""
    lease: dict[str, Any] = {
        "attempt": attempt,
        "dispatch": dispatch,
        "lease_owner": "w1",
        "lease_expires_at": LEASE_END,
        "started_at": STARTED,
        "available_at": STARTED,
    }
    return step_row(key, RUNNING, **(lease | fields))


def engine(*runs: tuple[RunRow, list[StepRow]], max_lost: int = 3) -> Transition:
    return Transition(
        {run.id: run for run, _ in runs},
        {run.id: {step.key: step for step in steps} for run, steps in runs},
        NOW,
        SPECS,
        worker="w1",
        lease=timedelta(seconds=30),
        max_lost=max_lost,
        rand=lambda: 0.75,
    )


def ev(type_: str, key: str | None = None, run: str = "r1", **data: Any) -> NewEvent:
    return event(type_, run, "t1", key, **data)


def attempt_record(
    key: str,
    status: str,
    *,
    attempt: int = 1,
    dispatch: int = 1,
    worker: str = "w1",
    error: Any = None,
    started: datetime = STARTED,
) -> dict[str, Any]:
    return {
        "run_id": "r1",
        "step_key": key,
        "dispatch": dispatch,
        "tenant_id": "t1",
        "attempt": attempt,
        "status": status,
        "worker": worker,
        "idempotency_key": f"r1:{key}:{attempt}",
        "started_at": started,
        "finished_at": NOW,
        "duration_ms": round((NOW - started).total_seconds() * 1000, 3),
        "error": error,
    }


def outcome(key: str, status: Any, dispatch: int = 1, **fields: Any) -> Outcome:
    return Outcome("r1", key, dispatch, "w1", status, **fields)


def steps_of(t: Transition, run_id: str = "r1") -> dict[str, StepRow]:
    return t.steps[run_id]


BOOM = {"code": "step_failed", "message": "boom", "details": {}}


# -- the step transition table -------------------------------------------------------------------


def test_step_transition_table() -> None:
    assert STEP_TRANSITIONS == {
        PENDING: {READY, SKIPPED, CANCELLED, SUCCEEDED},
        READY: {RUNNING, CANCELLED, SUCCEEDED},
        RUNNING: {SUCCEEDED, SKIPPED, FAILED, READY, WAITING, CANCELLED},
        WAITING: {SUCCEEDED, FAILED, READY, CANCELLED},
        FAILED: {PENDING, RUNNING, SUCCEEDED},
        CANCELLED: {PENDING, SUCCEEDED},
        SUCCEEDED: set(),
        SKIPPED: set(),
    }


LEGAL = [(a, b) for a, targets in STEP_TRANSITIONS.items() for b in sorted(targets)]
ILLEGAL = [
    (a, b) for a, b in itertools.product(StepStatus, StepStatus) if b not in STEP_TRANSITIONS[a]
]


@pytest.mark.parametrize(("current", "target"), LEGAL)
def test_every_legal_step_transition_moves_and_marks_the_step(
    current: StepStatus, target: StepStatus
) -> None:
    moves = Moves({"r1": run_row()}, {"r1": {"a": step_row("a", current)}}, NOW)

    moves.move(moves.steps["r1"]["a"], target)

    assert (moves.steps["r1"], moves.changes) == (
        {"a": step_row("a", target)},
        Changes(steps={("r1", "a")}),
    )


@pytest.mark.parametrize(("current", "target"), ILLEGAL)
def test_every_illegal_step_transition_raises_and_changes_nothing(
    current: StepStatus, target: StepStatus
) -> None:
    moves = Moves({"r1": run_row()}, {"r1": {"a": step_row("a", current)}}, NOW)

    with pytest.raises(IllegalTransition) as raised:
        moves.move(moves.steps["r1"]["a"], target)

    allowed = ", ".join(sorted(STEP_TRANSITIONS[current])) or "nothing (it is final)"
    assert (raised.value.message, raised.value.details) == (
        f"step 'a' is {current} and cannot become {target}; from {current} it may become {allowed}",
        {"step": "a", "from": current.value, "to": target.value},
    )
    assert (moves.steps["r1"], moves.changes) == ({"a": step_row("a", current)}, Changes())


def test_illegal_run_transition_raises() -> None:
    moves = Moves({"r1": run_row(status=RunStatus.SUCCEEDED)}, {"r1": {}}, NOW)

    with pytest.raises(IllegalTransition) as raised:
        moves.set_run_status(moves.runs["r1"], RunStatus.RUNNING)

    assert raised.value.details == {"from": "succeeded", "to": "running"}
    assert moves.changes == Changes()


# -- starting and claiming -----------------------------------------------------------------------


def test_a_queued_run_starts_and_its_root_becomes_ready() -> None:
    t = engine((run_row(status=RunStatus.QUEUED, started_at=None), [step_row("a"), step_row("b")]))

    assert t.start("r1") is True
    assert t.advance(t.runs["r1"]) is Settle.DONE

    assert t.runs["r1"] == run_row(started_at=NOW, updated_at=NOW)
    assert steps_of(t) == {
        "a": step_row("a", READY, attempt=1, available_at=NOW),
        "b": step_row("b"),
    }
    assert t.changes == Changes(events=[ev("run.started")], steps={("r1", "a")}, runs={"r1"})


@pytest.mark.parametrize("status", [RunStatus.RUNNING, RunStatus.CANCELLED])
def test_only_a_queued_run_starts(status: RunStatus) -> None:
    t = engine((run_row(status=status), [step_row("a")]))

    assert t.start("r1") is False
    assert (t.runs["r1"], t.changes) == (run_row(status=status), Changes())


def test_claim_leases_a_ready_step_to_the_worker() -> None:
    t = engine((run_row(), [step_row("a", READY, attempt=1, available_at=STARTED)]))
    step = steps_of(t)["a"]

    assert t.claimable(step) is True
    assert t.claim(step) == Claim("r1", "a", "t1", "agent", 1, 1, "v1", {}, {})

    assert steps_of(t) == {
        "a": step_row(
            "a",
            RUNNING,
            attempt=1,
            dispatch=1,
            available_at=STARTED,
            lease_owner="w1",
            lease_expires_at=NOW + timedelta(seconds=30),
            started_at=NOW,
        )
    }
    assert t.changes == Changes(
        events=[
            ev("step.started", "a", attempt=1, dispatch=1, worker="w1", idempotency_key="r1:a:1")
        ],
        steps={("r1", "a")},
        runs={"r1"},
    )


@pytest.mark.parametrize(
    ("run_status", "step"),
    [
        (RunStatus.RUNNING, step_row("a", READY, available_at=NOW + timedelta(seconds=1))),
        (RunStatus.RUNNING, step_row("a", PENDING)),
        (RunStatus.WAITING, step_row("a", READY, available_at=NOW)),
    ],
)
def test_not_claimable_before_its_time_unless_ready_or_while_the_run_waits(
    run_status: RunStatus, step: StepRow
) -> None:
    t = engine((run_row(status=run_status), [step]))

    assert t.claimable(step) is False


# -- attempts finishing -------------------------------------------------------------------------


def test_success_commits_the_result_and_makes_the_next_step_ready() -> None:
    t = engine((run_row(), [running("a"), step_row("b")]))
    meta = {"agent": "demo", "capability": "demo.noop"}

    assert t.apply(outcome("a", "succeeded", result={"value": 1}, meta=meta)) is True
    assert t.advance(t.runs["r1"]) is Settle.DONE

    assert steps_of(t) == {
        "a": step_row(
            "a",
            SUCCEEDED,
            attempt=1,
            dispatch=1,
            started_at=STARTED,
            available_at=STARTED,
            finished_at=NOW,
        ),
        "b": step_row("b", READY, attempt=1, available_at=NOW),
    }
    assert t.runs["r1"] == run_row()
    assert t.changes == Changes(
        events=[
            ev(
                "step.completed",
                "a",
                attempt=1,
                duration_ms=2000.0,
                agent="demo",
                capability="demo.noop",
            )
        ],
        attempts=[attempt_record("a", "succeeded")],
        results={("r1", "a"): {"value": 1}},
        steps={("r1", "a"), ("r1", "b")},
        runs={"r1"},
    )


def test_the_last_success_asks_for_the_results_and_finish_sets_the_outputs() -> None:
    t = engine((run_row(), [step_row("a", SUCCEEDED, attempt=1), running("b")]))

    t.apply(outcome("b", "succeeded", result={"value": 42}))
    assert t.advance(t.runs["r1"]) is Settle.OUTPUTS
    t.finish(t.runs["r1"], {"a": {}, "b": {"value": 42}})

    assert t.runs["r1"] == run_row(
        status=RunStatus.SUCCEEDED, outputs={"answer": 42}, updated_at=NOW, finished_at=NOW
    )
    assert t.changes.events == [
        ev("step.completed", "b", attempt=1, duration_ms=2000.0),
        ev("run.succeeded", outputs={"answer": 42}),
    ]


def test_outputs_that_cannot_render_fail_the_run() -> None:
    t = engine((run_row(), [step_row("a", SUCCEEDED), step_row("b", SUCCEEDED)]))

    assert t.advance(t.runs["r1"]) is Settle.OUTPUTS
    t.finish(t.runs["r1"], {"a": {}, "b": "not a mapping"})

    error = t.changes.events[-1].data["error"]
    assert t.runs["r1"] == run_row(
        status=RunStatus.FAILED,
        error={**error, "step": "outputs"},
        updated_at=NOW,
        finished_at=NOW,
    )
    assert t.changes.events == [ev("run.failed", step="outputs", error=error)]
    assert error["code"] == "template_error"


def test_a_retryable_failure_is_ready_again_after_the_backoff() -> None:
    t = engine((run_row(), [running("a"), step_row("b")]))

    t.apply(outcome("a", "failed", error=BOOM, retryable=True))
    assert t.advance(t.runs["r1"]) is Settle.DONE

    assert steps_of(t) == {
        "a": step_row(
            "a",
            READY,
            attempt=2,
            dispatch=1,
            started_at=STARTED,
            error=BOOM,
            available_at=NOW + timedelta(seconds=2.5),
        ),
        "b": step_row("b"),
    }
    assert t.runs["r1"] == run_row()
    assert t.changes == Changes(
        events=[ev("step.failed", "a", attempt=1, error=BOOM, retry_in=2.5, exhausted=False)],
        attempts=[attempt_record("a", "failed", error=BOOM)],
        steps={("r1", "a")},
        runs={"r1"},
    )


def test_the_backoff_grows_with_the_attempt() -> None:
    t = engine((run_row(), [running("a", attempt=2, dispatch=2), step_row("b")]))

    t.apply(outcome("a", "failed", 2, error=BOOM, retryable=True))

    assert (steps_of(t)["a"].attempt, steps_of(t)["a"].available_at, t.changes.events) == (
        3,
        NOW + timedelta(seconds=7.5),
        [ev("step.failed", "a", attempt=2, error=BOOM, retry_in=7.5, exhausted=False)],
    )


def test_exhausted_retries_make_the_run_dead_and_cancel_what_is_in_flight() -> None:
    t = engine((run_row(), [running("a", attempt=3, dispatch=3), step_row("b")]))

    t.apply(outcome("a", "failed", 3, error=BOOM, retryable=True))
    assert t.advance(t.runs["r1"]) is Settle.DONE

    assert steps_of(t) == {
        "a": step_row(
            "a",
            FAILED,
            attempt=3,
            dispatch=3,
            started_at=STARTED,
            available_at=STARTED,
            error=BOOM,
            exhausted=True,
            finished_at=NOW,
        ),
        "b": step_row("b"),
    }
    assert t.runs["r1"] == run_row(
        status=RunStatus.DEAD, error={**BOOM, "step": "a"}, updated_at=NOW, finished_at=NOW
    )
    assert t.changes == Changes(
        events=[
            ev("step.failed", "a", attempt=3, error=BOOM, retry_in=None, exhausted=True),
            ev("run.dead", step="a", error=BOOM),
        ],
        attempts=[attempt_record("a", "failed", attempt=3, dispatch=3, error=BOOM)],
        closed_reviews=[ClosedReviews("t1", "r1", None, "cancelled", "run failed")],
        steps={("r1", "a")},
        runs={"r1"},
    )


def test_a_final_failure_that_is_not_retryable_fails_the_run() -> None:
    t = engine((run_row(), [running("a"), running("b", lease_owner="w2"), step_row("c")]))
    t.specs = {
        "v1": load_spec(
            "id: w\nversion: '1'\nsteps:\n"
            "  - {id: a, kind: agent, capability: x}\n"
            "  - {id: b, kind: agent, capability: x}\n"
            "  - {id: c, kind: agent, capability: x, needs: [a, b]}\n",
            "w.yaml",
        )
    }

    t.apply(outcome("a", "failed", error=BOOM, retryable=False))
    t.advance(t.runs["r1"])

    assert steps_of(t) == {
        "a": step_row(
            "a",
            FAILED,
            attempt=1,
            dispatch=1,
            started_at=STARTED,
            available_at=STARTED,
            error=BOOM,
            finished_at=NOW,
        ),
        "b": step_row(
            "b",
            CANCELLED,
            attempt=1,
            dispatch=1,
            started_at=STARTED,
            available_at=STARTED,
            finished_at=NOW,
        ),
        "c": step_row("c"),
    }
    assert t.runs["r1"].status is RunStatus.FAILED
    assert t.changes == Changes(
        events=[
            ev("step.failed", "a", attempt=1, error=BOOM, retry_in=None, exhausted=False),
            ev("run.failed", step="a", error=BOOM),
        ],
        attempts=[
            attempt_record("a", "failed", error=BOOM),
            attempt_record("b", "cancelled", worker="w2"),
        ],
        closed_reviews=[ClosedReviews("t1", "r1", None, "cancelled", "run failed")],
        steps={("r1", "a"), ("r1", "b")},
        runs={"r1"},
    )


@pytest.mark.parametrize(
    ("run_status", "step"),
    [
        (RunStatus.RUNNING, running("a", dispatch=2)),  # another dispatch holds it
        (RunStatus.RUNNING, step_row("a", READY, dispatch=1)),  # reaped meanwhile
        (RunStatus.CANCELLED, step_row("a", CANCELLED, dispatch=1)),  # the run was cancelled
    ],
)
def test_a_stale_outcome_is_rejected_and_changes_nothing(
    run_status: RunStatus, step: StepRow
) -> None:
    t = engine((run_row(status=run_status), [step]))

    assert t.apply(outcome("a", "succeeded", result=1)) is False
    assert (steps_of(t), t.runs["r1"], t.changes) == (
        {"a": step},
        run_row(status=run_status),
        Changes(),
    )


def test_a_released_attempt_is_ready_again_as_the_same_attempt() -> None:
    t = engine((run_row(), [running("a")]))
    stopped = {"code": "worker_stopped", "message": "stopped", "details": {}}

    t.apply(outcome("a", "released", error=stopped))

    assert steps_of(t) == {
        "a": step_row("a", READY, attempt=1, dispatch=1, started_at=STARTED, available_at=NOW)
    }
    assert t.changes == Changes(
        attempts=[attempt_record("a", "cancelled", error=stopped)], steps={("r1", "a")}
    )


def test_a_skipped_step_skips_what_needs_it_and_the_run_asks_for_outputs() -> None:
    t = engine((run_row(), [running("a"), step_row("b")]))

    t.apply(outcome("a", "skipped", meta={"reason": "when: false"}))

    assert t.advance(t.runs["r1"]) is Settle.OUTPUTS
    assert steps_of(t) == {
        "a": step_row(
            "a",
            SKIPPED,
            attempt=1,
            dispatch=1,
            started_at=STARTED,
            available_at=STARTED,
            finished_at=NOW,
        ),
        "b": step_row("b", SKIPPED, finished_at=NOW),
    }
    assert t.changes == Changes(
        events=[
            ev("step.skipped", "a", reason="when: false"),
            ev("step.skipped", "b", reason="a step it needs was skipped"),
        ],
        results={("r1", "a"): None},
        steps={("r1", "a"), ("r1", "b")},
        runs={"r1"},
    )


def test_llm_calls_of_an_attempt_become_events_before_its_outcome() -> None:
    call = {
        "call_id": "c1",
        "provider": "scripted",
        "model": "m",
        "route": None,
        "hop": 0,
        "status": "ok",
        "retries": 0,
        "input_tokens": 1,
        "output_tokens": 2,
        "cached_input_tokens": 0,
        "cache_write_tokens": 0,
        "reasoning_tokens": 0,
        "cost_usd": None,
        "latency_ms": 1.0,
        "ttft_ms": None,
    }
    t = engine((run_row(), [running("a"), step_row("b")]))

    t.apply(outcome("a", "succeeded", result={}, llm_calls=(call,)))

    assert t.changes.events == [
        ev("llm.call", "a", **call),
        ev("step.completed", "a", attempt=1, duration_ms=2000.0),
    ]


# -- leases --------------------------------------------------------------------------------------


def test_a_lost_lease_puts_the_step_back_and_records_the_lost_attempt() -> None:
    t = engine((run_row(), [running("a", lease_expires_at=NOW - timedelta(seconds=1))]))

    assert t.reap("r1", "a") is True

    lost = {"code": "lease_expired", "message": "lease expired"}
    assert steps_of(t) == {
        "a": step_row(
            "a", READY, attempt=1, dispatch=1, lost=1, started_at=STARTED, available_at=NOW
        )
    }
    assert t.changes == Changes(
        events=[ev("step.lease_expired", "a", attempt=1, dispatch=1, worker="w1")],
        attempts=[attempt_record("a", "lost", error=lost)],
        steps={("r1", "a")},
        runs={"r1"},
    )


@pytest.mark.parametrize(
    "step",
    [running("a"), step_row("a", READY, lease_expires_at=NOW - timedelta(seconds=1))],
)
def test_a_held_lease_or_a_step_not_running_is_not_reaped(step: StepRow) -> None:
    t = engine((run_row(), [step]))

    assert t.reap("r1", "a") is False
    assert (steps_of(t), t.changes) == ({"a": step}, Changes())


def test_losing_the_worker_too_often_fails_the_attempt_and_retries_it() -> None:
    expired = NOW - timedelta(seconds=1)
    t = engine((run_row(), [running("a", lost=2, lease_expires_at=expired), step_row("b")]))

    t.reap("r1", "a")

    error = {
        "code": "lease_lost",
        "message": "the attempt lost its worker 3 times in a row",
        "details": {},
    }
    assert steps_of(t)["a"] == step_row(
        "a",
        READY,
        attempt=2,
        dispatch=1,
        started_at=STARTED,
        error=error,
        available_at=NOW + timedelta(seconds=2.5),
    )
    assert t.changes.events == [
        ev("step.lease_expired", "a", attempt=1, dispatch=1, worker="w1"),
        ev("step.failed", "a", attempt=1, error=error, retry_in=2.5, exhausted=False),
    ]


def test_losing_the_worker_on_the_last_attempt_makes_the_run_dead() -> None:
    expired = NOW - timedelta(seconds=1)
    t = engine(
        (run_row(), [running("a", attempt=3, lease_expires_at=expired), step_row("b")]),
        max_lost=1,
    )

    t.reap("r1", "a")
    t.advance(t.runs["r1"])

    error = {
        "code": "lease_lost",
        "message": "the attempt lost its worker 1 times in a row",
        "details": {},
    }
    assert (steps_of(t)["a"].status, steps_of(t)["a"].exhausted, t.runs["r1"].status) == (
        FAILED,
        True,
        RunStatus.DEAD,
    )
    assert t.changes.events == [
        ev("step.lease_expired", "a", attempt=3, dispatch=1, worker="w1"),
        ev("step.failed", "a", attempt=3, error=error, retry_in=None, exhausted=True),
        ev("run.dead", step="a", error=error),
    ]
