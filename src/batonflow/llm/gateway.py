"""The LLM gateway: the one path from agents and `llm` steps to models.

    complete(request, target, scope)
      for each model of the route (a fallback chain):
        skip it if its breaker is open or the call would pass a budget     -> hop recorded
        call it, retrying 429 / 5xx / timeouts / refused connections       -> tenacity
          (exponential backoff with jitter; Retry-After honoured; other 4xx not retried)
        a Retry-After longer than `llm_retry_max_wait` ends the retries: fall back at once
        check structured output; on invalid output ask again with the error, up to a limit
        record the hop: tokens, exact cost, latency, time to first token, status, retries
      every model failed -> RouteExhausted (or that one model's classified error)

Calls are written to the ledger as they finish, so accounting survives a crash of the step that
made them. A cancelled task cancels its in-flight call (the HTTP request, or the local
generation between two tokens).
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol

import jsonschema
import pydantic_core
from opentelemetry import trace
from opentelemetry.trace import Tracer
from pydantic import BaseModel, ValidationError
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception

from batonflow.agents.breaker import CircuitBreaker
from batonflow.errors import (
    BudgetExceeded,
    CircuitOpen,
    ConfigError,
    ModelError,
    ModelRateLimited,
    ModelTimeout,
    OutputInvalid,
    RouteExhausted,
    StepTimeout,
)
from batonflow.ids import new_id
from batonflow.llm.messages import (
    AssistantMessage,
    Message,
    ModelRequest,
    ModelResponse,
    SystemMessage,
    Usage,
    UserMessage,
)
from batonflow.llm.model import Model, split_name
from batonflow.llm.prices import PriceTable
from batonflow.telemetry import traces
from batonflow.telemetry.logs import get_logger
from batonflow.telemetry.traces import NO_TRACER

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Budget:
    """Caps on tokens and on cost; None means no cap."""

    tokens: int | None = None
    cost_usd: Decimal | None = None

    @property
    def empty(self) -> bool:
        return self.tokens is None and self.cost_usd is None


@dataclass(frozen=True, slots=True)
class TenantPolicy:
    log_bodies: bool = False
    monthly: Budget = Budget()


@dataclass(frozen=True, slots=True)
class Spent:
    tokens: int = 0
    cost_usd: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class CallScope:
    """Who a call is for and what limits it."""

    tenant_id: str
    run_id: str | None = None
    step_key: str | None = None
    attempt: int | None = None
    deadline: float | None = None  # time.monotonic() by which the step must be done
    run_budget: Budget = Budget()
    prompt_key: str | None = None
    prompt_version: int | None = None


class Ledger(Protocol):
    """Where calls are recorded and budgets are read from (the database, in production)."""

    async def policy(self, tenant_id: str) -> TenantPolicy: ...
    async def spent_by_run(self, tenant_id: str, run_id: str) -> Spent: ...
    async def spent_by_tenant(self, tenant_id: str, since: datetime) -> Spent: ...
    async def record(self, row: dict[str, Any]) -> None: ...


class ModelSource(Protocol):
    def get(self, qualified: str) -> Model: ...
    def providers(self) -> Sequence[str]: ...
    async def aclose(self) -> None: ...


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
    model that answered and every row recorded on the way (one per hop and re-ask)."""

    text: str
    value: Any
    model: str
    usage: Usage
    cost_usd: Decimal | None
    calls: list[dict[str, Any]] = field(default_factory=list)


Publish = Callable[[dict[str, Any]], None]


def estimate_tokens(request: ModelRequest) -> int:
    """Prompt tokens before sending: one per four characters plus four per message, rounded up.
    Used only by budget checks; recorded usage always comes from the provider."""
    chars = sum(len(getattr(m, "content", "")) for m in request.messages)
    if request.output_schema is not None:
        chars += len(json.dumps(request.output_schema))
    return math.ceil(chars / 4) + 4 * len(request.messages)


def month_start(now: datetime) -> datetime:
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _strip_fences(text: str) -> str:
    stripped = text.strip()
    if stripped.startswith("```"):
        stripped = stripped.split("\n", 1)[1] if "\n" in stripped else ""
        if stripped.rstrip().endswith("```"):
            stripped = stripped.rstrip()[:-3]
    return stripped.strip()


