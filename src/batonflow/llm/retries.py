"""Retries and breakers: how one model of a route is called. A 429, 5xx, timeout or refused
connection is retried with exponential backoff and jitter (Retry-After honoured) up to
`max_retries`, each attempt held to the gateway's timeout or what is left of the step's
deadline; other 4xx are not retried. One circuit breaker per model, made on first use.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from opentelemetry.trace import Tracer
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception

from batonflow.agents.breaker import CircuitBreaker
from batonflow.errors import ModelError, ModelRateLimited, ModelTimeout, StepTimeout
from batonflow.llm.messages import ModelRequest, ModelResponse
from batonflow.llm.model import Model, TextSink


class Breakers:
    """The circuit breakers of the models called so far, one per `provider:model`."""

    def __init__(self, failures: int, reset_seconds: float, clock: Callable[[], float]) -> None:
        self.failures = failures
        self.reset_seconds = reset_seconds
        self.clock = clock
        self._breakers: dict[str, CircuitBreaker] = {}

    def get(self, model: str) -> CircuitBreaker:
        breaker = self._breakers.get(model)
        if breaker is None:
            breaker = self._breakers[model] = CircuitBreaker(
                model, self.failures, self.reset_seconds, self.clock
            )
        return breaker

    def all(self) -> list[CircuitBreaker]:
        return list(self._breakers.values())


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    timeout: float = 60.0
    max_retries: int = 3
    initial: float = 0.5
    max: float = 8.0
    max_wait: float = 30.0


class Retrier:
    def __init__(
        self,
        policy: RetryPolicy,
        *,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
        rand: Callable[[], float],
        tracer: Tracer,
    ) -> None:
        self.policy = policy
        self.clock = clock
        self.sleep = sleep
        self.rand = rand
        self.tracer = tracer

    async def call(
        self,
        model: Model,
        name: str,
        request: ModelRequest,
        deadline: float | None,
        on_text: TextSink | None,
        on_retry: Callable[[], None] | None = None,
    ) -> tuple[ModelResponse, int]:
        """The model's response and the retries it took; a final failure carries `retries`.
        `on_retry` runs before each retry (a stream starts again)."""
        policy = self.policy

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, ModelRateLimited) and exc.retry_after is not None:
                return float(exc.retry_after)
            backoff = min(policy.max, policy.initial * 2.0 ** (state.attempt_number - 1))
            return float(backoff / 2 + backoff / 2 * self.rand())

        def stop(state: RetryCallState) -> bool:
            if state.attempt_number > policy.max_retries:
                return True
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, ModelRateLimited) and (exc.retry_after or 0) > policy.max_wait:
                return True  # rate-limited past what we wait for: fall back instead
            # Waiting past the step's deadline is pointless: stop and fail (or fall back) now.
            return deadline is not None and self.clock() + wait(state) >= deadline

        # The first attempt runs outside tenacity, which costs a few hundred microseconds to set
        # up; a retryable failure is handed to it as its own first attempt, so the waits and
        # the stop rules are the same as if tenacity had made every attempt.
        try:
            return await self.once(model, name, request, deadline, on_text, 1), 0
        except ModelError as exc:
            if not exc.retryable:
                raise
            first: ModelError | None = exc
        retrying = AsyncRetrying(
            retry=retry_if_exception(lambda e: isinstance(e, ModelError) and e.retryable),
            stop=stop,
            wait=wait,
            sleep=self.sleep,
            reraise=True,
        )
        attempt_number = 0
        try:
            async for attempt in retrying:
                with attempt:
                    attempt_number = attempt.retry_state.attempt_number
                    if first is not None:
                        failure, first = first, None
                        raise failure
                    if on_retry is not None:
                        on_retry()
                    response = await self.once(
                        model, name, request, deadline, on_text, attempt_number
                    )
        except ModelError as exc:
            exc.retries = attempt_number - 1
            raise
        return response, attempt_number - 1

    def timeout(self, deadline: float | None) -> float:
        """The gateway's timeout, or what is left of the step's deadline if that is sooner."""
        timeout = self.policy.timeout
        if deadline is not None:
            left = deadline - self.clock()
            if left <= 0:
                raise StepTimeout("the step's deadline passed before the model call")
            timeout = min(timeout, left)
        return timeout

    async def once(
        self,
        model: Model,
        name: str,
        request: ModelRequest,
        deadline: float | None,
        on_text: TextSink | None,
        number: int,
    ) -> ModelResponse:
        """One attempt, held to its timeout."""
        timeout = self.timeout(deadline)
        with self.tracer.start_as_current_span(f"llm try {number}") as span:
            try:
                async with asyncio.timeout(timeout):
                    response = await model.request(request, timeout=timeout, on_text=on_text)
            except TimeoutError:
                raise ModelTimeout(
                    f"{name} did not answer within {timeout:.3g}s", model=name
                ) from None
            if span.is_recording():
                span.set_attributes(
                    {
                        "batonflow.llm.try": number,
                        "gen_ai.usage.input_tokens": response.usage.input_tokens,
                        "gen_ai.usage.output_tokens": response.usage.output_tokens,
                    }
                )
            return response
