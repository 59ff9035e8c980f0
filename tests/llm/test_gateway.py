"""The gateway driving the real adapters against a loopback provider, recording every hop in the
database ledger (SQLite and PostgreSQL): retries, fallback, breakers, re-asks, budgets, bodies,
streaming and cancellation."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from dirty_equals import IsDatetime, IsFloat, IsStr
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncEngine

from batonflow.agents.breaker import BreakerState
from batonflow.errors import (
    BudgetExceeded,
    CircuitOpen,
    ModelRejected,
    ModelTimeout,
    ModelUnavailable,
    OutputInvalid,
    RouteExhausted,
)
from batonflow.ids import new_id
from batonflow.llm import anthropic as anthropic_adapter
from batonflow.llm import openai as openai_adapter
from batonflow.llm.anthropic import AnthropicModel
from batonflow.llm.gateway import Gateway, GatewayConfig
from batonflow.llm.ledger import Budget, CallScope, Spent, TenantPolicy
from batonflow.llm.messages import ModelRequest, UserMessage
from batonflow.llm.openai import OpenAIModel
from batonflow.llm.prices import load_prices
from batonflow.llm.records import CallRecord
from batonflow.llm.registry import ModelRegistry
from batonflow.store import llm_calls
from batonflow.store.db import Conn, Database
from batonflow.store.llm_calls import DatabaseLedger, list_calls
from batonflow.store.tenants import set_llm_policy
from batonflow_testkit.fakeserver import Fail, FakeProvider, Hang, Reply

MINI = "openai:gpt-4.1-mini"
HAIKU = "anthropic:claude-haiku-4-5"
OPENAI_PATH = "/v1/chat/completions"
ANTHROPIC_PATH = "/v1/messages"

SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "integer"}},
    "required": ["answer"],
}
# What the ledger keeps of a row in most tests: everything but ids, times and bodies.
FIELDS = (
    "route",
    "hop",
    "provider",
    "model",
    "status",
    "error_code",
    "retries",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "cost_usd",
    "price_version",
)
PRICES = load_prices()


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Sleeps:
    """Records the delays the gateway asks for and returns at once."""

    delays: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        await asyncio.sleep(0)


@pytest.fixture
async def server() -> AsyncIterator[FakeProvider]:
    async with FakeProvider() as provider:
        yield provider


@pytest.fixture
async def models(server: FakeProvider) -> AsyncIterator[ModelRegistry]:
    openai_sdk = openai_adapter.client("sk-test", server.openai_url)
    anthropic_sdk = anthropic_adapter.client("sk-ant-test", server.url)
    yield ModelRegistry(
        {
            "openai": lambda name: OpenAIModel(name, openai_sdk),
            "anthropic": lambda name: AnthropicModel(name, anthropic_sdk),
        }
    )
    await openai_sdk.close()
    await anthropic_sdk.close()


@pytest.fixture
async def db(engine: AsyncEngine) -> AsyncIterator[Database]:
    database = Database(engine)
    yield database
    database.close()


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def clock() -> Clock:
    return Clock()


Build = Callable[..., Gateway]


@pytest.fixture
def build(models: ModelRegistry, db: Database, sleeps: Sleeps, clock: Clock) -> Build:
    """A gateway with small timeouts, recorded sleeps, no jitter and the hand-moved clock."""

    def make(
        *, now: Callable[[], datetime] | None = None, real_clock: bool = False, **config: Any
    ) -> Gateway:
        settings: dict[str, Any] = {
            "routes": {"default": [MINI, HAIKU], "mini": [MINI]},
            "timeout": 5.0,
            "max_retries": 2,
            "retry_initial": 0.125,
            "retry_max": 1.0,
            "retry_max_wait": 5.0,
            "output_retries": 1,
            "breaker_failures": 3,
            "breaker_reset_seconds": 10.0,
            **config,
        }
        extra: dict[str, Any] = {} if now is None else {"now": now}
        if not real_clock:
            extra["clock"] = clock
        return Gateway(
            GatewayConfig(**settings),
            models,
            DatabaseLedger(db, policy_seconds=0),  # these tests change the policy mid-test
            PRICES,
            sleep=sleeps,
            rand=lambda: 0.5,
            **extra,
        )

    return make


def ask(text: str = "Say hello", **options: Any) -> ModelRequest:
    return ModelRequest(messages=(UserMessage(content=text),), **options)


async def stored(db: Database, call: CallScope) -> list[dict[str, Any]]:
    """The ledger rows of the call's run, read back from the database."""
    run_id = call.run_id
    assert run_id is not None
    return await db.read(lambda conn: list_calls(conn, call.tenant_id, run_id))