def check_output(
    text: str, schema: dict[str, Any], model: type[BaseModel] | None = None
) -> tuple[Any, str | None]:
    """(value, None) when `text` is JSON that fits; (None, what is wrong) otherwise."""
    try:
        value = pydantic_core.from_json(_strip_fences(text))
    except ValueError as exc:
        return None, f"the reply is not valid JSON ({exc})"
    if model is not None:
        try:
            return model.model_validate(value), None
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'value'}: {e['msg']}" for e in exc.errors()
            )
            return None, f"the JSON does not fit the schema: {problems}"
    errors = sorted(
        jsonschema.Draft202012Validator(schema).iter_errors(value), key=lambda e: list(e.path)
    )
    if errors:
        problems = "; ".join(
            f"{'.'.join(map(str, e.path)) or 'value'}: {e.message}" for e in errors[:5]
        )
        return None, f"the JSON does not fit the schema: {problems}"
    return value, None


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
        self.rand = rand
        self.tracer = tracer
        self.config = config
        self.models = models
        self.ledger = ledger
        self.prices = prices
        self.clock = clock
        self.sleep = sleep
        self.now = now
        self._breakers: dict[str, CircuitBreaker] = {}
        self._redact = [re.compile(p) for p in config.redact]

    # -- naming --------------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Release the providers' connections; call once the gateway is no longer used."""
        await self.models.aclose()

    def resolve(self, target: str | None) -> tuple[str | None, list[str]]:
        """(route name or None, the ordered models) for a route name or `provider:model`."""
        name = target or self.config.default
        if name in self.config.routes:
            return name, list(self.config.routes[name])
        if ":" not in name:
            known = ", ".join(sorted(self.config.routes)) or "none"
            raise ConfigError(
                f"'{name}' is neither a route (configured: {known}) nor a provider:model name"
            )
        provider, _ = split_name(name)
        if provider not in self.models.providers():
            raise ConfigError(
                f"model '{name}': provider '{provider}' is not configured "
                f"(configured: {', '.join(self.models.providers())})"
            )
        return None, [name]

    def check_target(self, target: str | None) -> str | None:
        """A problem with a route or model name, or None: for validating workflow specs."""
        try:
            self.resolve(target)
        except ConfigError as exc:
            return exc.message
        return None

    def breakers(self) -> list[CircuitBreaker]:
        """The breakers of the models called so far."""
        return list(self._breakers.values())

    def breaker(self, model: str) -> CircuitBreaker:
        if model not in self._breakers:
            self._breakers[model] = CircuitBreaker(
                model, self.config.breaker_failures, self.config.breaker_reset_seconds, self.clock
            )
        return self._breakers[model]

    # -- calling -------------------------------------------------------------------------------

    async def complete(
        self,
        request: ModelRequest,
        scope: CallScope,
        *,
        target: str | None = None,
        output_model: type[BaseModel] | None = None,
        publish: Publish | None = None,
        calls: list[dict[str, Any]] | None = None,
    ) -> Completion:
        """Call the route (or model) `target` names; every recorded row is also appended to
        `calls`, whether the call succeeds or not."""
        if output_model is not None and request.output_schema is None:
            request = request.model_copy(update={"output_schema": output_model.model_json_schema()})
        route, chain = self.resolve(target)
        with traces.span(self.tracer, f"llm {target or self.config.default}") as span:
            if span.is_recording():
                span.set_attributes(
                    {
                        "batonflow.tenant_id": scope.tenant_id,
                        "batonflow.run_id": scope.run_id or "",
                        "batonflow.step.key": scope.step_key or "",
                        "batonflow.llm.route": route or "",
                    }
                )
            return await self._complete(
                request, scope, route, chain, output_model, publish, [] if calls is None else calls
            )

    async def _complete(
        self,
        request: ModelRequest,
        scope: CallScope,
        route: str | None,
        chain: list[str],
        output_model: type[BaseModel] | None,
        publish: Publish | None,
        calls: list[dict[str, Any]],
    ) -> Completion:
        policy = await self.ledger.policy(scope.tenant_id)
        hops: list[dict[str, Any]] = []
        last: Exception | None = None
        for hop, name in enumerate(chain):
            try:
                with traces.span(self.tracer, f"llm hop {name}") as span:
                    if span.is_recording():
                        provider, model = split_name(name)
                        span.set_attributes(
                            {
                                "gen_ai.system": provider,
                                "gen_ai.request.model": model,
                                "batonflow.llm.hop": hop,
                            }
                        )
                    return await self._hop(
                        request, scope, policy, route, hop, name, output_model, publish, calls
                    )
            except (ModelError, CircuitOpen, BudgetExceeded) as exc:
                last = exc
                hops.append({"model": name, "code": exc.code, "message": exc.message})
                if isinstance(exc, OutputInvalid) or len(chain) == hop + 1:
                    continue
                log.warning("llm.fallback", model=name, error_code=exc.code)
        assert last is not None
        if len(chain) == 1:
            raise last
        if all(h["code"] == "budget_exceeded" for h in hops):
            raise BudgetExceeded(
                f"every model of route '{route}' would pass a budget", details={"hops": hops}
            )
        raise RouteExhausted(
            f"every model of route '{route}' failed: "
            + "; ".join(f"{h['model']}: {h['code']}" for h in hops),
            model=route or "",
            details={"hops": hops},
        )

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
        calls: list[dict[str, Any]],
    ) -> Completion:
        breaker = self.breaker(name)
        try:
            breaker.before_call()
        except CircuitOpen as exc:
            calls.append(await self._record(scope, policy, route, hop, name, request, error=exc))
            raise
        try:
            await self._check_budget(scope, policy, name, request)
        except BudgetExceeded as exc:
            breaker.release_probe()
            calls.append(await self._record(scope, policy, route, hop, name, request, error=exc))
            raise
        model = self.models.get(name)
        asks = 0
        while True:
            call_id = new_id()
            started = self.clock()
            first: list[float] = []
            on_text = None
            if publish is not None:
                on_text = self._sink(publish, call_id, name, scope, started, first)
            retries = 0
            try:
                response, retries = await self._with_retries(model, name, request, scope, on_text)
            except ModelError as exc:
                breaker.record_failure()
                calls.append(
                    await self._record(
                        scope,
                        policy,
                        route,
                        hop,
                        name,
                        request,
                        error=exc,
                        call_id=call_id,
                        retries=exc.retries,
                        latency=self.clock() - started,
                    )
                )
                raise
            except BaseException:
                breaker.release_probe()
                raise
            breaker.record_success()
            latency = self.clock() - started
            ttft = first[0] - started if first else None
            value: Any = response.text
            problem = None
            if request.output_schema is not None:
                value, problem = check_output(response.text, request.output_schema, output_model)
            error = None
            if problem is not None:
                error = OutputInvalid(
                    f"{name} gave output that does not fit the schema: {problem}",
                    model=name,
                    details={"raw": response.text},
                )
            row = await self._record(
                scope,
                policy,
                route,
                hop,
                name,
                request,
                response=response,
                error=error,
                call_id=call_id,
                retries=retries,
                latency=latency,
                ttft=ttft,
            )
            calls.append(row)
            if error is None:
                if isinstance(value, BaseModel):
                    value = value.model_dump(mode="json") if output_model is None else value
                return Completion(
                    text=response.text,
                    value=value,
                    model=name,
                    usage=response.usage,
                    cost_usd=row["cost_usd"],
                    calls=calls,
                )
            asks += 1
            if asks > self.config.output_retries:
                raise OutputInvalid(
                    f"{name} gave output that does not fit the schema {asks} times; "
                    f"last problem: {problem}",
                    model=name,
                    details={"raw": response.text, "problem": problem},
                )
            request = request.model_copy(
                update={
                    "messages": (
                        *request.messages,
                        AssistantMessage(content=response.text),
                        UserMessage(
                            content=f"That reply was rejected: {problem}. Answer again with "
                            "only JSON that fits the schema."
                        ),
                    )
                }
            )

    def _sink(
        self,
        publish: Publish,
        call_id: str,
        model: str,
        scope: CallScope,
        started: float,
        first: list[float],
    ) -> _Deltas:
        return _Deltas(publish, call_id, model, scope, first, self.clock)

    def _timeout(self, scope: CallScope) -> float:
        timeout = self.config.timeout
        if scope.deadline is not None:
            left = scope.deadline - self.clock()
            if left <= 0:
                raise StepTimeout("the step's deadline passed before the model call")
            timeout = min(timeout, left)
        return timeout

    async def _with_retries(
        self,
        model: Model,
        name: str,
        request: ModelRequest,
        scope: CallScope,
        on_text: Callable[[str], None] | None,
    ) -> tuple[ModelResponse, int]:
        cfg = self.config

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, ModelRateLimited) and exc.retry_after is not None:
                return float(exc.retry_after)
            backoff = min(cfg.retry_max, cfg.retry_initial * 2.0 ** (state.attempt_number - 1))
            return float(backoff / 2 + backoff / 2 * self.rand())

        def stop(state: RetryCallState) -> bool:
            if state.attempt_number > cfg.max_retries:
                return True
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, ModelRateLimited) and (exc.retry_after or 0) > cfg.retry_max_wait:
                return True  # rate-limited past what we wait for: fall back instead
            # Waiting past the step's deadline is pointless: stop and fail (or fall back) now.
            return scope.deadline is not None and self.clock() + wait(state) >= scope.deadline

        retrying = AsyncRetrying(
            retry=retry_if_exception(lambda e: isinstance(e, ModelError) and e.retryable),
            stop=stop,
            wait=wait,
            sleep=self.sleep,
            reraise=True,
        )
        # The first attempt runs outside tenacity, which costs a few hundred microseconds to set
        # up; a retryable failure is handed to it as its own first attempt, so the waits and
        # the stop rules are the same as if tenacity had made every attempt.
        try:
            return await self._once(model, name, request, scope, on_text, 1), 0
        except ModelError as exc:
            if not exc.retryable:
                raise
            first: ModelError | None = exc
        attempt_number = 0
        try:
            async for attempt in retrying:
                with attempt:
                    attempt_number = attempt.retry_state.attempt_number
                    if first is not None:
                        failure, first = first, None
                        raise failure
                    if isinstance(on_text, _Deltas):
                        on_text.restart()
                    response = await self._once(
                        model, name, request, scope, on_text, attempt_number
                    )
        except ModelError as exc:
            exc.retries = attempt_number - 1
            raise
        return response, attempt_number - 1

    async def _once(
        self,
        model: Model,
        name: str,
        request: ModelRequest,
        scope: CallScope,
        on_text: Callable[[str], None] | None,
        number: int,
    ) -> ModelResponse:
        timeout = self._timeout(scope)
        with traces.span(self.tracer, f"llm try {number}") as span:
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

    async def _check_budget(
        self, scope: CallScope, policy: TenantPolicy, name: str, request: ModelRequest
    ) -> None:
        if scope.run_budget.empty and policy.monthly.empty:
            return
        est_in = estimate_tokens(request)
        tokens = est_in + request.max_tokens
        price = self.prices.price(name)
        cost = (
            price.cost(Usage(input_tokens=est_in, output_tokens=request.max_tokens))
            if price
            else None
        )
        checks: list[tuple[str, Budget, Spent]] = []
        if not scope.run_budget.empty and scope.run_id is not None:
            spent = await self.ledger.spent_by_run(scope.tenant_id, scope.run_id)
            checks.append(("the run's", scope.run_budget, spent))
        if not policy.monthly.empty:
            since = month_start(self.now())
            spent = await self.ledger.spent_by_tenant(scope.tenant_id, since)
            checks.append(("the tenant's monthly", policy.monthly, spent))
        for label, cap, used in checks:
            if cap.tokens is not None and used.tokens + tokens > cap.tokens:
                raise BudgetExceeded(
                    f"a call to {name} of up to {tokens} tokens would pass {label} cap of "
                    f"{cap.tokens} tokens ({used.tokens} used)",
                    details={"cap": "tokens", "limit": cap.tokens, "used": used.tokens},
                )
            if cap.cost_usd is not None:
                if cost is None:
                    raise BudgetExceeded(
                        f"{name} has no price in table {self.prices.version}, so a call cannot "
                        f"be held to {label} cost cap",
                        details={"cap": "cost_usd", "model": name},
                    )
                if used.cost_usd + cost > cap.cost_usd:
                    raise BudgetExceeded(
                        f"a call to {name} costing up to ${cost} would pass {label} cap of "
                        f"${cap.cost_usd} (${used.cost_usd} used)",
                        details={
                            "cap": "cost_usd",
                            "limit": str(cap.cost_usd),
                            "used": str(used.cost_usd),
                        },
                    )

    def redact(self, text: str) -> str:
        for pattern in self._redact:
            text = pattern.sub("[redacted]", text)
        return text

    async def _record(
        self,
        scope: CallScope,
        policy: TenantPolicy,
        route: str | None,
        hop: int,
        name: str,
        request: ModelRequest,
        *,
        response: ModelResponse | None = None,
        error: Exception | None = None,
        call_id: str | None = None,
        retries: int = 0,
        latency: float | None = None,
        ttft: float | None = None,
    ) -> dict[str, Any]:
        provider, model = split_name(name)
        usage = response.usage if response is not None else Usage()
        cost: Decimal | None = None
        if response is not None:
            cost = self.prices.cost(name, usage)
            if cost is None:
                log.warning("llm.unpriced", model=name, price_table=self.prices.version)
        if error is None:
            status = "ok"
        elif isinstance(error, OutputInvalid):
            status = "invalid_output"
        elif isinstance(error, CircuitOpen | BudgetExceeded):
            status = "skipped"
        else:
            status = "error"
        row: dict[str, Any] = {
            "id": call_id or new_id(),
            "tenant_id": scope.tenant_id,
            "run_id": scope.run_id,
            "step_key": scope.step_key,
            "attempt": scope.attempt,
            "route": route,
            "hop": hop,
            "provider": provider,
            "model": model,
            "status": status,
            "error_code": getattr(error, "code", None),
            "error_message": getattr(error, "message", None),
            "retries": retries,
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "cached_input_tokens": usage.cached_input_tokens,
            "cache_write_tokens": usage.cache_write_tokens,
            "reasoning_tokens": usage.reasoning_tokens,
            "cost_usd": cost,
            "price_version": self.prices.version if cost is not None else None,
            "latency_ms": None if latency is None else round(latency * 1000, 3),
            "ttft_ms": None if ttft is None else round(ttft * 1000, 3),
            "prompt_key": scope.prompt_key,
            "prompt_version": scope.prompt_version,
            "prompt_hash": request.prompt_hash(),
            "request_body": None,
            "response_body": None,
            "created_at": self.now(),
        }
        if policy.log_bodies:
            messages = [m.model_dump(mode="json") for m in request.messages]
            row["request_body"] = self.redact(json.dumps(messages, ensure_ascii=False))
            if response is not None:
                row["response_body"] = self.redact(response.text)
        await self.ledger.record(row)
        span = trace.get_current_span()
        if span.is_recording():
            span.set_attributes(
                {
                    "batonflow.llm.call_id": row["id"],
                    "batonflow.llm.status": status,
                    "batonflow.llm.retries": retries,
                    "gen_ai.usage.input_tokens": usage.input_tokens,
                    "gen_ai.usage.output_tokens": usage.output_tokens,
                    "batonflow.llm.cost_usd": str(cost) if cost is not None else "",
                }
            )
        log.info(
            "llm.call",
            provider=provider,
            model=model,
            status=status,
            error_code=row["error_code"],
            retries=retries,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cost_usd=None if cost is None else str(cost),
            latency_ms=row["latency_ms"],
        )
        return row


