"""The circuit breaker: closed, open after N failures, half-open after the reset time."""

from __future__ import annotations

import pytest

from batonflow.agents.breaker import BreakerState, CircuitBreaker
from batonflow.errors import CircuitOpen


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def open_breaker(clock: Clock, failures: int = 3, reset: float = 30.0) -> CircuitBreaker:
    breaker = CircuitBreaker(
        "quote.price", failure_threshold=failures, reset_seconds=reset, clock=clock
    )
    for _ in range(failures):
        breaker.before_call()
        breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    return breaker


def circuit_open(breaker: CircuitBreaker) -> CircuitOpen:
    with pytest.raises(CircuitOpen) as caught:
        breaker.before_call()
    return caught.value


def test_starts_closed_and_lets_calls_through() -> None:
    breaker = CircuitBreaker("x", clock=Clock())

    breaker.before_call()

    assert (breaker.state, breaker.failures, breaker.opened_at, breaker.probing) == (
        BreakerState.CLOSED,
        0,
        None,
        False,
    )


def test_stays_closed_below_the_threshold() -> None:
    breaker = CircuitBreaker("x", failure_threshold=3, clock=Clock())

    for _ in range(2):
        breaker.before_call()
        breaker.record_failure()

    assert (breaker.state, breaker.failures) == (BreakerState.CLOSED, 2)
    breaker.before_call()


def test_a_success_resets_the_consecutive_count() -> None:
    breaker = CircuitBreaker("x", failure_threshold=3, clock=Clock())

    for outcome in ("fail", "fail", "ok", "fail", "fail"):
        breaker.before_call()
        if outcome == "ok":
            breaker.record_success()
        else:
            breaker.record_failure()

    assert (breaker.state, breaker.failures) == (BreakerState.CLOSED, 2)


def test_opens_after_n_consecutive_failures() -> None:
    clock = Clock(500.0)

    breaker = open_breaker(clock, failures=3)

    assert (breaker.failures, breaker.opened_at) == (3, 500.0)


def test_open_breaker_fails_fast() -> None:
    clock = Clock(1000.0)
    breaker = open_breaker(clock, failures=3, reset=30.0)
    clock.now += 12.25

    error = circuit_open(breaker)

    assert error.message == (
        "circuit for 'quote.price' is open after 3 consecutive failures; next probe in 17.8s"
    )
    assert error.details == {"capability": "quote.price", "retry_in": 17.75}
    assert (error.code, error.retryable) == ("circuit_open", True)


def test_open_breaker_right_after_opening() -> None:
    breaker = open_breaker(Clock(), failures=2, reset=30.0)

    error = circuit_open(breaker)

    assert error.details == {"capability": "quote.price", "retry_in": 30.0}
    assert error.message.endswith("after 2 consecutive failures; next probe in 30.0s")


def test_half_open_after_the_reset_time() -> None:
    clock = Clock()
    breaker = open_breaker(clock, reset=30.0)

    clock.now += 29.999
    assert breaker.state is BreakerState.OPEN
    clock.now += 0.001
    assert breaker.state is BreakerState.HALF_OPEN


def test_half_open_lets_exactly_one_probe_through() -> None:
    clock = Clock()
    breaker = open_breaker(clock, reset=30.0)
    clock.now += 45

    breaker.before_call()  # the probe

    assert breaker.probing is True
    second = circuit_open(breaker)
    assert second.details == {"capability": "quote.price", "retry_in": 0.0}
    assert second.message == (
        "circuit for 'quote.price' is open after 3 consecutive failures; next probe in 0.0s"
    )
    circuit_open(breaker)


def test_probe_success_closes_the_breaker() -> None:
    clock = Clock()
    breaker = open_breaker(clock, reset=30.0)
    clock.now += 30
    breaker.before_call()

    breaker.record_success()

    assert (breaker.state, breaker.failures, breaker.opened_at, breaker.probing) == (
        BreakerState.CLOSED,
        0,
        None,
        False,
    )
    breaker.before_call()
    breaker.before_call()


def test_probe_failure_reopens_the_breaker_for_a_full_reset_period() -> None:
    clock = Clock(1000.0)
    breaker = open_breaker(clock, failures=3, reset=30.0)
    clock.now = 1040.0
    breaker.before_call()

    breaker.record_failure()

    assert (breaker.state, breaker.failures, breaker.opened_at, breaker.probing) == (
        BreakerState.OPEN,
        4,
        1040.0,
        False,
    )
    assert circuit_open(breaker).details == {"capability": "quote.price", "retry_in": 30.0}
    clock.now = 1070.0
    assert breaker.state is BreakerState.HALF_OPEN
    breaker.before_call()
    assert breaker.probing is True


def test_a_single_failure_reopens_after_a_probe_even_with_a_high_threshold() -> None:
    clock = Clock()
    breaker = open_breaker(clock, failures=5, reset=10.0)
    clock.now += 10
    breaker.before_call()
    breaker.record_success()

    breaker.before_call()
    breaker.record_failure()

    assert (breaker.state, breaker.failures) == (BreakerState.CLOSED, 1)


def test_defaults() -> None:
    breaker = CircuitBreaker("x")

    assert (breaker.failure_threshold, breaker.reset_seconds, breaker.state) == (
        5,
        30.0,
        BreakerState.CLOSED,
    )