def brief(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{name: row[name] for name in FIELDS} for row in rows]


def row(model: str, **values: Any) -> dict[str, Any]:
    """The FIELDS of a ledger row: a call of `model` on the default route, first hop, ok."""
    provider, name = model.split(":")
    return {
        "route": "default",
        "hop": 0,
        "provider": provider,
        "model": name,
        "status": "ok",
        "error_code": None,
        "retries": 0,
        "input_tokens": 0,
        "output_tokens": 0,
        "cached_input_tokens": 0,
        "cache_write_tokens": 0,
        "reasoning_tokens": 0,
        "cost_usd": None,
        "price_version": None,
        **values,
    }


def paid(
    model: str, input_tokens: int = 10, output_tokens: int = 5, **values: Any
) -> dict[str, Any]:
    """An answered call: its tokens and its price from the shipped table."""
    cost = {
        MINI: Decimal("0.40") * input_tokens + Decimal("1.60") * output_tokens,
        HAIKU: Decimal("1.00") * input_tokens + Decimal("5.00") * output_tokens,
    }[model] / 1_000_000
    return row(
        model,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cost_usd=cost,
        price_version=PRICES.version,
        **values,
    )


def scope(tenant: str, **values: Any) -> CallScope:
    return CallScope(tenant_id=tenant, run_id=values.pop("run_id", new_id()), **values)


# -- retries ---------------------------------------------------------------------------------


async def test_a_rate_limit_is_retried_after_the_retry_after_it_names(
    server: FakeProvider, build: Build, sleeps: Sleeps, db: Database, tenant: str
) -> None:
    server.script(Fail(429, retry_after=0.25), Fail(429, retry_after=1.5), Reply("at last"))
    call = scope(tenant)

    done = await build().complete(ask(), call, target="mini")

    assert (done.text, done.value, done.model, sleeps.delays, len(server.requests)) == (
        "at last",
        "at last",
        MINI,
        [0.25, 1.5],
        3,
    )
    assert brief(await stored(db, call)) == [paid(MINI, route="mini", retries=2)]


async def test_server_errors_and_timeouts_back_off_exponentially(
    server: FakeProvider, build: Build, sleeps: Sleeps, db: Database, tenant: str
) -> None:
    gateway = build(max_retries=3, timeout=0.5)
    await gateway.complete(ask(), scope(tenant), target=MINI)  # warm the SDK up within 0.5 s
    server.script(Fail(500), Hang(2), Fail(503), Reply("fine"))
    call = scope(tenant)

    done = await gateway.complete(ask(), call, target=MINI)

    # backoff 0.125, 0.25, 0.5 (doubling from retry_initial); with rand() = 0.5 three quarters
    assert (done.text, sleeps.delays, len(server.requests)) == (
        "fine",
        [0.09375, 0.1875, 0.375],
        1 + 4,
    )
    assert brief(await stored(db, call)) == [paid(MINI, route=None, retries=3)]


