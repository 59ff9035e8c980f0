"""One suite for every `Ledger`: the memory ledger, and the database ledger on SQLite and on
PostgreSQL. Each keeps calls whole, totals them per run and per tenant since a moment, serves the
tenant's policy, holds the gateway to budgets, and never shows one tenant another's calls."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from batonflow.errors import BudgetExceeded
from batonflow.llm.gateway import Gateway, GatewayConfig
from batonflow.llm.ledger import Budget, CallScope, Ledger, MemoryLedger, Spent, TenantPolicy
from batonflow.llm.messages import ModelRequest, ModelResponse, Usage, UserMessage
from batonflow.llm.prices import load_prices
from batonflow.llm.records import CallRecord
from batonflow.llm.registry import ModelRegistry
from batonflow.store.db import Database
from batonflow.store.llm_calls import DatabaseLedger
from batonflow.store.tenants import ensure_tenant, set_llm_policy
from batonflow_testkit.scripted import ScriptedModel

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
MONTH = datetime(2026, 11, 1, tzinfo=UTC)
MINI = "openai:gpt-4.1-mini"


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Overrides the shared fixture: `memory` is the ledger that needs no database."""
    if request.param == "memory":
        return "memory"
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'batonflow.db'}"
    return str(request.getfixturevalue("pg_database"))


@dataclass
class Books:
    """A ledger under test, its two tenants, and how to set a tenant's policy."""

    ledger: Ledger
    acme: str
    globex: str
    set_policy: Callable[[str, TenantPolicy], Awaitable[None]]


@pytest.fixture
def engine_or_none(request: pytest.FixtureRequest, db_url: str) -> AsyncEngine | None:
    """The migrated database of a database ledger; None for the memory ledger."""
    if db_url == "memory":
        return None
    engine: AsyncEngine = request.getfixturevalue("engine")
    return engine


@pytest.fixture
async def books(engine_or_none: AsyncEngine | None) -> AsyncIterator[Books]:
    engine = engine_or_none
    if engine is None:
        memory = MemoryLedger()

        async def remember(tenant_id: str, policy: TenantPolicy) -> None:
            memory.policies[tenant_id] = policy

        yield Books(memory, "tenant-acme", "tenant-globex", remember)
        return
    async with engine.begin() as conn:
        acme = await ensure_tenant(conn, "acme", NOW)
        globex = await ensure_tenant(conn, "globex", NOW)

    async def store(tenant_id: str, policy: TenantPolicy) -> None:
        async with engine.begin() as conn:
            await set_llm_policy(
                conn,
                tenant_id,
                llm_log_bodies=policy.log_bodies,
                budget_tokens=policy.monthly.tokens,
                budget_usd=policy.monthly.cost_usd,
            )

    db = Database(engine)
    yield Books(DatabaseLedger(db, policy_seconds=0), acme, globex, store)
    db.close()


def call(
    tenant_id: str,
    run_id: str,
    created_at: datetime,
    *,
    input_tokens: int = 10,
    output_tokens: int = 5,
    cost_usd: Decimal | None = Decimal("0.000012"),
    **values: Any,
) -> CallRecord:
    """An answered call of MINI (by default 10 tokens in, 5 out, priced)."""
    fields: dict[str, Any] = {
        "id": f"{run_id}-{created_at:%d%H%M}",
        "tenant_id": tenant_id,
        "run_id": run_id,
        "step_key": "brief",
        "attempt": 1,
        "route": "default",
        "hop": 0,
        "provider": "openai",
        "model": "gpt-4.1-mini",
        "status": "ok",
        "error_code": None,
        "error_message": None,
        "retries": 0,
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cached_input_tokens": 0,
        "cache_write_tokens": 0,
        "reasoning_tokens": 0,
        "cost_usd": cost_usd,
        "price_version": None if cost_usd is None else "2026-11-01",
        "latency_ms": 12.5,
        "ttft_ms": None,
        "prompt_key": None,
        "prompt_version": None,
        "prompt_hash": "sha256:brief",
        "request_body": None,
        "response_body": None,
        "created_at": created_at,
    }
    return CallRecord(**(fields | values))


def gateway(ledger: Ledger) -> Gateway:
    """A gateway on `ledger` whose MINI answers at once with 10 tokens in and 5 out; its clock
    moves a second each time it is read, so its calls sort in the order they were made."""
    ticks = itertools.count()
    answer = ModelResponse(text="ok", usage=Usage(input_tokens=10, output_tokens=5))
    model = ScriptedModel(lambda request: answer, provider="openai", name="gpt-4.1-mini")
    return Gateway(
        GatewayConfig(routes={}),
        ModelRegistry({"openai": lambda name: model}),
        ledger,
        load_prices(),
        now=lambda: NOW + timedelta(seconds=next(ticks)),
    )


def ask() -> ModelRequest:
    # 7 prompt tokens by the estimate, and up to 16 out: 23 tokens for a budget check
    return ModelRequest(messages=(UserMessage(content="Say hello"),), max_tokens=16)


