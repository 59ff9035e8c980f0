"""Retries and breakers: one model's call, retried on what may pass, held to its deadline."""

from __future__ import annotations

import asyncio

import pytest

from batonflow.agents.breaker import BreakerState
from batonflow.errors import ModelRateLimited, ModelRejected, ModelUnavailable, StepTimeout
from batonflow.llm.messages import ModelRequest, UserMessage
from batonflow.llm.retries import Breakers, Retrier, RetryPolicy
from batonflow.telemetry.traces import NO_TRACER
from batonflow_testkit.scripted import ScriptedModel

MINI = "openai:gpt-4.1-mini"
REQUEST = ModelRequest(messages=(UserMessage(content="Say hello"),))


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def retrier(clock: Clock, sleeps: list[float], **policy: float) -> Retrier:
    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock.now += seconds
        await asyncio.sleep(0)

    return Retrier(
        RetryPolicy(**{"max_retries": 3, "initial": 0.5, "max": 8.0, **policy}),  # type: ignore[arg-type]
        clock=clock,
        sleep=sleep,
        rand=lambda: 0.5,
        tracer=NO_TRACER,
    )


async def test_retryable_failures_back_off_and_count_as_retries() -> None:
    sleeps: list[float] = []
    model = ScriptedModel(
        [ModelUnavailable("down"), ModelRateLimited("slow down", retry_after=2.0), "hello"]
    )
    restarts: list[str] = []

    response, retries = await retrier(Clock(), sleeps).call(
        model, MINI, REQUEST, None, None, lambda: restarts.append("again")
    )

    assert (response.text, retries, sleeps, restarts) == (
        "hello",
        2,
        [0.375, 2.0],
        ["again", "again"],
    )


async def test_a_rejected_call_is_not_retried() -> None:
    sleeps: list[float] = []

    with pytest.raises(ModelRejected) as caught:
        await retrier(Clock(), sleeps).call(
            ScriptedModel([ModelRejected("bad key")]), MINI, REQUEST, None, None
        )

    assert (caught.value.retries, sleeps) == (0, [])


async def test_retries_stop_at_the_limit_and_before_a_wait_past_the_deadline() -> None:
    sleeps: list[float] = []
    down = [ModelUnavailable("down") for _ in range(5)]
    with pytest.raises(ModelUnavailable) as limited:
        await retrier(Clock(), sleeps, max_retries=2).call(
            ScriptedModel(down), MINI, REQUEST, None, None
        )
    clock = Clock()
    with pytest.raises(ModelUnavailable) as deadline:
        await retrier(clock, [], max_retries=5).call(
            ScriptedModel(list(down)), MINI, REQUEST, clock.now + 1.0, None
        )

    assert (limited.value.retries, sleeps, deadline.value.retries) == (2, [0.375, 0.75], 1)


def test_an_attempt_gets_what_is_left_of_the_deadline() -> None:
    clock = Clock()
    retry = retrier(clock, [], timeout=60.0)

    assert (retry.timeout(None), retry.timeout(clock.now + 2.5)) == (60.0, 2.5)
    with pytest.raises(StepTimeout):
        retry.timeout(clock.now)


def test_one_breaker_per_model() -> None:
    breakers = Breakers(2, 30.0, Clock())
    first = breakers.get(MINI)
    first.record_failure()
    first.record_failure()

    assert (breakers.get(MINI) is first, [b.name for b in breakers.all()], first.state) == (
        True,
        [MINI],
        BreakerState.OPEN,
    )