async def test_a_call_that_keeps_timing_out_is_recorded_as_a_timeout(
    server: FakeProvider, build: Build, sleeps: Sleeps, db: Database, tenant: str
) -> None:
    server.script(Hang(2), Hang(2))
    call = scope(tenant)

    with pytest.raises(ModelTimeout) as caught:
        await build(max_retries=1, timeout=0.3).complete(ask(), call, target=MINI)

    # the SDK's timeout and the gateway's own race; either names the model and the limit
    assert caught.value.message in (
        "openai:gpt-4.1-mini did not answer in 0.3s",
        "openai:gpt-4.1-mini did not answer within 0.3s",
    )
    assert (caught.value.retries, sleeps.delays) == (1, [0.09375])
    assert brief(await stored(db, call)) == [
        row(MINI, route=None, status="error", error_code="model_timeout", retries=1)
    ]


async def test_backoff_is_capped_at_retry_max(
    server: FakeProvider, build: Build, sleeps: Sleeps, tenant: str
) -> None:
    server.script(*[Fail(502)] * 4, Reply("fine"))

    await build(max_retries=4, retry_initial=0.5, retry_max=1.0).complete(
        ask(), scope(tenant), target=MINI
    )

    assert sleeps.delays == [0.375, 0.75, 0.75, 0.75]


async def test_a_rejected_request_is_not_retried(
    server: FakeProvider, build: Build, sleeps: Sleeps, db: Database, tenant: str
) -> None:
    server.script(Fail(400, message="bad request"))
    call = scope(tenant)

    with pytest.raises(ModelRejected) as caught:
        await build().complete(ask(), call, target="mini")

    assert (caught.value.retries, sleeps.delays, len(server.requests)) == (0, [], 1)
    [recorded] = await stored(db, call)
    assert (brief([recorded]), recorded["error_message"]) == (
        [row(MINI, route="mini", status="error", error_code="model_rejected")],
        caught.value.message,
    )


async def test_retries_stop_after_max_retries_and_count_them(
    server: FakeProvider, build: Build, sleeps: Sleeps, db: Database, tenant: str
) -> None:
    server.script(*[Fail(500)] * 3, Reply("too late"))
    call = scope(tenant)

    with pytest.raises(ModelUnavailable) as caught:
        await build(max_retries=2).complete(ask(), call, target=MINI)

    assert (caught.value.retries, sleeps.delays, len(server.requests)) == (2, [0.09375, 0.1875], 3)
    assert brief(await stored(db, call)) == [
        row(MINI, route=None, status="error", error_code="model_unavailable", retries=2)
    ]


# -- fallback --------------------------------------------------------------------------------


async def test_a_long_retry_after_falls_back_at_once(
    server: FakeProvider, build: Build, sleeps: Sleeps, db: Database, tenant: str
) -> None:
    server.script(Fail(429, retry_after=60), Reply("from claude"))
    call = scope(tenant)

    done = await build(retry_max_wait=5.0).complete(ask(), call)

    assert (done.text, done.model, sleeps.delays) == ("from claude", HAIKU, [])
    assert [seen.path for seen in server.requests] == [OPENAI_PATH, ANTHROPIC_PATH]
    assert brief(await stored(db, call)) == [
        row(MINI, status="error", error_code="model_rate_limited"),
        paid(HAIKU, hop=1),
    ]


