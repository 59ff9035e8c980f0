"""The pure core: planning what runs next, when a failed attempt runs again, and the outputs."""

from __future__ import annotations

import pytest

from batonflow.errors import TemplateError
from batonflow.runs.run import RunStatus, StepStatus
from batonflow.workflows.engine import Plan, StepView, outputs, plan, retry_delay, scope
from batonflow.workflows.spec import RetryPolicy, WorkflowSpec
from batonflow.workflows.validation import load_spec

PENDING = StepStatus.PENDING
READY = StepStatus.READY
RUNNING = StepStatus.RUNNING
WAITING = StepStatus.WAITING
SUCCEEDED = StepStatus.SUCCEEDED
SKIPPED = StepStatus.SKIPPED
FAILED = StepStatus.FAILED
CANCELLED = StepStatus.CANCELLED


def spec_of(*steps: str, outputs: str = "") -> WorkflowSpec:
    """A spec with the given flow-style steps (every one runs `demo.noop` unless it says so)."""
    lines = ["id: w", "version: 1", "inputs: {name: {type: string, default: x}}", "steps:"]
    lines += [f"  - {{kind: agent, capability: demo.noop, {step}}}" for step in steps]
    if outputs:
        lines.append(f"outputs: {outputs}")
    return load_spec("\n".join(lines) + "\n", "test.yaml")


def views(**statuses: StepStatus) -> dict[str, StepView]:
    return {key: StepView(status) for key, status in statuses.items()}


LINEAR = spec_of("id: a", "id: b, needs: [a]", "id: c, needs: [b]")
DIAMOND = spec_of(
    "id: top", "id: left, needs: [top]", "id: right, needs: [top]", "id: join, needs: [left, right]"
)


# -- plan: promotion ----------------------------------------------------------------------------


def test_linear_start_promotes_only_the_root() -> None:
    assert plan(LINEAR, views(a=PENDING, b=PENDING, c=PENDING)) == Plan(
        ready=("a",), skipped=(), run_status=RunStatus.RUNNING
    )


def test_linear_promotes_the_next_step_when_its_need_succeeds() -> None:
    assert plan(LINEAR, views(a=SUCCEEDED, b=PENDING, c=PENDING)) == Plan(
        ready=("b",), skipped=(), run_status=RunStatus.RUNNING
    )


def test_linear_running_step_keeps_the_run_running() -> None:
    assert plan(LINEAR, views(a=SUCCEEDED, b=RUNNING, c=PENDING)) == Plan(
        ready=(), skipped=(), run_status=RunStatus.RUNNING
    )


def test_ready_step_keeps_the_run_running() -> None:
    assert plan(LINEAR, views(a=SUCCEEDED, b=READY, c=PENDING)) == Plan(
        ready=(), skipped=(), run_status=RunStatus.RUNNING
    )


def test_diamond_fans_out_after_the_top() -> None:
    assert plan(DIAMOND, views(top=SUCCEEDED, left=PENDING, right=PENDING, join=PENDING)) == Plan(
        ready=("left", "right"), skipped=(), run_status=RunStatus.RUNNING
    )


@pytest.mark.parametrize(
    ("left", "right"),
    [(SUCCEEDED, RUNNING), (RUNNING, SUCCEEDED), (SUCCEEDED, READY), (SUCCEEDED, PENDING)],
)
def test_diamond_join_waits_for_both_branches(left: StepStatus, right: StepStatus) -> None:
    result = plan(DIAMOND, views(top=SUCCEEDED, left=left, right=right, join=PENDING))

    assert "join" not in result.ready
    assert result.run_status is RunStatus.RUNNING


def test_diamond_join_runs_when_both_branches_succeed() -> None:
    assert plan(DIAMOND, views(top=SUCCEEDED, left=SUCCEEDED, right=SUCCEEDED, join=PENDING)) == (
        Plan(ready=("join",), skipped=(), run_status=RunStatus.RUNNING)
    )


