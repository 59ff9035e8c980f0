"""The engine's transitions without a database: rows and outcomes in, moved rows and the
recorded changes (events, attempt records, claims, new runs and reviews) out."""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from batonflow.errors import Conflict, IllegalTransition, InvalidInput, NotFound
from batonflow.events.contracts import NewEvent, event
from batonflow.runs.run import STEP_TRANSITIONS, RunStatus, StepStatus
from batonflow.runs.state import Changes, ClosedReviews, RunRow, StepRow
from batonflow.workflows import actions
from batonflow.workflows.attempts import Claim, Outcome
from batonflow.workflows.moves import Moves
from batonflow.workflows.spec import WorkflowSpec
from batonflow.workflows.transitions import Settle, Transition
from batonflow.workflows.validation import load_spec

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
    args: Any = None,
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
        "args": args,
    }


def outcome(key: str, status: Any, dispatch: int = 1, **fields: Any) -> Outcome:
    return Outcome("r1", key, dispatch, "w1", status, **fields)


def steps_of(t: Transition, run_id: str = "r1") -> dict[str, StepRow]:
    return t.steps[run_id]


BOOM = {"code": "step_failed", "message": "boom", "details": {}}


# -- the step transition table -------------------------------------------------------------------


def test_step_transition_table() -> None:
    assert {
        PENDING: {READY, SKIPPED, CANCELLED, SUCCEEDED},
        READY: {RUNNING, CANCELLED, SUCCEEDED},
        RUNNING: {SUCCEEDED, SKIPPED, FAILED, READY, WAITING, CANCELLED},
        WAITING: {SUCCEEDED, FAILED, READY, CANCELLED},
        FAILED: {PENDING, RUNNING, SUCCEEDED},
        CANCELLED: {PENDING, SUCCEEDED},
        SUCCEEDED: set(),
        SKIPPED: set(),
    } == STEP_TRANSITIONS


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

    args = {"value": 1}  # what the step's templates resolved to, kept on its attempt
    assert t.apply(outcome("a", "succeeded", result={"value": 1}, meta=meta, args=args)) is True
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
        attempts=[attempt_record("a", "succeeded", args=args)],
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
    assert t.changes == Changes(
        events=[
            ev("step.completed", "b", attempt=1, duration_ms=2000.0),
            ev("run.succeeded", outputs={"answer": 42}),
        ],
        attempts=[attempt_record("b", "succeeded")],
        results={("r1", "b"): {"value": 42}},
        steps={("r1", "b")},
        runs={"r1"},
    )


