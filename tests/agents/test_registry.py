"""The registry: the one path every capability call takes (args, breaker, output)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from dirty_equals import IsFloat
from pydantic import BaseModel

from batonflow.agents.agent import Agent, CallContext, EffectRecord, Toolbox
from batonflow.agents.breaker import BreakerState
from batonflow.agents.registry import BASE_STEP_KINDS, CallResult, Registry, build_registry
from batonflow.apps.demo import agents as demo
from batonflow.apps.demo import registry as demo_registry
from batonflow.errors import CircuitOpen, ConfigError, InvalidArgs, NotFound, StepFailed


class RecordingEffects:
    """A real `Effects`: applies each key once and records every call."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.calls: list[tuple[str, dict[str, Any], str | None]] = []
        self.applied: dict[str, EffectRecord] = {}

    async def apply(
        self, kind: str, payload: dict[str, Any], *, key: str | None = None
    ) -> EffectRecord:
        self.calls.append((kind, payload, key))
        effect_key = key or self.key
        if effect_key in self.applied:
            first = self.applied[effect_key]
            return EffectRecord(first.key, first.kind, first.payload, applied_now=False)
        self.applied[effect_key] = EffectRecord(effect_key, kind, payload, applied_now=True)
        return self.applied[effect_key]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def context(attempt: int = 1, step_id: str = "step") -> CallContext:
    key = f"run_1:{step_id}:{attempt}"
    return CallContext(
        tenant_id="acme",
        run_id="run_1",
        step_id=step_id,
        attempt=attempt,
        idempotency_key=key,
        deadline=None,
        worker="test-worker",
        effects=RecordingEffects(key),
    )


# An app's agent.
extra = Agent("extra", "An app's agent")


class Greeting(BaseModel):
    name: str


class Greeted(BaseModel):
    text: str


@extra.capability("greet")
async def greet(ctx: CallContext, args: Greeting) -> Greeted:
    return Greeted(text=f"hello {args.name} from {ctx.tenant_id}")


class Nothing(BaseModel):
    pass


class Count(BaseModel):
    n: int


class SlowArgs(BaseModel):
    fail: bool = False


class SlowOut(BaseModel):
    ok: bool


# -- calling ------------------------------------------------------------------------------------


async def test_call_returns_the_whole_output() -> None:
    registry = demo_registry()

    result = await registry.call(
        "lead.score",
        {"name": "Ada", "company": "Acme", "employees": 250, "budget": 50_000},
        context(),
    )

    assert result == CallResult(
        output={"score": 50, "tier": "B"},
        agent="demo-sales",
        capability="lead.score",
        duration_ms=IsFloat(ge=0),
    )


async def test_the_demo_computes_a_leads_fit_label_from_its_score_in_code() -> None:
    registry = demo_registry()

    fits = [
        (await registry.call("lead.fit", {"company": "Acme", **lead}, context())).output
        for lead in (
            {"employees": 450, "budget": 90_000},
            {"employees": 250, "budget": 50_000},
            {"employees": 12, "budget": 0},
        )
    ]

    assert fits == [
        {"score": 90, "fit": "good"},
        {"score": 50, "fit": "maybe"},
        {"score": 1, "fit": "poor"},
    ]


def test_the_demo_brief_keeps_the_models_first_sentence() -> None:
    assert [
        demo._first_sentence(text)
        for text in (
            "Thank you for your interest! I'm happy to share some insights and",
            "Thanks, Ada.\nWe look forward",
            "Acme looks promising",
        )
    ] == ["Thank you for your interest!", "Thanks, Ada.", "Acme looks promising"]


async def test_call_output_is_json_ready() -> None:
    registry = demo_registry()

    result = await registry.call(
        "report.summarize",
        {
            "quotes": [{"symbol": "A", "price": 10}, {"symbol": "B", "price": 20.5}],
            "headline": "Up",
        },
        context(),
    )

    assert result.output == {
        "count": 2,
        "total": 30.5,
        "mean": 15.25,
        "text": "2 symbols (A, B) average 15.25. Up",
    }


async def test_call_passes_the_context_to_the_capability() -> None:
    registry = build_registry([extra])

    result = await registry.call("greet", {"name": "Ada"}, context())

    assert (result.output, result.agent, result.capability) == (
        {"text": "hello Ada from acme"},
        "extra",
        "greet",
    )