def test_parallel_roots_are_all_ready_at_once() -> None:
    spec = spec_of("id: a", "id: b", "id: c", "id: d, needs: [a, b, c]")

    assert plan(spec, views(a=PENDING, b=PENDING, c=PENDING, d=PENDING)) == Plan(
        ready=("a", "b", "c"), skipped=(), run_status=RunStatus.RUNNING
    )


# -- plan: skips --------------------------------------------------------------------------------


def test_skip_cascades_down_the_graph() -> None:
    spec = spec_of(
        "id: a",
        "id: b, needs: [a]",
        "id: c, needs: [b]",
        "id: d, needs: [c]",
        "id: other",
    )

    assert plan(spec, views(a=SKIPPED, b=PENDING, c=PENDING, d=PENDING, other=SUCCEEDED)) == Plan(
        ready=(), skipped=("b", "c", "d"), run_status=RunStatus.SUCCEEDED
    )


def test_skip_cascades_even_when_steps_are_declared_before_their_needs() -> None:
    spec = spec_of("id: d, needs: [c]", "id: c, needs: [b]", "id: b, needs: [a]", "id: a")

    assert plan(spec, views(a=SKIPPED, b=PENDING, c=PENDING, d=PENDING)) == Plan(
        ready=(), skipped=("b", "c", "d"), run_status=RunStatus.SUCCEEDED
    )


def test_dependent_with_its_own_when_is_ready_rather_than_skipped() -> None:
    spec = spec_of(
        "id: a",
        "id: b, needs: [a]",
        "id: c, needs: [b], when: 'inputs.name == \"x\"'",
        "id: d, needs: [c]",
    )

    assert plan(spec, views(a=SKIPPED, b=PENDING, c=PENDING, d=PENDING)) == Plan(
        ready=("c",), skipped=("b",), run_status=RunStatus.RUNNING
    )


def test_join_of_a_skipped_and_a_succeeded_branch_is_skipped() -> None:
    assert plan(DIAMOND, views(top=SUCCEEDED, left=SKIPPED, right=SUCCEEDED, join=PENDING)) == (
        Plan(ready=(), skipped=("join",), run_status=RunStatus.SUCCEEDED)
    )


def test_join_waits_for_the_other_branch_before_skipping() -> None:
    assert plan(DIAMOND, views(top=SUCCEEDED, left=SKIPPED, right=RUNNING, join=PENDING)) == Plan(
        ready=(), skipped=(), run_status=RunStatus.RUNNING
    )


# -- plan: run status ---------------------------------------------------------------------------


def test_all_done_succeeds() -> None:
    assert plan(LINEAR, views(a=SUCCEEDED, b=SKIPPED, c=SUCCEEDED)) == Plan(
        ready=(), skipped=(), run_status=RunStatus.SUCCEEDED
    )


def test_failed_step_fails_the_run() -> None:
    assert plan(DIAMOND, views(top=SUCCEEDED, left=FAILED, right=RUNNING, join=PENDING)) == Plan(
        ready=(), skipped=(), run_status=RunStatus.FAILED, failed_step="left"
    )


def test_exhausted_failed_step_makes_the_run_dead() -> None:
    steps = views(top=SUCCEEDED, right=SUCCEEDED, join=PENDING)
    steps["left"] = StepView(FAILED, exhausted=True)

    assert plan(DIAMOND, steps) == Plan(
        ready=(), skipped=(), run_status=RunStatus.DEAD, failed_step="left"
    )


def test_first_failed_step_in_declaration_order_decides() -> None:
    steps = {
        "top": StepView(SUCCEEDED),
        "left": StepView(FAILED, exhausted=False),
        "right": StepView(FAILED, exhausted=True),
        "join": StepView(PENDING),
    }

    assert plan(DIAMOND, steps) == Plan(
        ready=(), skipped=(), run_status=RunStatus.FAILED, failed_step="left"
    )


