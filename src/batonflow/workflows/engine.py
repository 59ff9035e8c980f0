"""The pure core: from a spec and the committed state of its steps to what happens next.

No I/O here. `plan()` is called inside the checkpoint transaction after step results are applied;
it promotes steps whose needs are met, skips what a skipped need makes moot, and says what the
run's status must become. `retry_delay()` decides whether a failed attempt runs again and when.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from batonflow.runs.run import RunStatus, StepStatus
from batonflow.workflows import templates
from batonflow.workflows.spec import RetryPolicy, WorkflowSpec


@dataclass(frozen=True, slots=True)
class StepView:
    status: StepStatus
    exhausted: bool = False
    on_person: bool = True  # a waiting step waits on a person, not on a sub-workflow run


@dataclass(frozen=True, slots=True)
class Plan:
    ready: tuple[str, ...]
    skipped: tuple[str, ...]
    run_status: RunStatus
    failed_step: str | None = None
    waiting: tuple[str, ...] = ()


def plan(spec: WorkflowSpec, steps: Mapping[str, StepView]) -> Plan:
    status = {key: view.status for key, view in steps.items()}
    ready: list[str] = []
    skipped: list[str] = []
    changed = True
    while changed:  # skips cascade down the graph
        changed = False
        for step in spec.steps:
            if status[step.id] is not StepStatus.PENDING:
                continue
            needs = [status[need] for need in step.needs]
            if not all(need.done for need in needs):
                continue
            if StepStatus.SKIPPED in needs and step.when is None:
                status[step.id] = StepStatus.SKIPPED
                skipped.append(step.id)
            else:
                status[step.id] = StepStatus.READY
                ready.append(step.id)
            changed = True

    failed = [step.id for step in spec.steps if status[step.id] is StepStatus.FAILED]
    waiting = tuple(
        step.id
        for step in spec.steps
        if status[step.id] is StepStatus.WAITING and steps[step.id].on_person
    )
    if failed:
        dead = steps[failed[0]].exhausted
        run_status = RunStatus.DEAD if dead else RunStatus.FAILED
        return Plan(tuple(ready), tuple(skipped), run_status, failed[0], waiting)
    if all(status[step.id].done for step in spec.steps):
        run_status = RunStatus.SUCCEEDED
    elif any(
        status[s.id] in (StepStatus.READY, StepStatus.RUNNING)
        or (status[s.id] is StepStatus.WAITING and not steps[s.id].on_person)
        for s in spec.steps
    ):
        run_status = RunStatus.RUNNING
    elif waiting:
        run_status = RunStatus.WAITING
    else:
        run_status = RunStatus.RUNNING
    return Plan(tuple(ready), tuple(skipped), run_status, None, waiting)


def retry_delay(
    policy: RetryPolicy, attempt: int, error_code: str, retryable: bool, rand: float
) -> float | None:
    """Seconds until attempt `attempt + 1`, or None when the failure is final.

    `rand` is a number in [0, 1) that spreads the delay by +/- `jitter` of itself; `max` is a
    hard ceiling on the result.
    """
    if attempt >= policy.max_attempts:
        return None
    if policy.retry_on is not None:
        if error_code not in policy.retry_on:
            return None
    elif not retryable:
        return None
    backoff = policy.backoff
    base = backoff.initial * backoff.multiplier ** (attempt - 1)
    return min(backoff.max, max(0.0, base * (1 + backoff.jitter * (2 * rand - 1))))


def scope(
    inputs: Mapping[str, Any], results: Mapping[str, Any], ctx: Mapping[str, Any]
) -> dict[str, Any]:
    return {"inputs": dict(inputs), "state": dict(results), "ctx": dict(ctx)}


def outputs(
    spec: WorkflowSpec,
    inputs: Mapping[str, Any],
    results: Mapping[str, Any],
    ctx: Mapping[str, Any],
) -> dict[str, Any]:
    """The run's outputs; with none declared, every step's result."""
    if not spec.outputs:
        return {step.id: results.get(step.id) for step in spec.steps}
    rendered = templates.render(spec.outputs, scope(inputs, results, ctx))
    assert isinstance(rendered, dict)
    return rendered