async def test_tool_call_applies_its_effect_through_the_context() -> None:
    registry = demo_registry()
    ctx = context(step_id="send")
    email = {"to": "ada@example.com", "subject": "Hi", "body": "Hello"}

    first = await registry.call("email.send", email, ctx, tool=True)
    again = await registry.call("email.send", email, ctx, tool=True)

    assert first.output == {"message_id": "run_1:send:1", "sent_now": True}
    assert again.output == {"message_id": "run_1:send:1", "sent_now": False}
    assert (first.agent, first.capability) == ("demo-mail", "email.send")
    assert isinstance(ctx.effects, RecordingEffects)
    assert ctx.effects.calls == [("email", email, None), ("email", email, None)]


async def test_tools_and_capabilities_are_separate_namespaces() -> None:
    registry = demo_registry()

    with pytest.raises(NotFound) as as_capability:
        await registry.call("email.send", {}, context())
    with pytest.raises(NotFound) as as_tool:
        await registry.call("lead.score", {}, context(), tool=True)

    assert as_capability.value.message == "no agent provides capability 'email.send'"
    assert as_tool.value.message == "no agent provides tool 'lead.score'"


async def test_invalid_args_have_a_readable_message() -> None:
    registry = demo_registry()

    with pytest.raises(InvalidArgs) as caught:
        await registry.call(
            "lead.score", {"name": "", "company": "Acme", "employees": -1}, context()
        )

    error = caught.value
    assert error.message == (
        "args for 'lead.score' do not fit Lead: "
        "name: String should have at least 1 character; "
        "employees: Input should be greater than or equal to 0; "
        "budget: Field required"
    )
    assert error.details == {
        "errors": [
            {
                "type": "string_too_short",
                "loc": ("name",),
                "msg": "String should have at least 1 character",
                "input": "",
            },
            {
                "type": "greater_than_equal",
                "loc": ("employees",),
                "msg": "Input should be greater than or equal to 0",
                "input": -1,
            },
            {
                "type": "missing",
                "loc": ("budget",),
                "msg": "Field required",
                "input": {"name": "", "company": "Acme", "employees": -1},
            },
        ]
    }
    assert (error.code, error.retryable) == ("invalid_args", False)


async def test_invalid_args_do_not_count_towards_the_breaker() -> None:
    registry = Registry(breaker_failures=1, clock=Clock())
    for agent in demo.AGENTS:
        registry.add(agent)

    for _ in range(3):
        with pytest.raises(InvalidArgs):
            await registry.call("quote.price", {"symbol": ""}, context())

    assert registry.breaker("quote.price").state is BreakerState.CLOSED


async def test_nested_invalid_args_name_the_path() -> None:
    registry = demo_registry()

    with pytest.raises(InvalidArgs) as caught:
        await registry.call("report.summarize", {"quotes": [{"symbol": "A"}]}, context())

    assert caught.value.message == (
        "args for 'report.summarize' do not fit SummaryIn: quotes.0.price: Field required"
    )


async def test_failing_capability_opens_its_breaker() -> None:
    clock = Clock()
    registry = Registry(breaker_failures=3, breaker_reset_seconds=60, clock=clock)
    for agent in demo.AGENTS:
        registry.add(agent)

    for _ in range(3):
        with pytest.raises(StepFailed, match=r"^down$"):
            await registry.call("demo.fail", {"message": "down"}, context())

    assert registry.breaker("demo.fail").state is BreakerState.OPEN
    with pytest.raises(CircuitOpen) as caught:
        await registry.call("demo.fail", {"message": "down"}, context())
    assert caught.value.message == (
        "circuit for 'demo.fail' is open after 3 consecutive failures; next probe in 60.0s"
    )
    assert caught.value.details == {"capability": "demo.fail", "retry_in": 60.0}
    # Other capabilities have breakers of their own.
    ok = await registry.call("demo.sleep", {"value": 1}, context())
    assert ok.output == {"value": 1, "slept_ms": 0}


async def test_breaker_probe_after_reset_closes_on_success() -> None:
    clock = Clock()
    registry = Registry(breaker_failures=2, breaker_reset_seconds=10, clock=clock)
    for agent in demo.AGENTS:
        registry.add(agent)
    for attempt in (1, 2):
        with pytest.raises(StepFailed):
            await registry.call("demo.flaky", {"fail_times": 2}, context(attempt))
    with pytest.raises(CircuitOpen):
        await registry.call("demo.flaky", {"fail_times": 2}, context(3))

    clock.now += 10
    result = await registry.call("demo.flaky", {"fail_times": 2, "value": "v"}, context(3))

    assert result.output == {"value": "v", "attempt": 3}
    assert registry.breaker("demo.flaky").state is BreakerState.CLOSED