def test_failed_plan_still_reports_waiting_steps() -> None:
    spec = spec_of("id: a", "id: b")

    assert plan(spec, views(a=FAILED, b=WAITING)) == Plan(
        ready=(), skipped=(), run_status=RunStatus.FAILED, failed_step="a", waiting=("b",)
    )


def test_waiting_on_a_person_makes_the_run_wait() -> None:
    spec = spec_of("id: a", "id: review, needs: [a]", "id: c, needs: [review]", "id: d")

    assert plan(spec, views(a=SUCCEEDED, review=WAITING, c=PENDING, d=SUCCEEDED)) == Plan(
        ready=(), skipped=(), run_status=RunStatus.WAITING, waiting=("review",)
    )


def test_waiting_with_other_work_running_stays_running() -> None:
    spec = spec_of("id: a", "id: b")

    assert plan(spec, views(a=WAITING, b=RUNNING)) == Plan(
        ready=(), skipped=(), run_status=RunStatus.RUNNING, waiting=("a",)
    )


def test_waiting_on_a_sub_workflow_keeps_the_run_running() -> None:
    spec = spec_of("id: a", "id: child")
    steps = {"a": StepView(SUCCEEDED), "child": StepView(WAITING, on_person=False)}

    assert plan(spec, steps) == Plan(ready=(), skipped=(), run_status=RunStatus.RUNNING)


def test_newly_ready_step_beats_waiting() -> None:
    spec = spec_of("id: a", "id: b, needs: [a]", "id: ask")

    assert plan(spec, views(a=SUCCEEDED, b=PENDING, ask=WAITING)) == Plan(
        ready=("b",), skipped=(), run_status=RunStatus.RUNNING, waiting=("ask",)
    )


def test_cancelled_step_is_not_done() -> None:
    assert plan(LINEAR, views(a=SUCCEEDED, b=CANCELLED, c=PENDING)) == Plan(
        ready=(), skipped=(), run_status=RunStatus.RUNNING
    )


def test_plan_does_not_change_the_views() -> None:
    steps = views(a=PENDING, b=PENDING, c=PENDING)

    plan(LINEAR, steps)

    assert steps == views(a=PENDING, b=PENDING, c=PENDING)


# -- retry_delay --------------------------------------------------------------------------------


def policy(**fields: object) -> RetryPolicy:
    return RetryPolicy.model_validate({"max_attempts": 10, **fields})


NO_JITTER = policy(backoff={"initial": 1, "multiplier": 2, "max": 60, "jitter": 0})


def test_retry_delay_grows_exponentially() -> None:
    delays = [retry_delay(NO_JITTER, attempt, "step_failed", True, 0.5) for attempt in range(1, 10)]

    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0, 60.0]


def test_retry_delay_uses_initial_and_multiplier() -> None:
    slow = policy(backoff={"initial": 0.5, "multiplier": 3, "max": 100, "jitter": 0})

    assert [retry_delay(slow, attempt, "x", True, 0.0) for attempt in (1, 2, 3, 4)] == [
        0.5,
        1.5,
        4.5,
        13.5,
    ]


def test_retry_delay_is_capped_at_max() -> None:
    capped = policy(backoff={"initial": 10, "multiplier": 10, "max": 25, "jitter": 0})

    assert [retry_delay(capped, attempt, "x", True, 0.3) for attempt in (1, 2, 3)] == [
        10.0,
        25.0,
        25.0,
    ]


def test_retry_delay_jitter_bounds() -> None:
    jittery = policy(backoff={"initial": 10, "multiplier": 2, "max": 60, "jitter": 0.2})

    assert retry_delay(jittery, 1, "x", True, 0.0) == pytest.approx(8.0)
    assert retry_delay(jittery, 1, "x", True, 0.5) == pytest.approx(10.0)
    assert retry_delay(jittery, 1, "x", True, 1.0) == pytest.approx(12.0)
    assert retry_delay(jittery, 2, "x", True, 0.0) == pytest.approx(16.0)
    assert retry_delay(jittery, 2, "x", True, 1.0) == pytest.approx(24.0)