async def test_fallback_records_every_hop(
    server: FakeProvider, build: Build, sleeps: Sleeps, db: Database, tenant: str
) -> None:
    server.script(
        Fail(500),
        Fail(500),
        Fail(529),
        Reply("from claude", input_tokens=1200, output_tokens=80, cached_input_tokens=1000),
    )
    call = scope(tenant, step_key="summarise", attempt=1)
    calls: list[CallRecord] = []

    done = await build().complete(ask(), call, calls=calls)

    rows = await stored(db, call)
    common = {
        "tenant_id": tenant,
        "run_id": call.run_id,
        "step_key": "summarise",
        "attempt": 1,
        "route": "default",
        "latency_ms": IsFloat(ge=0),
        "ttft_ms": None,
        "prompt_key": None,
        "prompt_version": None,
        "prompt_hash": ask().prompt_hash(),
        "request_body": None,
        "response_body": None,
        "created_at": IsDatetime(),
    }
    assert rows == [
        {
            "id": calls[0].id,
            **common,
            "hop": 0,
            "provider": "openai",
            "model": "gpt-4.1-mini",
            "status": "error",
            "error_code": "model_unavailable",
            "error_message": IsStr(regex=r"openai:gpt-4.1-mini answered 529: .*"),
            "retries": 2,
            "input_tokens": 0,
            "output_tokens": 0,
            "cached_input_tokens": 0,
            "cache_write_tokens": 0,
            "reasoning_tokens": 0,
            "cost_usd": None,
            "price_version": None,
        },
        {
            "id": calls[1].id,
            **common,
            "hop": 1,
            "provider": "anthropic",
            "model": "claude-haiku-4-5",
            "status": "ok",
            "error_code": None,
            "error_message": None,
            "retries": 0,
            "input_tokens": 1200,
            "output_tokens": 80,
            "cached_input_tokens": 1000,
            "cache_write_tokens": 0,
            "reasoning_tokens": 0,
            # 200 plain input at 1.00, 1000 cache reads at 0.10, 80 output at 5.00
            "cost_usd": Decimal("0.0007"),
            "price_version": "2026-11-01",
        },
    ]
    assert rows == [call.row() for call in calls]
    assert done.calls == calls
    assert (done.text, done.model, done.cost_usd, sleeps.delays) == (
        "from claude",
        HAIKU,
        Decimal("0.0007"),
        [0.09375, 0.1875],
    )


async def test_route_exhausted_when_every_model_fails(
    server: FakeProvider, build: Build, db: Database, tenant: str
) -> None:
    server.script(Fail(503, message="down"), Fail(401, message="bad key"))
    call = scope(tenant)

    with pytest.raises(RouteExhausted) as caught:
        await build(max_retries=0).complete(ask(), call)

    hops = caught.value.details["hops"]
    assert (caught.value.message, caught.value.details) == (
        "every model of route 'default' failed: "
        "openai:gpt-4.1-mini: model_unavailable; anthropic:claude-haiku-4-5: model_rejected",
        {
            "model": "default",
            "status": None,
            "hops": [
                {
                    "model": MINI,
                    "code": "model_unavailable",
                    "message": IsStr(regex=r"openai:gpt-4.1-mini answered 503: .*down.*"),
                },
                {
                    "model": HAIKU,
                    "code": "model_rejected",
                    "message": IsStr(regex=r"anthropic:claude-haiku-4-5 answered 401: .*bad key.*"),
                },
            ],
        },
    )
    assert [r["error_message"] for r in await stored(db, call)] == [hop["message"] for hop in hops]
    assert brief(await stored(db, call)) == [
        row(MINI, status="error", error_code="model_unavailable"),
        row(HAIKU, hop=1, status="error", error_code="model_rejected"),
    ]


# -- circuit breaker -------------------------------------------------------------------------


async def test_the_breaker_opens_skips_the_model_and_closes_after_a_good_probe(
    server: FakeProvider, build: Build, clock: Clock, db: Database, tenant: str
) -> None:
    gateway = build(max_retries=0, breaker_failures=2, breaker_reset_seconds=10.0)
    call = scope(tenant)
    server.script(Fail(500), Fail(500))
    for _ in range(2):
        with pytest.raises(ModelUnavailable):
            await gateway.complete(ask(), call, target=MINI)

    with pytest.raises(CircuitOpen) as caught:
        await gateway.complete(ask(), call, target=MINI)

    assert (caught.value.message, len(server.requests), gateway.breaker(MINI).state) == (
        "circuit for 'openai:gpt-4.1-mini' is open after 2 consecutive failures; "
        "next probe in 10.0s",
        2,
        BreakerState.OPEN,
    )

    # On a route, an open breaker is a skipped hop: the next model answers.
    clock.now += 5
    server.script(Reply("from claude"))
    done = await gateway.complete(ask(), call)
    assert (done.model, [seen.path for seen in server.requests[2:]]) == (HAIKU, [ANTHROPIC_PATH])

    # Past the reset time one probe goes through; its success closes the breaker.
    clock.now += 5
    server.script(Reply("back"))
    probe = await gateway.complete(ask(), call, target=MINI)
    assert (probe.text, gateway.breaker(MINI).state, len(server.requests)) == (
        "back",
        BreakerState.CLOSED,
        4,
    )

    failed = row(MINI, route=None, status="error", error_code="model_unavailable")
    assert brief(await stored(db, call)) == [
        failed,
        failed,
        row(MINI, route=None, status="skipped", error_code="circuit_open"),
        row(MINI, status="skipped", error_code="circuit_open"),
        paid(HAIKU, hop=1),
        paid(MINI, route=None),
    ]