def test_outputs_that_cannot_render_fail_the_run() -> None:
    t = engine((run_row(), [step_row("a", SUCCEEDED), step_row("b", SUCCEEDED)]))

    assert t.advance(t.runs["r1"]) is Settle.OUTPUTS
    t.finish(t.runs["r1"], {"a": {}, "b": "not a mapping"})

    error = {
        "code": "template_error",
        "message": "cannot render '{{ state.b.value }}': 'str object' has no attribute 'value'",
        "details": {},
    }
    assert t.runs["r1"] == run_row(
        status=RunStatus.FAILED,
        error={**error, "step": "outputs"},
        updated_at=NOW,
        finished_at=NOW,
    )
    assert t.changes == Changes(events=[ev("run.failed", step="outputs", error=error)], runs={"r1"})


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

    assert steps_of(t) == {
        "a": step_row(
            "a",
            READY,
            attempt=3,
            dispatch=2,
            started_at=STARTED,
            error=BOOM,
            available_at=NOW + timedelta(seconds=7.5),
        ),
        "b": step_row("b"),
    }
    assert t.changes == Changes(
        events=[ev("step.failed", "a", attempt=2, error=BOOM, retry_in=7.5, exhausted=False)],
        attempts=[attempt_record("a", "failed", attempt=2, dispatch=2, error=BOOM)],
        steps={("r1", "a")},
        runs={"r1"},
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
    assert t.runs["r1"] == run_row(
        status=RunStatus.FAILED, error={**BOOM, "step": "a"}, updated_at=NOW, finished_at=NOW
    )
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

    assert t.changes == Changes(
        events=[
            ev("llm.call", "a", **call),
            ev("step.completed", "a", attempt=1, duration_ms=2000.0),
        ],
        attempts=[attempt_record("a", "succeeded")],
        results={("r1", "a"): {}},
        steps={("r1", "a")},
        runs={"r1"},
    )


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
    assert t.changes == Changes(
        events=[
            ev("step.lease_expired", "a", attempt=1, dispatch=1, worker="w1"),
            ev("step.failed", "a", attempt=1, error=error, retry_in=2.5, exhausted=False),
        ],
        attempts=[
            attempt_record("a", "lost", error={"code": "lease_expired", "message": "lease expired"})
        ],
        steps={("r1", "a")},
        runs={"r1"},
    )


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
    assert steps_of(t) == {
        "a": step_row(
            "a",
            FAILED,
            attempt=3,
            dispatch=1,
            lost=1,
            started_at=STARTED,
            available_at=STARTED,
            error=error,
            exhausted=True,
            finished_at=NOW,
        ),
        "b": step_row("b"),
    }
    assert t.runs["r1"] == run_row(
        status=RunStatus.DEAD, error={**error, "step": "a"}, updated_at=NOW, finished_at=NOW
    )
    assert t.changes == Changes(
        events=[
            ev("step.lease_expired", "a", attempt=3, dispatch=1, worker="w1"),
            ev("step.failed", "a", attempt=3, error=error, retry_in=None, exhausted=True),
            ev("run.dead", step="a", error=error),
        ],
        attempts=[
            attempt_record(
                "a", "lost", attempt=3, error={"code": "lease_expired", "message": "lease expired"}
            )
        ],
        closed_reviews=[ClosedReviews("t1", "r1", None, "cancelled", "run failed")],
        steps={("r1", "a")},
        runs={"r1"},
    )


# -- waits ---------------------------------------------------------------------------------------

WAITS = load_spec(
    """
id: w
version: "1"
steps:
  - {id: draft, kind: agent, capability: demo.noop}
  - {id: check, kind: review, subject: "{{ state.draft }}", needs: [draft]}
  - {id: soft, kind: review, subject: x, on_reject: continue, needs: [draft]}
  - {id: ask, kind: input, schema: {type: object}, needs: [draft]}
  - {id: child, kind: workflow, workflow: other, version: "1", needs: [draft]}
  - {id: send, kind: agent, capability: demo.noop, needs: [check, soft, ask, child]}
""",
    "waits.yaml",
)


def waits(**statuses: StepRow) -> Transition:
    rows = {key: step_row(key, kind=WAITS.by_id[key].kind) for key in WAITS.by_id}
    rows["draft"] = step_row("draft", SUCCEEDED, attempt=1)
    rows |= statuses
    t = engine((run_row(workflow_version_pk="waits"), list(rows.values())))
    t.specs = {"waits": WAITS, "child": LINEAR}
    return t


def review_of(key: str, kind: str = "review") -> dict[str, Any]:
    return {
        "id": f"rev-{key}",
        "tenant_id": "t1",
        "run_id": "r1",
        "step_key": key,
        "attempt": 1,
        "kind": kind,
        "status": "pending",
        "reviewers": ["reviewer"],
        "subject": {"text": "hi"},
    }


@pytest.mark.parametrize(("key", "kind"), [("check", "review"), ("ask", "input")])
def test_a_review_or_input_step_waits_on_a_person(key: str, kind: str) -> None:
    t = waits(**{key: running(key, kind=kind)})

    t.apply(outcome(key, "waiting", review=review_of(key, kind)))
    t.advance(t.runs["r1"])

    ready = {"attempt": 1, "available_at": NOW}
    assert steps_of(t) == {
        "draft": step_row("draft", SUCCEEDED, attempt=1),
        "check": step_row("check", READY, kind="review", **ready),
        "soft": step_row("soft", READY, kind="review", **ready),
        "ask": step_row("ask", READY, kind="input", **ready),
        "child": step_row("child", READY, kind="workflow", **ready),
        "send": step_row("send"),
    } | {
        key: step_row(
            key, WAITING, kind=kind, attempt=1, dispatch=1, started_at=STARTED, available_at=STARTED
        )
    }
    assert t.runs["r1"] == run_row(workflow_version_pk="waits")  # other steps are ready
    assert t.changes == Changes(
        events=[
            ev("step.waiting", key, kind=kind, review_id=f"rev-{key}"),
            ev("review.requested", key, review_id=f"rev-{key}", kind=kind, reviewers=["reviewer"]),
        ],
        attempts=[attempt_record(key, "waiting")],
        reviews=[review_of(key, kind) | {"created_at": NOW}],
        steps={("r1", k) for k in ("check", "soft", "ask", "child")},
        runs={"r1"},
    )


def test_a_run_whose_open_steps_all_wait_on_people_waits() -> None:
    done = {"attempt": 1, "finished_at": NOW}
    t = waits(
        check=step_row("check", WAITING, kind="review", attempt=1),
        soft=step_row("soft", SUCCEEDED, kind="review", **done),
        ask=step_row("ask", WAITING, kind="input", attempt=1),
        child=step_row("child", SUCCEEDED, kind="workflow", **done),
    )

    assert t.advance(t.runs["r1"]) is Settle.DONE

    assert t.runs["r1"] == run_row(
        status=RunStatus.WAITING, workflow_version_pk="waits", updated_at=NOW
    )
    assert t.changes == Changes(events=[ev("run.waiting", steps=["check", "ask"])], runs={"r1"})


def test_a_sub_workflow_step_queues_its_child_run_and_the_parent_keeps_running() -> None:
    done = {"attempt": 1, "finished_at": NOW}
    t = waits(
        check=step_row("check", SUCCEEDED, kind="review", **done),
        soft=step_row("soft", SUCCEEDED, kind="review", **done),
        ask=step_row("ask", SUCCEEDED, kind="input", **done),
        child=running("child", kind="workflow"),
    )
    t.runs["r1"].private_to = "u1"  # the child run is as private as its parent
    child_run = {
        "id": "c1",
        "tenant_id": "t1",
        "status": "queued",
        "event_seq": 0,
        "workflow_version_pk": "child",
        "workflow_id": "other",
        "workflow_version": "1",
        "inputs": {},
        "ctx": {},
        "outputs": None,
        "error": None,
        "parent_run_id": "r1",
        "parent_step_key": "child",
        "parent_attempt": 1,
        "started_at": None,
        "finished_at": None,
    }
    child_steps = (_row_dict("c1", "a"), _row_dict("c1", "b"))

    t.apply(outcome("child", "waiting", child_run=child_run, child_steps=child_steps))
    assert t.advance(t.runs["r1"]) is Settle.DONE

    assert t.runs == {
        "r1": run_row(workflow_version_pk="waits", private_to="u1"),
        "c1": run_row(
            "c1",
            RunStatus.QUEUED,
            event_seq=0,
            workflow_version_pk="child",
            workflow_id="other",
            parent_run_id="r1",
            parent_step_key="child",
            parent_attempt=1,
            started_at=None,
            updated_at=NOW,
            private_to="u1",
        ),
    }
    assert t.steps["c1"] == {"a": step_row("a", run_id="c1"), "b": step_row("b", run_id="c1")}
    assert t.changes == Changes(
        events=[
            ev(
                "run.queued",
                run="c1",
                workflow_id="other",
                workflow_version="1",
                parent_run_id="r1",
            ),
            ev("step.waiting", "child", kind="workflow", child_run_id="c1"),
        ],
        attempts=[attempt_record("child", "waiting")],
        new_runs=[child_run | {"private_to": "u1", "created_at": NOW, "updated_at": NOW}],
        new_steps=list(child_steps),
        steps={("r1", "child")},
        runs={"r1", "c1"},
    )


def _row_dict(run_id: str, key: str) -> dict[str, Any]:
    return asdict(step_row(key, run_id=run_id))


# -- sub-workflow completion ---------------------------------------------------------------------


def parent_and_child(child_status: RunStatus, parent_status: RunStatus) -> Transition:
    parent = run_row(status=parent_status, workflow_version_pk="waits")
    child = run_row(
        "c1",
        child_status,
        workflow_version_pk="child",
        outputs={"answer": 42} if child_status is RunStatus.SUCCEEDED else None,
        error=None if child_status is RunStatus.SUCCEEDED else {"code": "x", "message": "y"},
        parent_run_id="r1",
        parent_step_key="child",
        parent_attempt=1,
    )
    t = engine((parent, [step_row("child", WAITING, kind="workflow", attempt=1)]), (child, []))
    t.specs = {"waits": WAITS, "child": LINEAR}
    return t


def test_a_child_that_succeeded_settles_the_parent_step_with_its_outputs() -> None:
    t = parent_and_child(RunStatus.SUCCEEDED, RunStatus.RUNNING)

    assert t.finish_child(t.runs["c1"]) is t.runs["r1"]

    assert steps_of(t) == {
        "child": step_row("child", SUCCEEDED, kind="workflow", attempt=1, finished_at=NOW)
    }
    assert t.changes == Changes(
        events=[ev("step.completed", "child", attempt=1, duration_ms=0.0)],
        results={("r1", "child"): {"answer": 42}},
        steps={("r1", "child")},
        runs={"r1"},
    )


def test_a_child_that_failed_fails_the_parent_step_and_resumes_a_waiting_parent() -> None:
    t = parent_and_child(RunStatus.FAILED, RunStatus.WAITING)

    assert t.finish_child(t.runs["c1"]) is t.runs["r1"]

    error = {
        "code": "subworkflow_failed",
        "message": "sub-workflow run c1 ended failed",
        "details": {"child_run_id": "c1", "child_error": {"code": "x", "message": "y"}},
    }
    assert steps_of(t) == {
        "child": step_row("child", FAILED, kind="workflow", attempt=1, error=error, finished_at=NOW)
    }
    assert t.runs["r1"] == run_row(workflow_version_pk="waits", updated_at=NOW)
    assert t.changes == Changes(
        events=[
            ev("run.resumed", reason="sub-workflow run c1 finished"),
            ev("step.failed", "child", attempt=1, error=error, retry_in=None, exhausted=False),
        ],
        steps={("r1", "child")},
        runs={"r1"},
    )


def test_a_child_of_an_older_attempt_or_a_cancelled_parent_settles_nothing() -> None:
    stale = parent_and_child(RunStatus.SUCCEEDED, RunStatus.RUNNING)
    stale.runs["c1"].parent_attempt = 0
    cancelled = parent_and_child(RunStatus.SUCCEEDED, RunStatus.CANCELLED)
    cancelled.steps["r1"]["child"].status = WAITING

    assert (stale.finish_child(stale.runs["c1"]), stale.changes) == (None, Changes())
    assert (cancelled.finish_child(cancelled.runs["c1"]), cancelled.changes) == (None, Changes())


# -- map fan-out ---------------------------------------------------------------------------------


def item(index: int, status: Any, dispatch: int = 1001, parent: int = 1, **fields: Any) -> Outcome:
    row = _row_dict("r1", f"m[{index}]") | {
        "parent_key": "m",
        "item_index": index,
        "status": "running",
        "attempt": 1,
    }
    meta = {"attempt": fields.pop("attempt", 1), "started_at": STARTED}
    return Outcome(
        "r1",
        f"m[{index}]",
        dispatch,
        "w1",
        status,
        parent_dispatch=parent,
        meta=meta,
        child_steps=(row,) if fields.pop("new", True) else (),
        **fields,
    )


def item_row(index: int, status: StepStatus, **fields: Any) -> StepRow:
    values: dict[str, Any] = {
        "parent_key": "m",
        "item_index": index,
        "attempt": 1,
        "dispatch": 1001,
        "started_at": STARTED,
        "finished_at": NOW,
    }
    return step_row(f"m[{index}]", status, **(values | fields))


def test_map_items_are_committed_one_by_one_as_new_rows() -> None:
    t = engine((run_row(), [running("m", kind="map")]))

    assert t.apply(item(0, "succeeded", result="A")) is True
    assert t.apply(item(1, "failed", 1002, error=BOOM)) is True

    assert steps_of(t) == {
        "m": running("m", kind="map"),
        "m[0]": item_row(0, SUCCEEDED),
        "m[1]": item_row(1, FAILED, dispatch=1002, error=BOOM),
    }
    assert t.changes == Changes(
        events=[
            ev("step.completed", "m[0]", attempt=1, duration_ms=2000.0),
            ev("step.failed", "m[1]", attempt=1, error=BOOM, retry_in=None, exhausted=False),
        ],
        attempts=[
            attempt_record("m[0]", "succeeded", dispatch=1001),
            attempt_record("m[1]", "failed", dispatch=1002, error=BOOM),
        ],
        results={("r1", "m[0]"): "A"},
        new_steps=[item(0, "x").child_steps[0], item(1, "x").child_steps[0]],
        steps={("r1", "m[0]"), ("r1", "m[1]")},
        runs={"r1"},
    )


def test_a_failed_map_item_runs_again_on_its_row() -> None:
    t = engine((run_row(), [running("m", kind="map"), item_row(0, FAILED, error=BOOM)]))

    t.apply(item(0, "succeeded", 1002, result="A", attempt=2, new=False))

    assert steps_of(t) == {
        "m": running("m", kind="map"),
        "m[0]": item_row(0, SUCCEEDED, attempt=2, dispatch=1002),
    }
    assert t.changes == Changes(
        events=[ev("step.completed", "m[0]", attempt=2, duration_ms=2000.0)],
        attempts=[attempt_record("m[0]", "succeeded", attempt=2, dispatch=1002)],
        results={("r1", "m[0]"): "A"},
        steps={("r1", "m[0]")},
        runs={"r1"},
    )


def test_an_item_of_a_map_step_no_longer_held_is_rejected() -> None:
    t = engine((run_row(), [running("m", kind="map", dispatch=2)]))

    assert t.apply(item(0, "succeeded", result="A", parent=1)) is False
    assert (steps_of(t), t.changes) == ({"m": running("m", kind="map", dispatch=2)}, Changes())


def test_the_map_step_completes_with_all_its_items() -> None:
    t = engine((run_row(), [running("m", kind="map"), item_row(0, SUCCEEDED)]))

    t.apply(outcome("m", "succeeded", result=["A"]))

    assert steps_of(t) == {
        "m": step_row(
            "m",
            SUCCEEDED,
            kind="map",
            attempt=1,
            dispatch=1,
            started_at=STARTED,
            available_at=STARTED,
            finished_at=NOW,
        ),
        "m[0]": item_row(0, SUCCEEDED),
    }
    assert t.changes == Changes(
        events=[ev("step.completed", "m", attempt=1, duration_ms=2000.0)],
        attempts=[attempt_record("m", "succeeded")],
        results={("r1", "m"): ["A"]},
        steps={("r1", "m")},
        runs={"r1"},
    )


# -- operator actions ----------------------------------------------------------------------------


def test_cancel_closes_open_steps_reviews_and_unfinished_child_runs() -> None:
    child = run_row("c1", parent_run_id="r1", parent_step_key="b", parent_attempt=1)
    done = run_row("c2", RunStatus.SUCCEEDED, parent_run_id="r1")
    t = engine(
        (run_row(), [step_row("a", SUCCEEDED, attempt=1), running("b")]),
        (child, [step_row("a", READY, run_id="c1", attempt=1)]),
        (done, []),
    )

    actions.cancel(t, t.runs["r1"], "ops", "not needed")

    assert t.runs == {
        "r1": run_row(status=RunStatus.CANCELLED, updated_at=NOW, finished_at=NOW),
        "c1": run_row(
            "c1",
            RunStatus.CANCELLED,
            parent_run_id="r1",
            parent_step_key="b",
            parent_attempt=1,
            updated_at=NOW,
            finished_at=NOW,
        ),
        "c2": done,
    }
    assert t.steps == {
        "r1": {
            "a": step_row("a", SUCCEEDED, attempt=1),
            "b": step_row(
                "b",
                CANCELLED,
                attempt=1,
                dispatch=1,
                started_at=STARTED,
                available_at=STARTED,
                finished_at=NOW,
            ),
        },
        "c1": {"a": step_row("a", CANCELLED, run_id="c1", attempt=1, finished_at=NOW)},
        "c2": {},
    }
    assert t.changes == Changes(
        events=[
            ev("run.cancelled", by="ops", reason="not needed"),
            ev("run.cancelled", run="c1", by="ops", reason="parent run r1 was cancelled"),
        ],
        attempts=[attempt_record("b", "cancelled")],
        closed_reviews=[
            ClosedReviews("t1", "r1", None, "cancelled", "ops"),
            ClosedReviews("t1", "c1", None, "cancelled", "ops"),
        ],
        steps={("r1", "b"), ("c1", "a")},
        runs={"r1", "c1"},
    )


def test_a_finished_run_cannot_be_cancelled() -> None:
    t = engine((run_row(status=RunStatus.SUCCEEDED), []))

    with pytest.raises(Conflict) as raised:
        actions.cancel(t, t.runs["r1"], "ops", "late")

    assert raised.value.message == (
        "run r1 is already succeeded; only queued, running or waiting runs can be cancelled"
    )
    assert t.changes == Changes()


def test_retry_reopens_failed_and_cancelled_steps_as_new_attempts() -> None:
    failed = run_row(status=RunStatus.DEAD, error={**BOOM, "step": "a"}, finished_at=NOW)
    t = engine(
        (
            failed,
            [
                step_row("a", FAILED, attempt=3, error=BOOM, exhausted=True, finished_at=NOW),
                step_row("b", CANCELLED, finished_at=NOW),
            ],
        )
    )

    actions.retry(t, t.runs["r1"], "ops")
    assert t.advance(t.runs["r1"]) is Settle.DONE

    assert t.runs["r1"] == run_row(updated_at=NOW)
    assert steps_of(t) == {
        "a": step_row("a", READY, attempt=4, available_at=NOW),
        "b": step_row("b", PENDING),
    }
    assert t.changes == Changes(
        events=[
            ev("run.resumed", reason="retried by ops"),
            ev("run.retried", by="ops", steps=["a"]),
        ],
        steps={("r1", "a"), ("r1", "b")},
        runs={"r1"},
    )


@pytest.mark.parametrize("status", [RunStatus.RUNNING, RunStatus.SUCCEEDED, RunStatus.CANCELLED])
def test_only_failed_or_dead_runs_are_retried(status: RunStatus) -> None:
    t = engine((run_row(status=status), [step_row("a", FAILED)]))

    with pytest.raises(Conflict) as raised:
        actions.retry(t, t.runs["r1"], "ops")

    assert raised.value.message == (f"run r1 is {status}; only failed or dead runs can be retried")
    assert t.changes == Changes()


def test_override_settles_a_failed_step_by_hand_and_resumes_the_run() -> None:
    failed = run_row(status=RunStatus.FAILED, error={**BOOM, "step": "a"}, finished_at=NOW)
    t = engine((failed, [step_row("a", FAILED, attempt=1, error=BOOM), step_row("b")]))

    actions.override(t, t.runs["r1"], "a", {"value": 7}, "ops", "fixed by hand")
    t.advance(t.runs["r1"])

    assert t.runs["r1"] == run_row(updated_at=NOW)
    assert steps_of(t) == {
        "a": step_row(
            "a",
            SUCCEEDED,
            attempt=1,
            finished_at=NOW,
            overridden_by="ops",
            override_reason="fixed by hand",
        ),
        "b": step_row("b", READY, attempt=1, available_at=NOW),
    }
    assert t.changes == Changes(
        events=[
            ev("step.overridden", "a", by="ops", reason="fixed by hand"),
            ev("run.resumed", reason="step a overridden by ops"),
        ],
        results={("r1", "a"): {"value": 7}},
        closed_reviews=[ClosedReviews("t1", "r1", "a", "overridden", "ops")],
        steps={("r1", "a"), ("r1", "b")},
        runs={"r1"},
    )


@pytest.mark.parametrize(
    ("run_status", "key", "reason", "error", "message"),
    [
        (RunStatus.RUNNING, "a", " ", InvalidInput, "an override needs a reason; say why"),
        (RunStatus.RUNNING, "zz", "x", NotFound, "run r1 has no step 'zz'"),
        (RunStatus.SUCCEEDED, "b", "x", Conflict, "run r1 is succeeded; its steps can no"),
        (RunStatus.RUNNING, "a", "x", Conflict, "step 'a' already succeeded; only unfinished"),
    ],
)
def test_override_refusals(
    run_status: RunStatus, key: str, reason: str, error: type[Exception], message: str
) -> None:
    t = engine((run_row(status=run_status), [step_row("a", SUCCEEDED), step_row("b")]))

    with pytest.raises(error, match=message):
        actions.override(t, t.runs["r1"], key, 1, "ops", reason)

    assert t.changes == Changes()


@dataclass
class StoredReview:
    id: str = "rev-check"
    step_key: str = "check"
    attempt: int = 1
    subject: Any = "the draft"


def waiting_on(key: str, kind: str) -> Transition:
    done = {"attempt": 1, "finished_at": NOW}
    t = waits(**{key: step_row(key, WAITING, kind=kind, attempt=1, dispatch=1)})
    t.runs["r1"] = run_row(status=RunStatus.WAITING, workflow_version_pk="waits")
    for other in ("check", "soft", "ask", "child"):
        if other != key:
            t.steps["r1"][other] = step_row(other, SUCCEEDED, kind=WAITS.by_id[other].kind, **done)
    return t


@pytest.mark.parametrize(
    ("key", "decision", "data", "result"),
    [
        (
            "check",
            "approve",
            None,
            {
                "approved": True,
                "decision": "approve",
                "subject": "the draft",
                "by": "ann",
                "comment": "ok",
            },
        ),
        (
            "check",
            "edit",
            "better",
            {
                "approved": True,
                "decision": "edit",
                "subject": "better",
                "by": "ann",
                "comment": "ok",
            },
        ),
        (
            "soft",
            "reject",
            None,
            {
                "approved": False,
                "decision": "reject",
                "subject": "the draft",
                "by": "ann",
                "comment": "ok",
            },
        ),
        ("ask", "submit", {"n": 1}, {"n": 1}),
    ],
)
def test_a_decision_settles_the_waiting_step_and_resumes_the_run(
    key: str, decision: Any, data: Any, result: Any
) -> None:
    kind = WAITS.by_id[key].kind
    t = waiting_on(key, kind)
    review = StoredReview(id=f"rev-{key}", step_key=key)

    actions.decide(t, t.runs["r1"], review, decision, "ann", data, "ok")
    t.advance(t.runs["r1"])

    status = actions.DECIDED[decision]
    assert t.runs["r1"] == run_row(workflow_version_pk="waits", updated_at=NOW)
    assert steps_of(t)[key] == step_row(
        key, SUCCEEDED, kind=kind, attempt=1, dispatch=1, finished_at=NOW
    )
    assert steps_of(t)["send"] == step_row("send", READY, attempt=1, available_at=NOW)
    assert t.changes == Changes(
        events=[
            ev("run.resumed", reason=f"review rev-{key} {status} by ann"),
            ev("review.decided", key, review_id=f"rev-{key}", decision=decision, by="ann"),
            ev("step.completed", key, attempt=1, duration_ms=0.0),
        ],
        results={("r1", key): result},
        steps={("r1", key), ("r1", "send")},
        runs={"r1"},
    )


def test_a_rejected_review_fails_its_step_and_the_run() -> None:
    t = waiting_on("check", "review")

    actions.decide(t, t.runs["r1"], StoredReview(), "reject", "ann", None, "no")
    t.advance(t.runs["r1"])

    error = {
        "code": "review_rejected",
        "message": "ann rejected the review: no",
        "details": {"review_id": "rev-check"},
    }
    assert steps_of(t)["check"] == step_row(
        "check", FAILED, kind="review", attempt=1, dispatch=1, error=error, finished_at=NOW
    )
    assert t.runs["r1"] == run_row(
        status=RunStatus.FAILED,
        workflow_version_pk="waits",
        error={**error, "step": "check"},
        updated_at=NOW,
        finished_at=NOW,
    )
    assert t.changes == Changes(
        events=[
            ev("run.resumed", reason="review rev-check rejected by ann"),
            ev("review.decided", "check", review_id="rev-check", decision="reject", by="ann"),
            ev("step.failed", "check", attempt=1, error=error, retry_in=None, exhausted=False),
            ev("run.failed", step="check", error=error),
        ],
        closed_reviews=[ClosedReviews("t1", "r1", None, "cancelled", "run failed")],
        steps={("r1", "check")},
        runs={"r1"},
    )


@pytest.mark.parametrize(
    ("review", "run_status"),
    [
        (StoredReview(attempt=2), RunStatus.WAITING),  # a decision on an older attempt
        (StoredReview(), RunStatus.CANCELLED),
    ],
)
def test_a_decision_on_a_step_that_no_longer_waits_is_a_conflict(
    review: StoredReview, run_status: RunStatus
) -> None:
    t = waiting_on("check", "review")
    t.runs["r1"].status = run_status

    with pytest.raises(Conflict) as raised:
        actions.decide(t, t.runs["r1"], review, "approve", "ann")

    assert raised.value.message == (
        f"run r1 no longer waits on review rev-check (the run is {run_status})"
    )
    assert t.changes == Changes()
