"""The registry of agents and tools a process can run, and the one path every call takes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from opentelemetry.trace import Tracer
from pydantic import ValidationError

from batonflow.agents.agent import Agent, CallContext, Capability, Toolbox
from batonflow.agents.breaker import CircuitBreaker
from batonflow.agents.needs import NO_NEEDS, ToolNeeds
from batonflow.errors import (
    ConfigError,
    InvalidArgs,
    NotFound,
    OutboundRefused,
    SandboxStopped,
    StepFailed,
    StepTimeout,
)
from batonflow.telemetry.traces import NO_TRACER

BASE_STEP_KINDS = ("agent", "tool", "retrieve", "review", "input", "map", "workflow")


class ModelNames(Protocol):
    """What the registry asks of the LLM gateway when it checks `llm` steps."""

    def check_target(self, target: str | None) -> str | None: ...


@dataclass(frozen=True, slots=True)
class CallResult:
    output: dict[str, Any]
    agent: str
    capability: str
    duration_ms: float


class Registry:
    def __init__(
        self,
        *,
        breaker_failures: int = 5,
        breaker_reset_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        step_kinds: Iterable[str] = BASE_STEP_KINDS,
        models: ModelNames | None = None,
        tracer: Tracer = NO_TRACER,
    ) -> None:
        self.tracer = tracer
        self.agents: dict[str, Agent] = {}
        self._capabilities: dict[str, Capability] = {}
        self._tools: dict[str, Capability] = {}
        self._breakers: dict[str, CircuitBreaker] = {}
        self._breaker_failures = breaker_failures
        self._breaker_reset = breaker_reset_seconds
        self._clock = clock
        self._step_kinds = tuple(step_kinds) + (("llm",) if models is not None else ())
        self._models = models

    def add(self, agent: Agent) -> None:
        target = self._tools if isinstance(agent, Toolbox) else self._capabilities
        if agent.name in self.agents:
            raise ConfigError(f"two agents are named '{agent.name}'")
        for name in agent.capabilities:
            if name in target:
                raise ConfigError(
                    f"'{name}' is provided by both '{target[name].agent}' and '{agent.name}'"
                )
        target.update(agent.capabilities)
        self.agents[agent.name] = agent

    # The Catalog protocol that spec validation reads.
    def capability_names(self) -> Iterable[str]:
        return self._capabilities.keys()

    def tool_names(self) -> Iterable[str]:
        return self._tools.keys()

    def tool_needs(self, name: str) -> ToolNeeds | None:
        tool = self._tools.get(name)
        return None if tool is None else tool.needs or NO_NEEDS

    def step_kinds(self) -> Iterable[str]:
        return self._step_kinds

    def check_model(self, target: str | None) -> str | None:
        if self._models is None:
            return "this installation has no LLM gateway"
        return self._models.check_target(target)

    def capability(self, name: str, *, tool: bool = False) -> Capability:
        table = self._tools if tool else self._capabilities
        try:
            return table[name]
        except KeyError:
            noun = "tool" if tool else "capability"
            raise NotFound(f"no agent provides {noun} '{name}'") from None

    def breakers(self) -> list[CircuitBreaker]:
        """The breakers of the capabilities called so far."""
        return list(self._breakers.values())

    def breaker(self, name: str) -> CircuitBreaker:
        if name not in self._breakers:
            self._breakers[name] = CircuitBreaker(
                name, self._breaker_failures, self._breaker_reset, self._clock
            )
        return self._breakers[name]

    @staticmethod
    def parse(capability: Capability, args: Any) -> Any:
        """`args` as the capability's input model; `InvalidArgs` saying what does not fit."""
        try:
            return capability.input_model.model_validate(args)
        except ValidationError as exc:
            raise InvalidArgs(
                f"args for '{capability.name}' do not fit {capability.input_model.__name__}: "
                + "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()),
                details={"errors": exc.errors(include_url=False, include_context=False)},
            ) from None

    async def call(
        self,
        name: str,
        args: dict[str, Any],
        ctx: CallContext,
        *,
        tool: bool = False,
        timeout: float | None = None,  # noqa: ASYNC109 - the step's own timeout, counted by the breaker
    ) -> CallResult:
        capability = self.capability(name, tool=tool)
        if capability.needs is not None and capability.needs.timeout is not None:
            own = capability.needs.timeout
            timeout = own if timeout is None else min(timeout, own)
        parsed = self.parse(capability, args)
        attributes = {"batonflow.agent": capability.agent, "batonflow.capability": name}
        with self.tracer.start_as_current_span(f"agent {name}", attributes=attributes):
            return await self._call(name, capability, parsed, ctx, timeout)

    async def _call(
        self,
        name: str,
        capability: Capability,
        parsed: Any,
        ctx: CallContext,
        timeout: float | None,  # noqa: ASYNC109 - the step's own timeout, counted by the breaker
    ) -> CallResult:
        breaker = self.breaker(name)
        breaker.before_call()
        started = time.perf_counter()
        try:
            async with asyncio.timeout(timeout):
                output = await capability.handler(ctx, parsed)
            if not isinstance(output, capability.output_model):
                output = capability.output_model.model_validate(output)
        except TimeoutError:
            breaker.record_failure()
            raise StepTimeout(f"'{name}' passed its timeout of {timeout}s") from None
        except ValidationError as exc:
            breaker.record_failure()
            raise StepFailed(f"'{name}' returned output that does not fit: {exc}") from exc
        except (OutboundRefused, SandboxStopped):
            # The platform refused what the caller asked (a host, what its code did): that says
            # nothing of the tool's health, and counting it would let injected calls open the
            # breaker for every tenant.
            breaker.release_probe()
            raise
        except Exception:
            breaker.record_failure()
            raise
        except BaseException:
            breaker.release_probe()  # cancelled: neither a success nor a failure
            raise
        breaker.record_success()
        return CallResult(
            output=output.model_dump(mode="json"),
            agent=capability.agent,
            capability=name,
            duration_ms=(time.perf_counter() - started) * 1000,
        )


def build_registry(
    agents: Iterable[Agent],
    *,
    breaker_failures: int = 5,
    breaker_reset_seconds: float = 30.0,
    models: ModelNames | None = None,
    tracer: Tracer = NO_TRACER,
) -> Registry:
    """A registry of `agents` (the enabled apps' agents and toolboxes)."""
    registry = Registry(
        breaker_failures=breaker_failures,
        breaker_reset_seconds=breaker_reset_seconds,
        models=models,
        tracer=tracer,
    )
    for agent in agents:
        registry.add(agent)
    return registry
