"""The gateway's accounts: who a call is for, the budgets it is held to (`Accounts.check`), and
the ledger of calls (`Accounts.record`). Two ledgers satisfy `Ledger`: `MemoryLedger` here (a
gateway without a database: benchmarks, scripts) and `DatabaseLedger` in `store/llm_calls.py`;
both run through tests/llm/test_ledger_conformance.py.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from opentelemetry import trace

from batonflow.errors import BudgetExceeded, CircuitOpen, OutputInvalid
from batonflow.ids import new_id
from batonflow.llm.messages import ModelRequest, ModelResponse, Usage
from batonflow.llm.model import split_name
from batonflow.llm.prices import PriceTable
from batonflow.llm.records import CallRecord
from batonflow.telemetry.logs import get_logger

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
    async def record(self, call: CallRecord) -> None: ...
    async def calls(self, tenant_id: str, run_id: str) -> list[CallRecord]: ...


class MemoryLedger:
    def __init__(self, policies: dict[str, TenantPolicy] | None = None) -> None:
        self.records: list[CallRecord] = []
        self.policies = policies or {}

    async def policy(self, tenant_id: str) -> TenantPolicy:
        return self.policies.get(tenant_id, TenantPolicy())

    async def spent_by_run(self, tenant_id: str, run_id: str) -> Spent:
        return _sum(r for r in self.records if r.tenant_id == tenant_id and r.run_id == run_id)

    async def spent_by_tenant(self, tenant_id: str, since: datetime) -> Spent:
        return _sum(r for r in self.records if r.tenant_id == tenant_id and r.created_at >= since)

    async def record(self, call: CallRecord) -> None:
        self.records.append(call)

    async def calls(self, tenant_id: str, run_id: str) -> list[CallRecord]:
        found = [r for r in self.records if r.tenant_id == tenant_id and r.run_id == run_id]
        return sorted(found, key=lambda r: (r.created_at, r.id))


def _sum(records: Iterable[CallRecord]) -> Spent:
    tokens, cost = 0, Decimal(0)
    for r in records:
        tokens += r.input_tokens + r.output_tokens
        cost += r.cost_usd or 0
    return Spent(tokens, cost)


def estimate_tokens(request: ModelRequest) -> int:
    """Prompt tokens before sending: one per four characters plus four per message, rounded up.
    Used only by budget checks; recorded usage always comes from the provider."""
    chars = sum(len(getattr(m, "content", "")) for m in request.messages)
    if request.output_schema is not None:
        chars += len(json.dumps(request.output_schema))
    return math.ceil(chars / 4) + 4 * len(request.messages)


def month_start(now: datetime) -> datetime:
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def status_of(error: Exception | None) -> str:
    """A call's ledger status: ok, invalid_output, skipped (never made) or error."""
    if error is None:
        return "ok"
    if isinstance(error, OutputInvalid):
        return "invalid_output"
    if isinstance(error, CircuitOpen | BudgetExceeded):
        return "skipped"
    return "error"