def test_retry_delay_jitter_spreads_the_delay_and_max_is_a_hard_ceiling() -> None:
    jittery = policy(backoff={"initial": 10, "multiplier": 2, "max": 60, "jitter": 0.5})

    assert retry_delay(jittery, 2, "x", True, 0.0) == pytest.approx(10.0)
    assert retry_delay(jittery, 2, "x", True, 1.0) == pytest.approx(30.0)
    assert retry_delay(jittery, 4, "x", True, 0.0) == pytest.approx(40.0)
    assert retry_delay(jittery, 4, "x", True, 1.0) == pytest.approx(60.0)


def test_retry_delay_full_jitter_never_goes_negative() -> None:
    full = policy(backoff={"initial": 4, "multiplier": 2, "max": 60, "jitter": 1})

    assert retry_delay(full, 1, "x", True, 0.0) == 0.0
    assert retry_delay(full, 1, "x", True, 1.0) == pytest.approx(8.0)


def test_default_policy_does_not_retry() -> None:
    assert retry_delay(RetryPolicy(), 1, "step_failed", True, 0.5) is None


def test_attempts_exhausted_returns_none() -> None:
    three = RetryPolicy(max_attempts=3)

    assert [retry_delay(three, attempt, "step_failed", True, 0.5) for attempt in (1, 2, 3, 4)] == [
        1.0,
        2.0,
        None,
        None,
    ]


def test_non_retryable_error_returns_none() -> None:
    assert retry_delay(NO_JITTER, 1, "invalid_args", False, 0.5) is None


def test_retry_on_overrides_the_retryable_flag() -> None:
    only_timeouts = policy(retry_on=["step_timeout", "invalid_args"], backoff={"jitter": 0})

    assert retry_delay(only_timeouts, 1, "step_timeout", True, 0.5) == 1.0
    assert retry_delay(only_timeouts, 2, "invalid_args", False, 0.5) == 2.0
    assert retry_delay(only_timeouts, 1, "step_failed", True, 0.5) is None


def test_empty_retry_on_retries_nothing() -> None:
    assert retry_delay(policy(retry_on=[]), 1, "step_failed", True, 0.5) is None


def test_retry_on_does_not_extend_max_attempts() -> None:
    two = RetryPolicy(max_attempts=2, retry_on=["step_failed"])

    assert retry_delay(two, 2, "step_failed", True, 0.5) is None


# -- outputs ------------------------------------------------------------------------------------


def test_outputs_without_declared_outputs_are_every_step_result() -> None:
    results = {"a": {"value": 1}, "b": {"value": [2]}}

    assert outputs(LINEAR, {"name": "x"}, results, {}) == {
        "a": {"value": 1},
        "b": {"value": [2]},
        "c": None,
    }


def test_declared_outputs_render_against_inputs_state_and_ctx() -> None:
    spec = spec_of(
        "id: a",
        "id: b, needs: [a]",
        outputs=(
            "{total: '{{ state.b.total }}', label: '{{ inputs.name }}/{{ ctx.tenant }}',"
            " all: ['{{ state.a }}', 3]}"
        ),
    )
    results = {"a": {"v": [1, 2]}, "b": {"total": 12.5}}

    assert outputs(spec, {"name": "report"}, results, {"tenant": "acme"}) == {
        "total": 12.5,
        "label": "report/acme",
        "all": [{"v": [1, 2]}, 3],
    }


def test_outputs_reading_a_missing_result_raise_template_error() -> None:
    spec = spec_of("id: a", outputs="{total: '{{ state.a.total }}'}")

    with pytest.raises(TemplateError) as caught:
        outputs(spec, {}, {}, {})

    assert caught.value.message == (
        "cannot render '{{ state.a.total }}': 'dict object' has no attribute 'a'"
    )


def test_scope() -> None:
    assert scope({"i": 1}, {"s": 2}, {"c": 3}) == {
        "inputs": {"i": 1},
        "state": {"s": 2},
        "ctx": {"c": 3},
    }