async def test_breaker_probe_failure_reopens() -> None:
    clock = Clock()
    registry = Registry(breaker_failures=2, breaker_reset_seconds=10, clock=clock)
    for agent in demo.AGENTS:
        registry.add(agent)
    for _ in range(2):
        with pytest.raises(StepFailed):
            await registry.call("demo.fail", {}, context())

    clock.now += 10
    with pytest.raises(StepFailed, match="this step always fails"):
        await registry.call("demo.fail", {}, context())

    assert registry.breaker("demo.fail").state is BreakerState.OPEN
    with pytest.raises(CircuitOpen):
        await registry.call("demo.fail", {}, context())


async def test_output_that_does_not_fit_is_a_step_failure_and_counts() -> None:
    broken = Agent("broken")

    @broken.capability("bad.output")
    async def bad(ctx: CallContext, args: Nothing) -> Count:
        return {"n": "not a number"}  # type: ignore[return-value]

    registry = Registry(breaker_failures=1, clock=Clock())
    registry.add(broken)

    with pytest.raises(StepFailed) as caught:
        await registry.call("bad.output", {}, context())

    assert caught.value.message.startswith("'bad.output' returned output that does not fit: ")
    assert registry.breaker("bad.output").state is BreakerState.OPEN


async def test_a_timed_out_probe_does_not_lock_the_breaker() -> None:
    hang = Agent("hang")
    release = asyncio.Event()

    @hang.capability("slow.dep")
    async def slow(ctx: CallContext, args: SlowArgs) -> SlowOut:
        if args.fail:
            raise StepFailed("down")
        await release.wait()
        return SlowOut(ok=True)

    clock = Clock()
    registry = Registry(breaker_failures=1, breaker_reset_seconds=10, clock=clock)
    registry.add(hang)
    with pytest.raises(StepFailed):
        await registry.call("slow.dep", {"fail": True}, context())
    clock.now += 10
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.01):
            await registry.call("slow.dep", {}, context())

    clock.now += 100
    release.set()
    result = await registry.call("slow.dep", {}, context())

    assert result.output == {"ok": True}


# -- registering --------------------------------------------------------------------------------


def test_build_registry_has_the_demo_agents() -> None:
    registry = demo_registry()

    assert sorted(registry.agents) == [
        "demo-mail",
        "demo-market",
        "demo-ops",
        "demo-sales",
        "demo-writer",
    ]
    assert sorted(registry.capability_names()) == [
        "brief.write",
        "demo.fail",
        "demo.flaky",
        "demo.noop",
        "demo.sleep",
        "email.draft",
        "lead.fit",
        "lead.score",
        "news.headline",
        "quote.price",
        "report.summarize",
    ]
    assert sorted(registry.tool_names()) == ["email.send"]
    assert tuple(registry.step_kinds()) == BASE_STEP_KINDS
    assert BASE_STEP_KINDS == ("agent", "tool", "retrieve", "review", "input", "map", "workflow")
    assert registry.check_model("local:smollm2") == "this installation has no LLM gateway"


def test_a_registry_with_a_gateway_runs_llm_steps_and_checks_their_models() -> None:
    from batonflow.llm.ledger import MemoryLedger
    from batonflow.llm.registry import build_gateway
    from batonflow.settings import Settings

    registry = demo_registry(models=build_gateway(Settings(), MemoryLedger()))

    assert tuple(registry.step_kinds()) == (*BASE_STEP_KINDS, "llm")
    assert registry.check_model("local:smollm2") is None
    assert registry.check_model(None) is None  # the default route
    assert registry.check_model("openai:gpt-4.1-mini") == (
        "model 'openai:gpt-4.1-mini': provider 'openai' is not configured (configured: local)"
    )
    assert registry.check_model("smart") == (
        "'smart' is neither a route (configured: default) nor a provider:model name"
    )


def test_build_registry_passes_breaker_settings() -> None:
    registry = demo_registry(breaker_failures=7, breaker_reset_seconds=2.5)

    breaker = registry.breaker("lead.score")

    assert (breaker.name, breaker.failure_threshold, breaker.reset_seconds) == (
        "lead.score",
        7,
        2.5,
    )
    assert registry.breaker("lead.score") is breaker


def test_capability_lookup() -> None:
    registry = demo_registry()

    capability = registry.capability("quote.price")

    assert (capability.name, capability.agent, capability.description) == (
        "quote.price",
        "demo-market",
        "A stable pseudo-price for a symbol (a hash, not a market).",
    )
    assert (capability.input_model, capability.output_model) == (demo.Symbol, demo.Quote)
    assert registry.capability("email.send", tool=True).agent == "demo-mail"