async def test_a_failed_probe_opens_the_breaker_again(
    server: FakeProvider, build: Build, clock: Clock, tenant: str
) -> None:
    gateway = build(max_retries=0, breaker_failures=1, breaker_reset_seconds=10.0)
    server.script(Fail(500), Fail(500))
    with pytest.raises(ModelUnavailable):
        await gateway.complete(ask(), scope(tenant), target=MINI)
    clock.now += 10

    with pytest.raises(ModelUnavailable):
        await gateway.complete(ask(), scope(tenant), target=MINI)
    with pytest.raises(CircuitOpen):
        await gateway.complete(ask(), scope(tenant), target=MINI)

    assert (gateway.breaker(MINI).state, len(server.requests)) == (BreakerState.OPEN, 2)


async def test_a_cancelled_call_leaves_the_breaker_usable(
    server: FakeProvider, build: Build, clock: Clock, db: Database, tenant: str
) -> None:
    gateway = build(max_retries=0, breaker_failures=1, breaker_reset_seconds=10.0)
    call = scope(tenant)
    server.script(Fail(500))
    with pytest.raises(ModelUnavailable):
        await gateway.complete(ask(), call, target=MINI)
    clock.now += 10  # half-open: the next call is the one probe
    server.script(Hang(1))

    task = asyncio.create_task(gateway.complete(ask(), call, target=MINI))
    async with asyncio.timeout(5):
        while len(server.requests) < 2:  # the probe reached the provider and waits there
            await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    breaker = gateway.breaker(MINI)
    assert (breaker.state, breaker.probing) == (BreakerState.HALF_OPEN, False)
    server.script(Reply("probe"))
    done = await gateway.complete(ask(), call, target=MINI)
    assert (done.text, breaker.state) == ("probe", BreakerState.CLOSED)
    assert brief(await stored(db, call)) == [
        row(MINI, route=None, status="error", error_code="model_unavailable"),
        paid(MINI, route=None),
    ]


# -- structured output -----------------------------------------------------------------------


class Answer(BaseModel):
    answer: int


async def test_invalid_output_is_asked_again_with_the_problem(
    server: FakeProvider, build: Build, db: Database, tenant: str
) -> None:
    server.script(Reply('{"answer": "forty-two"}'), Reply('```json\n{"answer": 42}\n```'))
    call = scope(tenant)

    done = await build().complete(ask("6 x 7?", output_schema=SCHEMA), call, target=MINI)

    problem = "the JSON does not fit the schema: answer: 'forty-two' is not of type 'integer'"
    assert done.value == {"answer": 42}
    assert server.requests[-1].body["messages"] == [
        {"role": "user", "content": "6 x 7?"},
        {"role": "assistant", "content": '{"answer": "forty-two"}'},
        {
            "role": "user",
            "content": f"That reply was rejected: {problem}. "
            "Answer again with only JSON that fits the schema.",
        },
    ]
    rows = await stored(db, call)
    assert brief(rows) == [
        paid(MINI, route=None, status="invalid_output", error_code="output_invalid"),
        paid(MINI, route=None),
    ]
    assert [r["error_message"] for r in rows] == [
        f"openai:gpt-4.1-mini gave output that does not fit the schema: {problem}",
        None,
    ]
    assert rows[0]["prompt_hash"] != rows[1]["prompt_hash"]


