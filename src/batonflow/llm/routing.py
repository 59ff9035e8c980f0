"""Where a call goes: a target names a route (a fallback chain of models) or one model
(`Router.resolve`); `Hops` keeps why each model failed and names the error to raise when none
answered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from batonflow.errors import (
    BatonflowError,
    BudgetExceeded,
    ConfigError,
    OutputInvalid,
    RouteExhausted,
)
from batonflow.llm.model import Model, split_name
from batonflow.telemetry.logs import get_logger

log = get_logger(__name__)


class ModelSource(Protocol):
    def get(self, qualified: str) -> Model: ...
    def providers(self) -> Sequence[str]: ...
    async def aclose(self) -> None: ...


class Router:
    def __init__(self, routes: dict[str, list[str]], default: str, models: ModelSource) -> None:
        self.routes = routes
        self.default = default
        self.models = models

    def resolve(self, target: str | None) -> tuple[str | None, list[str]]:
        """(route name or None, the ordered models) for a route name or `provider:model`."""
        name = target or self.default
        if name in self.routes:
            return name, list(self.routes[name])
        if ":" not in name:
            known = ", ".join(sorted(self.routes)) or "none"
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


@dataclass
class Hops:
    """The failed hops of one call along a route's chain."""

    route: str | None
    chain: list[str]
    failed: list[dict[str, Any]] = field(default_factory=list)
    last: BatonflowError | None = None

    def failure(self, hop: int, name: str, exc: BatonflowError) -> None:
        """Note that model `name` (hop `hop`) failed with `exc`; log a fallback to the next."""
        self.last = exc
        self.failed.append({"model": name, "code": exc.code, "message": exc.message})
        if not isinstance(exc, OutputInvalid) and hop + 1 < len(self.chain):
            log.warning("llm.fallback", model=name, error_code=exc.code)

    def error(self) -> Exception:
        """What to raise once every model failed: that one model's error, BudgetExceeded when
        every model would pass a budget, or RouteExhausted."""
        assert self.last is not None
        if len(self.chain) == 1:
            return self.last
        route = self.route
        if all(h["code"] == "budget_exceeded" for h in self.failed):
            return BudgetExceeded(
                f"every model of route '{route}' would pass a budget", details={"hops": self.failed}
            )
        return RouteExhausted(
            f"every model of route '{route}' failed: "
            + "; ".join(f"{h['model']}: {h['code']}" for h in self.failed),
            model=route or "",
            details={"hops": self.failed},
        )
