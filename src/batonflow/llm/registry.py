"""Providers by name, each a factory of `Model`s, and the routes built from settings. With no
route named `default`, the default route is every configured remote provider's default model
followed by `local:smollm2`, so a machine with no keys runs on the local model.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

from opentelemetry.trace import Tracer

from batonflow.errors import ConfigError
from batonflow.llm.gateway import Gateway, GatewayConfig
from batonflow.llm.ledger import Ledger
from batonflow.llm.model import Model, split_name
from batonflow.llm.prices import load_prices
from batonflow.net.outbound import policy_of
from batonflow.settings import Settings
from batonflow.telemetry.traces import NO_TRACER

if TYPE_CHECKING:
    import openai

DEFAULT_MODELS = {"anthropic": "anthropic:claude-haiku-4-5", "openai": "openai:gpt-4.1-mini"}
LOCAL = "local:smollm2"

Factory = Callable[[str], Model]


class SdkClient(Protocol):
    async def close(self) -> None: ...


class ModelRegistry:
    """Builds each `provider:model` once and keeps it; the SDK clients are shared per provider."""

    def __init__(self, factories: dict[str, Factory], clients: Sequence[SdkClient] = ()) -> None:
        self.factories = factories
        self.clients = list(clients)  # closed by `aclose`
        self._models: dict[str, Model] = {}

    async def aclose(self) -> None:
        """Close the providers' SDK clients (their HTTP connection pools)."""
        clients, self.clients = self.clients, []
        for sdk in clients:
            await sdk.close()

    def providers(self) -> Sequence[str]:
        return sorted(self.factories)

    def get(self, qualified: str) -> Model:
        model = self._models.get(qualified)
        if model is None:
            provider, name = split_name(qualified)
            factory = self.factories.get(provider)
            if factory is None:
                raise ConfigError(
                    f"model '{qualified}': provider '{provider}' is not configured "
                    f"(configured: {', '.join(self.providers())})"
                )
            model = self._models[qualified] = factory(name)
        return model


def build_models(settings: Settings) -> ModelRegistry:
    from batonflow.llm import local

    clients: list[SdkClient] = []
    policy = policy_of(settings)  # providers' HTTP goes through the outbound guard
    factories: dict[str, Factory] = {
        "local": lambda name: local.LocalModel(
            name,
            path=settings.local_model_path,
            threads=settings.local_threads,
            context=settings.local_context,
        )
    }
    if settings.openai_api_key is not None or settings.openai_base_url:
        from batonflow.llm import openai as openai_adapter

        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
        sdk = openai_adapter.client(key, settings.openai_base_url, policy)
        clients.append(sdk)
        compat = settings.openai_base_url is not None
        factories["openai"] = lambda name: openai_adapter.OpenAIModel(name, sdk, compat=compat)
    for provider, base_url in settings.llm_compat.items():
        from batonflow.llm import openai as openai_adapter

        if provider in factories or provider == "anthropic":
            raise ConfigError(f"BATONFLOW_LLM_COMPAT: '{provider}' is a built-in provider name")
        compat_sdk = openai_adapter.client(None, base_url, policy)
        clients.append(compat_sdk)
        factories[provider] = _compat_factory(provider, compat_sdk)
    if settings.anthropic_api_key is not None:
        from batonflow.llm import anthropic as anthropic_adapter

        sdk_a = anthropic_adapter.client(
            settings.anthropic_api_key.get_secret_value(), settings.anthropic_base_url, policy
        )
        clients.append(sdk_a)
        factories["anthropic"] = lambda name: anthropic_adapter.AnthropicModel(name, sdk_a)
    return ModelRegistry(factories, clients)


def _compat_factory(provider: str, sdk: openai.AsyncOpenAI) -> Factory:
    from batonflow.llm import openai as openai_adapter

    def make(name: str) -> Model:
        return openai_adapter.OpenAIModel(name, sdk, provider=provider, compat=True)

    return make


def routes(settings: Settings, providers: Sequence[str]) -> dict[str, list[str]]:
    table = {name: list(chain) for name, chain in settings.llm_routes.items()}
    for name, chain in table.items():
        if not chain:
            raise ConfigError(f"BATONFLOW_LLM_ROUTES: route '{name}' names no model")
        for model in chain:
            provider, _ = split_name(model)
            if provider not in providers:
                raise ConfigError(
                    f"BATONFLOW_LLM_ROUTES: route '{name}' names '{model}', but provider "
                    f"'{provider}' is not configured (configured: {', '.join(providers)})"
                )
    if "default" not in table:
        if settings.llm_default and settings.llm_default not in table:
            table["default"] = [settings.llm_default]
        elif settings.llm_default:
            table["default"] = table[settings.llm_default]
        else:
            table["default"] = [
                DEFAULT_MODELS[p] for p in ("anthropic", "openai") if p in providers
            ]
            table["default"].append(LOCAL)
    return table


def build_gateway(settings: Settings, ledger: Ledger, *, tracer: Tracer = NO_TRACER) -> Gateway:
    """The process's gateway from settings: providers, routes, retry policy, breakers, prices."""
    models = build_models(settings)
    config = GatewayConfig(
        routes=routes(settings, models.providers()),
        timeout=settings.llm_timeout,
        max_retries=settings.llm_max_retries,
        retry_initial=settings.llm_retry_initial,
        retry_max=settings.llm_retry_max,
        retry_max_wait=settings.llm_retry_max_wait,
        output_retries=settings.llm_output_retries,
        breaker_failures=settings.llm_breaker_failures,
        breaker_reset_seconds=settings.llm_breaker_reset_seconds,
        redact=tuple(settings.llm_redact) + _secrets(settings),
    )
    return Gateway(config, models, ledger, load_prices(settings.price_table), tracer=tracer)


def _secrets(settings: Settings) -> tuple[str, ...]:
    """The configured provider keys, so a key pasted into a prompt is never stored."""
    keys = [settings.openai_api_key, settings.anthropic_api_key]
    return tuple(re.escape(key.get_secret_value()) for key in keys if key is not None)