async def test_an_output_model_gives_a_validated_instance_through_the_respond_tool(
    server: FakeProvider, build: Build, tenant: str
) -> None:
    server.script(Reply('{"answer": 42}'))

    done = await build().complete(ask("6 x 7?"), scope(tenant), target=HAIKU, output_model=Answer)

    assert (done.value, done.text) == (Answer(answer=42), '{"answer": 42}')
    assert server.requests[-1].body["tool_choice"] == {"type": "tool", "name": "respond"}


async def test_output_that_never_fits_is_output_invalid(
    server: FakeProvider, build: Build, db: Database, tenant: str
) -> None:
    server.script(Reply("forty-two"), Reply('{"answer": "still words"}'))
    call = scope(tenant)

    with pytest.raises(OutputInvalid) as caught:
        await build(output_retries=1).complete(
            ask("6 x 7?", output_schema=SCHEMA), call, target=MINI
        )

    problem = "the JSON does not fit the schema: answer: 'still words' is not of type 'integer'"
    assert (caught.value.message, caught.value.details) == (
        f"openai:gpt-4.1-mini gave output that does not fit the schema 2 times; "
        f"last problem: {problem}",
        {"model": MINI, "status": None, "raw": '{"answer": "still words"}', "problem": problem},
    )
    invalid = paid(MINI, route=None, status="invalid_output", error_code="output_invalid")
    assert brief(await stored(db, call)) == [invalid, invalid]


# -- budgets ---------------------------------------------------------------------------------


async def test_a_run_token_cap_refuses_the_call_before_it_is_sent(
    server: FakeProvider, build: Build, db: Database, tenant: str
) -> None:
    # "Say hello" is estimated at 3 + 4 tokens, plus up to 100 generated: 107
    call = scope(tenant, run_budget=Budget(tokens=110))
    gateway = build()
    await gateway.complete(ask(max_tokens=100), call, target=MINI)  # 15 tokens used

    with pytest.raises(BudgetExceeded) as caught:
        await gateway.complete(ask(max_tokens=100), call, target=MINI)

    assert (caught.value.message, caught.value.details, len(server.requests)) == (
        "a call to openai:gpt-4.1-mini of up to 107 tokens would pass the run's cap of "
        "110 tokens (15 used)",
        {"cap": "tokens", "limit": 110, "used": 15},
        1,
    )
    assert brief(await stored(db, call)) == [
        paid(MINI, route=None),
        row(MINI, route=None, status="skipped", error_code="budget_exceeded"),
    ]
    other_run = await gateway.complete(
        ask(max_tokens=100), scope(tenant, run_budget=Budget(tokens=110)), target=MINI
    )
    assert other_run.text == "ok"


async def test_a_monthly_cost_cap_refuses_a_call_that_would_pass_it(
    server: FakeProvider, build: Build, engine: AsyncEngine, db: Database, tenant: str
) -> None:
    async with engine.begin() as conn:
        await set_llm_policy(conn, tenant, budget_usd=Decimal("0.0005"))
    call = scope(tenant)

    with pytest.raises(BudgetExceeded) as caught:
        await build().complete(ask(), call, target=MINI)

    # estimated: 7 prompt tokens at 0.40 and up to 512 generated at 1.60 per million
    assert (caught.value.message, caught.value.details, len(server.requests)) == (
        "a call to openai:gpt-4.1-mini costing up to $0.000822 would pass the tenant's "
        "monthly cap of $0.0005 ($0 used)",
        {"cap": "cost_usd", "limit": "0.0005", "used": "0"},
        0,
    )
    assert brief(await stored(db, call)) == [
        row(MINI, route=None, status="skipped", error_code="budget_exceeded")
    ]


async def past_call(
    db: Database, tenant: str, created_at: datetime, input_tokens: int
) -> CallRecord:
    """Record an earlier call of MINI in its own run, all of its tokens plain input."""
    recorded = CallRecord(
        **paid(MINI, input_tokens=input_tokens, output_tokens=0),
        id=new_id(),
        tenant_id=tenant,
        run_id=new_id(),
        step_key=None,
        attempt=None,
        error_message=None,
        latency_ms=None,
        ttft_ms=None,
        prompt_hash="sha256:earlier",
        request_body=None,
        response_body=None,
        created_at=created_at,
    )

    async def work(conn: Conn) -> None:
        await llm_calls.insert_call(conn, recorded)

    await db.write(work)
    return recorded


