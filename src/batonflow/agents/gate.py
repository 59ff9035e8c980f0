"""The platform's check on every tool call an agent, a model or a step asks for, made outside the
model before the tool runs: the tool is granted to the step, the arguments fit its schema, every
`bounded` argument takes only values the grant allows, and a tool with side effects gets no
argument carrying a secret, a credential or the attempt's system prompt text (`llm/leaks.py`).
A refused call raises `ToolRefused` (recorded as `tool.refused`, quoted values redacted); a call
the outbound client or the sandbox stops while it runs keeps its own error and is recorded as
`tool.refused` too. An allowed one runs with `ctx.http` limited to the tool's hosts.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from batonflow.agents.agent import CallContext
from batonflow.agents.needs import NO_NEEDS
from batonflow.agents.registry import CallResult, Registry
from batonflow.errors import (
    InvalidArgs,
    NotFound,
    OutboundRefused,
    SandboxStopped,
    ToolRefused,
)
from batonflow.llm.leaks import LeakCheck, labels
from batonflow.llm.messages import ToolSpec
from batonflow.net.outbound import Outbound

Caller = Literal["step", "agent", "model"]


@dataclass(frozen=True, slots=True)
class Grant:
    """A grant as it applies at run time: its `allow` lists rendered from the run's data."""

    tool: str
    allow: Mapping[str, list[Any]]
    hosts: tuple[str, ...] | None = None


def allowed_values(value: Any) -> list[Any]:
    """A rendered `allow` entry as a list (a comma-separated string is split)."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list | tuple):
        return list(value)
    return [value]


def _same(value: Any, allowed: Any) -> bool:
    if isinstance(value, str) and isinstance(allowed, str):
        return value.strip().casefold() == allowed.strip().casefold()
    return bool(value == allowed)


class ToolGate:
    """The tools one step attempt may call, and the record of what was refused. `ctx` is the
    context of the call the gate is the `tools` of, set once that context is built with it
    (`workflows/step_context.py:call_context`); a tool runs on it with `tools` taken away."""

    ctx: CallContext

    def __init__(
        self,
        registry: Registry,
        grants: Mapping[str, Grant],
        outbound: Outbound,
        *,
        timeout: float | None = None,
        leaks: Callable[[], LeakCheck] = LeakCheck,
    ) -> None:
        self.registry = registry
        self.grants = dict(grants)
        self.outbound = outbound
        self.timeout = timeout
        self.leaks = leaks
        self.events: list[tuple[str, dict[str, Any]]] = []

    @property
    def names(self) -> list[str]:
        return sorted(self.grants)

    def specs(self) -> tuple[ToolSpec, ...]:
        """The granted tools as a model is offered them."""
        found = []
        for name in self.names:
            tool = self.registry.capability(name, tool=True)
            schema = tool.input_model.model_json_schema()
            found.append(ToolSpec(name=name, description=tool.description, parameters=schema))
        return tuple(found)

    def refuse(self, name: str, refusal: str, reason: str, by: Caller) -> ToolRefused:
        data = self.record(name, refusal, reason, by)
        return ToolRefused(f"tool '{name}' refused: {data['reason']}", details=data)

    def record(self, name: str, refusal: str, reason: str, by: Caller) -> dict[str, Any]:
        data = {"tool": name, "refusal": refusal, "reason": self.leaks().redact(reason), "by": by}
        self.events.append(("tool.refused", {**data, "attempt": self.ctx.attempt}))
        return data

    def check(self, name: str, args: Any, by: Caller) -> dict[str, Any]:
        """The arguments as the tool's schema reads them; `ToolRefused` if the call may not run."""
        grant = self.grants.get(name)
        if grant is None:
            granted = ", ".join(self.names) or "none"
            reason = f"not granted to step '{self.ctx.step_id}' (granted: {granted})"
            raise self.refuse(name, "not_granted", reason, by)
        try:
            tool = self.registry.capability(name, tool=True)
        except NotFound as exc:
            raise self.refuse(name, "not_granted", exc.message, by) from None
        try:
            parsed: dict[str, Any] = self.registry.parse(tool, args).model_dump(mode="json")
        except InvalidArgs as exc:
            if by == "step":  # the workflow's own arguments: its author's mistake, as before
                raise
            raise self.refuse(name, "invalid_args", exc.message, by) from None
        for arg, allowed in grant.allow.items():
            value = parsed.get(arg)
            values = value if isinstance(value, list) else [value]
            for one in values:
                if not any(_same(one, choice) for choice in allowed):
                    reason = f"{arg} {json.dumps(one)[:200]} is outside the grant's allow list"
                    raise self.refuse(name, "outside_policy", reason, by)
        needs = self.registry.tool_needs(name) or NO_NEEDS
        if needs.side_effects and (found := self.leaks().find_in(parsed)):
            reason = f"its arguments carry {', '.join(labels(found))}, which may not leave"
            raise self.refuse(name, "leak", reason, by)
        return parsed

    async def call(self, name: str, args: Any, *, by: Caller = "agent") -> CallResult:
        """Check, then run, a granted tool."""
        self.check(name, args, by)
        grant = self.grants[name]
        needs = self.registry.tool_needs(name) or NO_NEEDS
        hosts = grant.hosts if grant.hosts is not None else needs.hosts
        ctx = replace(self.ctx, tools=None, http=self.outbound.limited(hosts), leaks=self.leaks)
        try:
            return await self.registry.call(name, args, ctx, tool=True, timeout=self.timeout)
        except (OutboundRefused, SandboxStopped) as exc:
            self.record(name, exc.code, exc.message, by)
            raise