class Accounts:
    """Holds calls to the run's and the tenant's caps, and writes each call to the ledger."""

    def __init__(
        self,
        ledger: Ledger,
        prices: PriceTable,
        now: Callable[[], datetime],
        redact: Sequence[str] = (),
    ) -> None:
        self.ledger = ledger
        self.prices = prices
        self.now = now
        self._redact = [re.compile(p) for p in redact]

    def redact(self, text: str) -> str:
        for pattern in self._redact:
            text = pattern.sub("[redacted]", text)
        return text

    async def check(
        self, scope: CallScope, policy: TenantPolicy, name: str, request: ModelRequest
    ) -> None:
        """Raise BudgetExceeded if a call of `request` to `name` could pass a cap."""
        if scope.run_budget.empty and policy.monthly.empty:
            return
        est_in = estimate_tokens(request)
        tokens = est_in + request.max_tokens
        price = self.prices.price(name)
        usage = Usage(input_tokens=est_in, output_tokens=request.max_tokens)
        cost = price.cost(usage) if price else None
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

    async def record(
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
    ) -> CallRecord:
        """Price the call, write it to the ledger (before returning), and log and trace it."""
        provider, model = split_name(name)
        usage = response.usage if response is not None else Usage()
        cost: Decimal | None = None
        if response is not None:
            cost = self.prices.cost(name, usage)
            if cost is None:
                log.warning("llm.unpriced", model=name, price_table=self.prices.version)
        request_body = response_body = None
        if policy.log_bodies:
            messages = [m.model_dump(mode="json") for m in request.messages]
            request_body = self.redact(json.dumps(messages, ensure_ascii=False))
            if response is not None:
                response_body = self.redact(response.text)
        status = status_of(error)
        call = CallRecord(
            id=call_id or new_id(),
            tenant_id=scope.tenant_id,
            run_id=scope.run_id,
            step_key=scope.step_key,
            attempt=scope.attempt,
            route=route,
            hop=hop,
            provider=provider,
            model=model,
            status=status,
            error_code=getattr(error, "code", None),
            error_message=getattr(error, "message", None),
            retries=retries,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cached_input_tokens=usage.cached_input_tokens,
            cache_write_tokens=usage.cache_write_tokens,
            reasoning_tokens=usage.reasoning_tokens,
            cost_usd=cost,
            price_version=self.prices.version if cost is not None else None,
            latency_ms=None if latency is None else round(latency * 1000, 3),
            ttft_ms=None if ttft is None else round(ttft * 1000, 3),
            prompt_key=scope.prompt_key,
            prompt_version=scope.prompt_version,
            prompt_hash=request.prompt_hash(),
            request_body=request_body,
            response_body=response_body,
            created_at=self.now(),
        )
        await self.ledger.record(call)
        span = trace.get_current_span()
        if span.is_recording():
            span.set_attributes(
                {
                    "batonflow.llm.call_id": call.id,
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
            error_code=call.error_code,
            retries=retries,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cost_usd=None if cost is None else str(cost),
            latency_ms=call.latency_ms,
        )
        return call

    async def record_embeddings(
        self,
        scope: CallScope,
        name: str,
        inputs_hash: str,
        *,
        input_tokens: int = 0,
        error: Exception | None = None,
        latency: float | None = None,
    ) -> CallRecord:
        """Price an embeddings call (input tokens only) and write it to the ledger like any
        model call: a model the price table leaves out is recorded with no cost."""
        provider, model = split_name(name)
        usage = Usage(input_tokens=input_tokens)
        cost = self.prices.cost(name, usage) if error is None else None
        if error is None and cost is None:
            log.warning("llm.unpriced", model=name, price_table=self.prices.version)
        call = CallRecord(
            id=new_id(),
            tenant_id=scope.tenant_id,
            run_id=scope.run_id,
            step_key=scope.step_key,
            attempt=scope.attempt,
            route=None,
            hop=0,
            provider=provider,
            model=model,
            status=status_of(error),
            error_code=getattr(error, "code", None),
            error_message=getattr(error, "message", None),
            retries=0,
            input_tokens=input_tokens,
            output_tokens=0,
            cached_input_tokens=0,
            cache_write_tokens=0,
            reasoning_tokens=0,
            cost_usd=cost,
            price_version=self.prices.version if cost is not None else None,
            latency_ms=None if latency is None else round(latency * 1000, 3),
            ttft_ms=None,
            prompt_key=None,
            prompt_version=None,
            prompt_hash=inputs_hash,
            request_body=None,
            response_body=None,
            created_at=self.now(),
        )
        await self.ledger.record(call)
        log.info(
            "llm.embeddings",
            provider=provider,
            model=model,
            status=call.status,
            input_tokens=input_tokens,
            cost_usd=None if cost is None else str(cost),
            latency_ms=call.latency_ms,
        )
        return call