async def test_the_ledger_sums_exact_costs(db: Database, tenant: str) -> None:
    rows = [
        await past_call(db, tenant, datetime(2026, 10, 31, 23, 59, tzinfo=UTC), 1_000_000),  # $0.40
        await past_call(db, tenant, datetime(2026, 11, 1, tzinfo=UTC), 30),  # $0.000012
        await past_call(db, tenant, datetime(2026, 11, 2, tzinfo=UTC), 3_750_000),  # $1.50
    ]
    ledger = DatabaseLedger(db)

    assert (
        await ledger.spent_by_tenant(tenant, datetime(2026, 11, 1, tzinfo=UTC)),
        await ledger.spent_by_run(tenant, rows[0].run_id),
    ) == (Spent(3_750_030, Decimal("1.500012")), Spent(1_000_000, Decimal("0.40")))


async def test_a_monthly_cost_cap_counts_this_months_spend_only(
    server: FakeProvider, build: Build, engine: AsyncEngine, db: Database, tenant: str
) -> None:
    async with engine.begin() as conn:
        await set_llm_policy(conn, tenant, budget_usd=Decimal("0.01"))
    await past_call(db, tenant, datetime(2026, 10, 31, 23, 59, tzinfo=UTC), 1_000_000)
    gateway = build(now=lambda: datetime(2026, 11, 20, 12, 0, tzinfo=UTC))

    # $0.40 spent in October does not count against November's $0.01
    first = await gateway.complete(ask(), scope(tenant), target=MINI)
    assert first.cost_usd == Decimal("0.000012")

    await past_call(db, tenant, datetime(2026, 11, 1, tzinfo=UTC), 24_970)  # $0.009988
    with pytest.raises(BudgetExceeded) as caught:
        await gateway.complete(ask(), scope(tenant), target=MINI)

    details = caught.value.details
    assert (details["cap"], details["limit"], Decimal(details["used"]), len(server.requests)) == (
        "cost_usd",
        "0.01",
        Decimal("0.01"),
        1,
    )


async def test_a_monthly_token_cap_refuses_on_every_model_of_the_route(
    server: FakeProvider, build: Build, engine: AsyncEngine, db: Database, tenant: str
) -> None:
    async with engine.begin() as conn:
        await set_llm_policy(conn, tenant, budget_tokens=100)
    call = scope(tenant)

    with pytest.raises(BudgetExceeded) as caught:
        await build().complete(ask(), call)

    assert (caught.value.message, len(server.requests)) == (
        "every model of route 'default' would pass a budget",
        0,
    )
    assert [hop["model"] for hop in caught.value.details["hops"]] == [MINI, HAIKU]
    assert brief(await stored(db, call)) == [
        row(MINI, status="skipped", error_code="budget_exceeded"),
        row(HAIKU, hop=1, status="skipped", error_code="budget_exceeded"),
    ]


async def test_a_model_without_a_price_is_refused_under_a_cost_cap(
    server: FakeProvider, build: Build, engine: AsyncEngine, db: Database, tenant: str
) -> None:
    gateway = build()
    free = await gateway.complete(ask(), scope(tenant), target="openai:gpt-unpriced")
    async with engine.begin() as conn:
        await set_llm_policy(conn, tenant, budget_usd=Decimal(100))

    with pytest.raises(BudgetExceeded) as caught:
        await gateway.complete(ask(), scope(tenant), target="openai:gpt-unpriced")

    assert (free.text, free.cost_usd, free.calls[0].price_version) == ("ok", None, None)
    assert (caught.value.message, caught.value.details, len(server.requests)) == (
        "openai:gpt-unpriced has no price in table 2026-11-01, so a call cannot be held to "
        "the tenant's monthly cost cap",
        {"cap": "cost_usd", "model": "openai:gpt-unpriced"},
        1,
    )


