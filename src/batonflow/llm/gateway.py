"""The LLM gateway: the one path from agents and `llm` steps to models. It only orchestrates
(docs/architecture.md, "The LLM gateway"): routing, retries and breakers, budgets and the
ledger, output repair are each their own module.
"""

from __future__ import annotations

import asyncio
import functools
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from opentelemetry.trace import Tracer
from pydantic import BaseModel

from batonflow.agents.breaker import CircuitBreaker
from batonflow.errors import BudgetExceeded, CircuitOpen, ModelError
from batonflow.ids import new_id
from batonflow.llm.ledger import Accounts, CallScope, Ledger, TenantPolicy
from batonflow.llm.messages import ModelRequest, ToolCall, Usage
from batonflow.llm.model import split_name
from batonflow.llm.prices import PriceTable
from batonflow.llm.records import CallRecord
from batonflow.llm.repair import check_output, gave_up, invalid, reask
from batonflow.llm.retries import Breakers, Retrier, RetryPolicy
from batonflow.llm.routing import Hops, ModelSource, Router
from batonflow.telemetry.traces import NO_TRACER

Publish = Callable[[dict[str, Any]], None]


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    routes: dict[str, list[str]]
    default: str = "default"
    timeout: float = 60.0
    max_retries: int = 3
    retry_initial: float = 0.5
    retry_max: float = 8.0
    retry_max_wait: float = 30.0
    output_retries: int = 2
    breaker_failures: int = 5
    breaker_reset_seconds: float = 30.0
    redact: tuple[str, ...] = ()


@dataclass
class Completion:
    """A successful gateway call: the text, the parsed value (schema output or the text), the
    model that answered and every call recorded on the way (one per hop and re-ask)."""

    text: str
    value: Any
    model: str
    usage: Usage
    cost_usd: Decimal | None
    calls: list[CallRecord] = field(default_factory=list)
    tool_calls: tuple[ToolCall, ...] = ()  # tools the model asks to call (the request had tools)