async def test_the_ledger_keeps_every_call_whole_in_order(books: Books) -> None:
    later = call(books.acme, "run-1", datetime(2026, 11, 3, tzinfo=UTC), retries=2)
    sooner = call(
        books.acme,
        "run-1",
        datetime(2026, 11, 2, tzinfo=UTC),
        status="error",
        error_code="model_unavailable",
        error_message="openai:gpt-4.1-mini answered 503: down",
        input_tokens=0,
        output_tokens=0,
        cost_usd=None,
        request_body='[{"role":"user","content":"Say hello"}]',
    )
    elsewhere = call(books.acme, "run-2", datetime(2026, 11, 2, tzinfo=UTC))
    for record in (later, sooner, elsewhere):
        await books.ledger.record(record)

    assert await books.ledger.calls(books.acme, "run-1") == [sooner, later]
    assert await books.ledger.calls(books.acme, "run-2") == [elsewhere]
    assert await books.ledger.calls(books.acme, "run-3") == []


async def test_totals_per_run_and_per_tenant_since_a_moment(books: Books) -> None:
    for record in (
        call(books.acme, "run-1", datetime(2026, 10, 31, 23, 59, tzinfo=UTC), input_tokens=1000),
        call(books.acme, "run-1", MONTH, cost_usd=Decimal("0.400000000001")),
        call(books.acme, "run-2", NOW, output_tokens=0, cost_usd=None),
    ):
        await books.ledger.record(record)

    assert (
        await books.ledger.spent_by_run(books.acme, "run-1"),
        await books.ledger.spent_by_run(books.acme, "run-2"),
        await books.ledger.spent_by_run(books.acme, "run-3"),
        await books.ledger.spent_by_tenant(books.acme, MONTH),
        await books.ledger.spent_by_tenant(books.acme, datetime(2026, 10, 1, tzinfo=UTC)),
    ) == (
        Spent(1020, Decimal("0.400012000001")),
        Spent(10, Decimal(0)),
        Spent(0, Decimal(0)),
        Spent(25, Decimal("0.400000000001")),
        Spent(1030, Decimal("0.400012000001")),
    )


async def test_the_ledger_serves_each_tenants_policy(books: Books) -> None:
    capped = TenantPolicy(log_bodies=True, monthly=Budget(tokens=1000, cost_usd=Decimal("2.5")))
    await books.set_policy(books.acme, capped)

    assert (
        await books.ledger.policy(books.acme),
        await books.ledger.policy(books.globex),
    ) == (capped, TenantPolicy())


async def test_a_run_budget_refuses_the_call_that_could_pass_it(books: Books) -> None:
    calls: list[CallRecord] = []
    scope = CallScope(tenant_id=books.acme, run_id="run-1", run_budget=Budget(tokens=40))
    model = gateway(books.ledger)
    await model.complete(ask(), scope, target=MINI, calls=calls)
    await model.complete(ask(), scope, target=MINI, calls=calls)

    with pytest.raises(BudgetExceeded) as caught:
        await model.complete(ask(), scope, target=MINI, calls=calls)

    assert (caught.value.message, caught.value.details) == (
        "a call to openai:gpt-4.1-mini of up to 23 tokens would pass the run's cap of 40 tokens "
        "(30 used)",
        {"cap": "tokens", "limit": 40, "used": 30},
    )
    assert [(c.status, c.error_code, c.input_tokens, c.cost_usd) for c in calls] == [
        ("ok", None, 10, Decimal("0.000012")),
        ("ok", None, 10, Decimal("0.000012")),
        ("skipped", "budget_exceeded", 0, None),
    ]
    assert await books.ledger.calls(books.acme, "run-1") == calls
    assert await books.ledger.spent_by_run(books.acme, "run-1") == Spent(30, Decimal("0.000024"))


async def test_a_monthly_cost_cap_counts_the_tenants_own_calls_only(books: Books) -> None:
    await books.set_policy(books.acme, TenantPolicy(monthly=Budget(cost_usd=Decimal("0.01"))))
    # globex spent a dollar this month; acme spent just under its cap ($0.0000284 short of it)
    await books.ledger.record(call(books.globex, "run-g", MONTH, cost_usd=Decimal(1)))
    await books.ledger.record(call(books.acme, "run-a", MONTH, cost_usd=Decimal("0.00996")))
    model = gateway(books.ledger)

    allowed = await model.complete(ask(), CallScope(tenant_id=books.acme), target=MINI)
    with pytest.raises(BudgetExceeded) as caught:
        await model.complete(ask(), CallScope(tenant_id=books.acme), target=MINI)

    assert (allowed.cost_usd, caught.value.details) == (
        Decimal("0.000012"),
        {"cap": "cost_usd", "limit": "0.01", "used": "0.009972"},
    )


async def test_a_tenant_never_sees_another_tenants_calls(books: Books) -> None:
    theirs = call(books.globex, "run-1", MONTH, input_tokens=500)
    ours = call(books.acme, "run-1", NOW)
    await books.ledger.record(theirs)
    await books.ledger.record(ours)

    assert (
        await books.ledger.calls(books.acme, "run-1"),
        await books.ledger.calls(books.globex, "run-1"),
        await books.ledger.spent_by_run(books.acme, "run-1"),
        await books.ledger.spent_by_tenant(books.acme, MONTH),
        await books.ledger.spent_by_tenant(books.globex, MONTH),
    ) == (
        [ours],
        [theirs],
        Spent(15, Decimal("0.000012")),
        Spent(15, Decimal("0.000012")),
        Spent(505, Decimal("0.000012")),
    )