async def test_the_ledger_reads_a_tenants_policy_at_most_once_per_interval(
    engine: AsyncEngine, db: Database, tenant: str
) -> None:
    now = [100.0]
    ledger = DatabaseLedger(db, policy_seconds=5, clock=lambda: now[0])
    before = await ledger.policy(tenant)
    async with engine.begin() as conn:
        await set_llm_policy(conn, tenant, llm_log_bodies=True, budget_tokens=10)
    now[0] += 4.9
    cached = await ledger.policy(tenant)
    now[0] += 0.2
    fresh = await ledger.policy(tenant)

    assert (before, cached) == (TenantPolicy(), TenantPolicy())
    assert fresh == TenantPolicy(log_bodies=True, monthly=Budget(tokens=10))


# -- bodies ----------------------------------------------------------------------------------


@pytest.mark.parametrize("log_bodies", [False, True], ids=["off", "on"])
async def test_bodies_are_stored_only_when_the_tenant_asks_and_redacted(
    server: FakeProvider,
    build: Build,
    engine: AsyncEngine,
    db: Database,
    tenant: str,
    log_bodies: bool,
) -> None:
    async with engine.begin() as conn:
        await set_llm_policy(conn, tenant, llm_log_bodies=log_bodies)
    server.script(Reply("your key sk-live-abc123 is safe with me"))
    call = scope(tenant)

    await build(redact=(r"sk-live-[A-Za-z0-9]+",)).complete(
        ask("my key is sk-live-abc123, ünïcode"), call, target=MINI
    )

    [recorded] = await stored(db, call)
    assert (recorded["request_body"], recorded["response_body"]) == (
        (
            '[{"role": "user", "content": "my key is [redacted], ünïcode"}]',
            "your key [redacted] is safe with me",
        )
        if log_bodies
        else (None, None)
    )
    assert server.requests[-1].body["messages"][0]["content"] == "my key is sk-live-abc123, ünïcode"


# -- streaming -------------------------------------------------------------------------------


@pytest.mark.parametrize("target", [MINI, HAIKU])
async def test_streaming_publishes_ordered_deltas_and_records_time_to_first_token(
    server: FakeProvider, build: Build, db: Database, tenant: str, target: str
) -> None:
    server.script(Reply("hello streaming world"))
    published: list[dict[str, Any]] = []
    call = scope(tenant, step_key="greet")

    done = await build(real_clock=True).complete(
        ask(), call, target=target, publish=published.append
    )

    [recorded] = await stored(db, call)
    pieces = ["hell", "o st", "ream", "ing ", "worl", "d"]
    assert published == [
        {
            "call_id": recorded["id"],
            "model": target,
            "run_id": call.run_id,
            "step_key": "greet",
            "retry": 0,
            "index": index,
            "text": text,
        }
        for index, text in enumerate(pieces)
    ]
    assert done.text == "".join(pieces)
    assert recorded["ttft_ms"] == IsFloat(gt=0, le=recorded["latency_ms"])


async def test_a_retried_stream_starts_again_under_the_next_retry_number(
    server: FakeProvider, build: Build, tenant: str
) -> None:
    server.script(Fail(500), Reply("again"))
    published: list[dict[str, Any]] = []

    done = await build().complete(ask(), scope(tenant), target=MINI, publish=published.append)

    assert [(d["retry"], d["index"], d["text"]) for d in published] == [
        (1, 0, "agai"),
        (1, 1, "n"),
    ]
    assert (done.text, done.calls[0].retries) == ("again", 1)


async def test_calls_without_publish_record_no_time_to_first_token(
    server: FakeProvider, build: Build, tenant: str
) -> None:
    done = await build(real_clock=True).complete(ask(), scope(tenant), target=MINI)

    assert (done.calls[0].ttft_ms, done.calls[0].latency_ms) == (None, IsFloat(gt=0))
    assert "stream" not in server.requests[-1].body
