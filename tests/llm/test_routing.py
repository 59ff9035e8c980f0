"""Routing: a target names a route or one model; the failed hops name the error to raise."""

from __future__ import annotations

import pytest

from batonflow.errors import (
    BudgetExceeded,
    ConfigError,
    ModelRejected,
    ModelUnavailable,
    RouteExhausted,
)
from batonflow.llm.registry import ModelRegistry
from batonflow.llm.routing import Hops, Router
from batonflow_testkit.scripted import ScriptedModel

MINI = "openai:gpt-4.1-mini"
HAIKU = "anthropic:claude-haiku-4-5"


@pytest.fixture
def router() -> Router:
    def model(name: str) -> ScriptedModel:
        return ScriptedModel([], name=name)

    models = ModelRegistry({"openai": model, "anthropic": model})
    return Router({"default": [MINI, HAIKU], "cheap": [MINI]}, "default", models)


def test_a_target_resolves_to_a_route_or_one_model(router: Router) -> None:
    assert [router.resolve(None), router.resolve("cheap"), router.resolve(HAIKU)] == [
        ("default", [MINI, HAIKU]),
        ("cheap", [MINI]),
        (None, [HAIKU]),
    ]


def test_an_unknown_target_is_a_config_error(router: Router) -> None:
    with pytest.raises(ConfigError) as caught:
        router.resolve("smart")

    assert caught.value.message == (
        "'smart' is neither a route (configured: cheap, default) nor a provider:model name"
    )
    assert router.check_target("local:smollm2") == (
        "model 'local:smollm2': provider 'local' is not configured (configured: anthropic, openai)"
    )
    assert router.check_target("cheap") is None


def test_one_models_failure_is_raised_as_it_is() -> None:
    hops = Hops(None, [MINI])
    down = ModelUnavailable("down", model=MINI)
    hops.failure(0, MINI, down)

    assert hops.error() is down


def test_a_route_refused_by_budgets_everywhere_is_a_budget_error() -> None:
    hops = Hops("default", [MINI, HAIKU])
    hops.failure(0, MINI, BudgetExceeded("over"))
    hops.failure(1, HAIKU, BudgetExceeded("over"))

    error = hops.error()

    assert (type(error), str(error), error.details) == (  # type: ignore[attr-defined]
        BudgetExceeded,
        "every model of route 'default' would pass a budget",
        {
            "hops": [
                {"model": MINI, "code": "budget_exceeded", "message": "over"},
                {"model": HAIKU, "code": "budget_exceeded", "message": "over"},
            ]
        },
    )


def test_a_route_whose_models_all_failed_is_exhausted() -> None:
    hops = Hops("default", [MINI, HAIKU])
    hops.failure(0, MINI, ModelUnavailable("down", model=MINI))
    hops.failure(1, HAIKU, ModelRejected("bad key", model=HAIKU))

    error = hops.error()

    assert isinstance(error, RouteExhausted)
    assert (error.message, error.details) == (
        "every model of route 'default' failed: "
        f"{MINI}: model_unavailable; {HAIKU}: model_rejected",
        {
            "model": "default",
            "status": None,
            "hops": [
                {"model": MINI, "code": "model_unavailable", "message": "down"},
                {"model": HAIKU, "code": "model_rejected", "message": "bad key"},
            ],
        },
    )