class Gateway:
    def __init__(
        self,
        config: GatewayConfig,
        models: ModelSource,
        ledger: Ledger,
        prices: PriceTable,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        rand: Callable[[], float] = random.random,
        tracer: Tracer = NO_TRACER,
    ) -> None:
        self.config = config
        self.models = models
        self.ledger = ledger
        self.clock = clock
        self.tracer = tracer
        self.router = Router(config.routes, config.default, models)
        self.accounts = Accounts(ledger, prices, now, config.redact)
        self.retrier = Retrier(
            RetryPolicy(
                timeout=config.timeout,
                max_retries=config.max_retries,
                initial=config.retry_initial,
                max=config.retry_max,
                max_wait=config.retry_max_wait,
            ),
            clock=clock,
            sleep=sleep,
            rand=rand,
            tracer=tracer,
        )
        self._breakers = Breakers(config.breaker_failures, config.breaker_reset_seconds, clock)

    async def aclose(self) -> None:
        """Release the providers' connections; call once the gateway is no longer used."""
        await self.models.aclose()

    def check_target(self, target: str | None) -> str | None:
        """A problem with a route or model name, or None: for validating workflow specs."""
        return self.router.check_target(target)

    def breakers(self) -> list[CircuitBreaker]:
        """The breakers of the models called so far."""
        return self._breakers.all()

    def breaker(self, model: str) -> CircuitBreaker:
        return self._breakers.get(model)

    async def complete(
        self,
        request: ModelRequest,
        scope: CallScope,
        *,
        target: str | None = None,
        output_model: type[BaseModel] | None = None,
        publish: Publish | None = None,
        calls: list[CallRecord] | None = None,
    ) -> Completion:
        """Call the route (or model) `target` names; every recorded call is also appended to
        `calls`, whether the call succeeds or not."""
        if output_model is not None and request.output_schema is None:
            request = request.model_copy(update={"output_schema": output_model.model_json_schema()})
        route, chain = self.router.resolve(target)
        with self.tracer.start_as_current_span(f"llm {target or self.config.default}") as span:
            if span.is_recording():
                span.set_attributes(
                    {
                        "batonflow.tenant_id": scope.tenant_id,
                        "batonflow.run_id": scope.run_id or "",
                        "batonflow.step.key": scope.step_key or "",
                        "batonflow.llm.route": route or "",
                    }
                )
            hops = Hops(route, chain)
            policy = await self.ledger.policy(scope.tenant_id)
            recorded = [] if calls is None else calls
            for hop, name in enumerate(chain):
                try:
                    with self.tracer.start_as_current_span(f"llm hop {name}") as hop_span:
                        if hop_span.is_recording():
                            provider, model = split_name(name)
                            hop_span.set_attributes(
                                {
                                    "gen_ai.system": provider,
                                    "gen_ai.request.model": model,
                                    "batonflow.llm.hop": hop,
                                }
                            )
                        return await self._hop(
                            request,
                            scope,
                            policy,
                            route,
                            hop,
                            name,
                            output_model,
                            publish,
                            recorded,
                        )
                except (ModelError, CircuitOpen, BudgetExceeded) as exc:
                    hops.failure(hop, name, exc)
            raise hops.error()

    async def _hop(
        self,
        request: ModelRequest,
        scope: CallScope,
        policy: TenantPolicy,
        route: str | None,
        hop: int,
        name: str,
        output_model: type[BaseModel] | None,
        publish: Publish | None,
        calls: list[CallRecord],
    ) -> Completion:
        """One model of the route: breaker and budget first, then the call and its re-asks."""
        breaker = self._breakers.get(name)
        try:
            breaker.before_call()
        except CircuitOpen as exc:
            calls.append(
                await self.accounts.record(scope, policy, route, hop, name, request, error=exc)
            )
            raise
        try:
            await self.accounts.check(scope, policy, name, request)
        except BudgetExceeded as exc:
            breaker.release_probe()
            calls.append(
                await self.accounts.record(scope, policy, route, hop, name, request, error=exc)
            )
            raise
        model = self.models.get(name)
        record = functools.partial(self.accounts.record, scope, policy, route, hop, name)
        asks = 0
        while True:
            call_id = new_id()
            started = self.clock()
            deltas = None if publish is None else Deltas(publish, call_id, name, scope, self.clock)
            try:
                restart = None if deltas is None else deltas.restart
                response, retries = await self.retrier.call(
                    model, name, request, scope.deadline, deltas, restart
                )
            except ModelError as exc:
                breaker.record_failure()
                latency = self.clock() - started
                calls.append(
                    await record(
                        request, error=exc, call_id=call_id, retries=exc.retries, latency=latency
                    )
                )
                raise
            except BaseException:
                breaker.release_probe()
                raise
            breaker.record_success()
            latency = self.clock() - started
            ttft = None if deltas is None or deltas.first is None else deltas.first - started
            value: Any = response.text
            problem = None
            if request.output_schema is not None and not response.tool_calls:
                value, problem = check_output(response.text, request.output_schema, output_model)
            call = await record(
                request,
                response=response,
                error=None if problem is None else invalid(name, problem, response.text),
                call_id=call_id,
                retries=retries,
                latency=latency,
                ttft=ttft,
            )
            calls.append(call)
            if problem is None:
                if isinstance(value, BaseModel) and output_model is None:
                    value = value.model_dump(mode="json")
                return Completion(
                    text=response.text,
                    value=value,
                    model=name,
                    usage=response.usage,
                    cost_usd=call.cost_usd,
                    calls=calls,
                    tool_calls=response.tool_calls,
                )
            asks += 1
            if asks > self.config.output_retries:
                raise gave_up(name, asks, problem, response.text)
            request = reask(request, response.text, problem)


@dataclass
class Deltas:
    """Publishes a call's streamed text as `llm.delta` data. A retried attempt streams again from
    the start under the next `retry` number, so a follower drops what it showed of the failed one."""

    publish: Publish
    call_id: str
    model: str
    scope: CallScope
    clock: Callable[[], float]
    first: float | None = None  # when the first text arrived (time to first token)
    index: int = 0
    retry: int = 0

    def restart(self) -> None:
        self.retry += 1
        self.index = 0
        self.first = None

    def __call__(self, text: str) -> None:
        if self.first is None:
            self.first = self.clock()
        self.publish(
            {
                "call_id": self.call_id,
                "model": self.model,
                "run_id": self.scope.run_id,
                "step_key": self.scope.step_key,
                "retry": self.retry,
                "index": self.index,
                "text": text,
            }
        )
        self.index += 1