def test_duplicate_capability_across_agents_is_a_config_error() -> None:
    registry = demo_registry()
    rival = Agent("rival")

    @rival.capability("lead.score")
    async def score(ctx: CallContext, args: demo.Lead) -> demo.LeadScore:
        return demo.LeadScore(score=0, tier="C")

    with pytest.raises(ConfigError) as caught:
        registry.add(rival)

    assert caught.value.message == "'lead.score' is provided by both 'demo-sales' and 'rival'"
    assert caught.value.code == "config_invalid"


def test_duplicate_tool_across_toolboxes_is_a_config_error() -> None:
    registry = demo_registry()
    outbox = Toolbox("outbox")

    @outbox.tool("email.send")
    async def send(ctx: CallContext, args: demo.Email) -> demo.Sent:
        return demo.Sent(message_id="x", sent_now=True)

    with pytest.raises(ConfigError) as caught:
        registry.add(outbox)

    assert caught.value.message == "'email.send' is provided by both 'demo-mail' and 'outbox'"


def test_a_tool_may_share_a_name_with_a_capability() -> None:
    registry = demo_registry()
    toolbox = Toolbox("scoring-tools")

    @toolbox.tool("lead.score")
    async def score(ctx: CallContext, args: demo.Lead) -> demo.LeadScore:
        return demo.LeadScore(score=1, tier="C")

    registry.add(toolbox)

    assert registry.capability("lead.score").agent == "demo-sales"
    assert registry.capability("lead.score", tool=True).agent == "scoring-tools"


def test_two_agents_with_one_name_is_a_config_error() -> None:
    registry = demo_registry()

    with pytest.raises(ConfigError) as caught:
        registry.add(Agent("demo-sales"))

    assert caught.value.message == "two agents are named 'demo-sales'"


def test_a_rejected_agent_leaves_the_registry_unchanged() -> None:
    registry = demo_registry()
    rival = Agent("rival")

    @rival.capability("fresh.name")
    async def fresh(ctx: CallContext, args: demo.Empty) -> demo.Empty:
        return demo.Empty()

    @rival.capability("lead.score")
    async def score(ctx: CallContext, args: demo.Lead) -> demo.LeadScore:
        return demo.LeadScore(score=0, tier="C")

    with pytest.raises(ConfigError):
        registry.add(rival)

    assert "fresh.name" not in registry.capability_names()


def test_build_registry_takes_the_agents_of_apps() -> None:
    registry = build_registry([*demo.AGENTS, extra])

    assert sorted(registry.agents) == [
        "demo-mail",
        "demo-market",
        "demo-ops",
        "demo-sales",
        "demo-writer",
        "extra",
    ]
    assert "greet" in registry.capability_names()


def test_an_agent_given_twice_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as caught:
        build_registry([*demo.AGENTS, *demo.AGENTS])

    assert caught.value.message == "two agents are named 'demo-sales'"


# -- declaring capabilities ---------------------------------------------------------------------


def test_capability_models_come_from_annotations() -> None:
    agent = Agent("a")

    @agent.capability("greet", "Say hello")
    async def hello(ctx: CallContext, args: Greeting) -> Greeted:
        return Greeted(text=args.name)

    capability = agent.capabilities["greet"]
    assert (capability.name, capability.agent, capability.description) == (
        "greet",
        "a",
        "Say hello",
    )
    assert (capability.input_model, capability.output_model, capability.handler) == (
        Greeting,
        Greeted,
        hello,
    )


def test_declaring_a_capability_twice_is_a_config_error() -> None:
    agent = Agent("a")
    agent.capability("greet")(greet)

    with pytest.raises(ConfigError) as caught:
        agent.capability("greet")(greet)

    assert caught.value.message == "agent 'a' declares capability 'greet' twice"


def test_a_capability_needs_model_annotations() -> None:
    agent = Agent("a")

    async def untyped(ctx, args):  # type: ignore[no-untyped-def]
        return args

    async def not_models(ctx: CallContext, args: dict) -> dict:  # type: ignore[type-arg]
        return args

    with pytest.raises(ConfigError) as missing:
        agent.capability("untyped")(untyped)
    with pytest.raises(ConfigError) as wrong:
        agent.capability("not_models")(not_models)

    assert missing.value.message == (
        "capability 'untyped': write it as async def f(ctx, args: Model) -> Model"
    )
    assert wrong.value.message == "capability 'not_models': args and return must be pydantic models"