@dataclass
class _Deltas:
    """Publishes a call's streamed text as `llm.delta` data. A retried attempt streams again from
    the start under the next `retry` number, so a follower drops what it showed of the failed one."""

    publish: Publish
    call_id: str
    model: str
    scope: CallScope
    first: list[float]  # when the first text arrived (time to first token)
    clock: Callable[[], float]
    index: int = 0
    retry: int = 0

    def restart(self) -> None:
        self.retry += 1
        self.index = 0
        self.first.clear()

    def __call__(self, text: str) -> None:
        if not self.first:
            self.first.append(self.clock())
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


def call_event(row: dict[str, Any]) -> dict[str, Any]:
    """The `llm.call` event data of a ledger row."""
    cost = row["cost_usd"]
    return {
        "call_id": row["id"],
        **{
            name: row[name]
            for name in (
                "provider",
                "model",
                "route",
                "hop",
                "status",
                "error_code",
                "retries",
                "input_tokens",
                "output_tokens",
                "cached_input_tokens",
                "cache_write_tokens",
                "reasoning_tokens",
                "latency_ms",
                "ttft_ms",
                "prompt_key",
                "prompt_version",
            )
        },
        "cost_usd": None if cost is None else str(cost),
    }


class LlmClient:
    """The gateway as an agent sees it: bound to one step attempt (`ctx.llm`).

    reply = await ctx.llm.complete("Summarise: ...", output=Summary, model="smart")
    """

    def __init__(
        self,
        gateway: Gateway,
        scope: CallScope,
        *,
        publish: Publish | None = None,
        calls: list[dict[str, Any]] | None = None,
    ) -> None:
        self.gateway = gateway
        self.scope = scope
        self.publish = publish
        self.calls: list[dict[str, Any]] = [] if calls is None else calls

    async def complete(
        self,
        prompt: str | Sequence[Message],
        *,
        system: str | None = None,
        model: str | None = None,
        output: type[BaseModel] | dict[str, Any] | None = None,
        max_tokens: int = 512,
        temperature: float | None = None,
    ) -> Completion:
        messages = messages_for(prompt, system) if isinstance(prompt, str) else tuple(prompt)
        output_model = output if isinstance(output, type) else None
        request = ModelRequest(
            messages=messages,
            max_tokens=max_tokens,
            temperature=temperature,
            output_schema=output if isinstance(output, dict) else None,
        )
        return await self.gateway.complete(
            request,
            self.scope,
            target=model,
            output_model=output_model,
            publish=self.publish,
            calls=self.calls,
        )


def messages_for(prompt: str, system: str | None = None) -> tuple[Message, ...]:
    """The messages of a one-turn prompt."""
    if system:
        return (SystemMessage(content=system), UserMessage(content=prompt))
    return (UserMessage(content=prompt),)
