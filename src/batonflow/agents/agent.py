"""Agents: Python code that provides named capabilities with typed input and output, taken from
the function's annotations:

    @demo.capability("text.upper")
    async def upper(ctx: CallContext, args: UpperIn) -> UpperOut: ...

Every call gets a `CallContext`: who it is for, the attempt's idempotency key and deadline,
`effects` applied once per key, `llm` (the gateway bound to the attempt), `kb`, `data` (an app's
own rows), `tools` (the step's grants, checked by `agents/gate.py`), `http` (outbound, limited to
the calling tool's hosts) and `leaks` (the output check, `llm/leaks.py`, for text sent out).
A `Toolbox` declares tools the same way (`@box.tool(...)`).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, get_type_hints

from pydantic import BaseModel

from batonflow.agents.needs import NO_NEEDS, ToolNeeds
from batonflow.errors import ConfigError

if TYPE_CHECKING:
    from batonflow.agents.gate import ToolGate
    from batonflow.llm.client import LlmClient
    from batonflow.llm.leaks import LeakCheck
    from batonflow.net.outbound import Outbound

T = TypeVar("T")
In = TypeVar("In", bound=BaseModel)
Out = TypeVar("Out", bound=BaseModel)


class Effects(Protocol):
    """Applies a side effect at most once per key (the attempt's idempotency key by default)."""

    async def apply(
        self, kind: str, payload: dict[str, Any], *, key: str | None = None
    ) -> EffectRecord: ...


class KnowledgeBases(Protocol):
    """The call's tenant's knowledge bases: search them (each passage as `Passage.as_dict()`
    gives it: text, score, document, heading path, citation id), or ingest a stored document."""

    async def __call__(
        self, knowledge_bases: list[str], query: str, *, k: int = 5, mode: str = "hybrid"
    ) -> list[dict[str, Any]]: ...

    async def ingest(self, document_id: str) -> dict[str, Any]: ...


class TenantData(Protocol):
    """The database, for an app's agents: `read(work)` runs `work(conn)` in a read-only
    transaction, `write(work)` in a write transaction of its own (committed when `work` returns,
    apart from the step's checkpoint: make it idempotent). Every query `work` makes filters on
    `tenant_id`, the call's tenant."""

    @property
    def tenant_id(self) -> str: ...

    async def read(self, work: Callable[[Any], Awaitable[T]]) -> T: ...

    async def write(self, work: Callable[[Any], Awaitable[T]]) -> T: ...


@dataclass(frozen=True, slots=True)
class EffectRecord:
    key: str
    kind: str
    payload: dict[str, Any]
    applied_now: bool


@dataclass(frozen=True, slots=True)
class CallContext:
    tenant_id: str
    run_id: str
    step_id: str
    attempt: int
    idempotency_key: str
    deadline: datetime | None
    worker: str
    effects: Effects
    llm: LlmClient | None = None  # the LLM gateway, bound to this attempt
    kb: KnowledgeBases | None = None  # the tenant's knowledge bases
    data: TenantData | None = None  # the database, for an app's own tenant-owned rows
    tools: ToolGate | None = None  # the tools the workflow grants this step, checked
    http: Outbound | None = None  # outbound HTTP, limited to the tool's allowed hosts
    leaks: Callable[[], LeakCheck] | None = None  # the output check for what leaves, as of now
    extra: dict[str, Any] = field(default_factory=dict)


Handler = Callable[[CallContext, Any], Awaitable[BaseModel]]


@dataclass(frozen=True, slots=True)
class Capability:
    name: str
    agent: str
    description: str
    input_model: type[BaseModel]
    output_model: type[BaseModel]
    handler: Handler
    needs: ToolNeeds | None = None  # tools only: what the tool needs (agents/needs.py)


class Agent:
    def __init__(self, name: str, description: str = "") -> None:
        self.name = name
        self.description = description
        self.capabilities: dict[str, Capability] = {}

    def capability(
        self, name: str, description: str = "", *, needs: ToolNeeds | None = None
    ) -> Callable[
        [Callable[[CallContext, In], Awaitable[Out]]], Callable[[CallContext, In], Awaitable[Out]]
    ]:
        def register(
            fn: Callable[[CallContext, In], Awaitable[Out]],
        ) -> Callable[[CallContext, In], Awaitable[Out]]:
            input_model, output_model = _models_of(fn, name)
            if name in self.capabilities:
                raise ConfigError(f"agent '{self.name}' declares capability '{name}' twice")
            self.capabilities[name] = Capability(
                name=name,
                agent=self.name,
                description=description or inspect.getdoc(fn) or "",
                input_model=input_model,
                output_model=output_model,
                handler=fn,
                needs=needs,
            )
            return fn

        return register


class Toolbox(Agent):
    """A named set of tools: single functions a `tool` step, an agent or a model calls, each with
    a declaration of what it needs (`agents/needs.py`)."""

    def tool(
        self, name: str, description: str = "", *, needs: ToolNeeds = NO_NEEDS
    ) -> Callable[
        [Callable[[CallContext, In], Awaitable[Out]]], Callable[[CallContext, In], Awaitable[Out]]
    ]:
        return self.capability(name, description, needs=needs)


def _models_of(fn: Callable[..., Any], name: str) -> tuple[type[BaseModel], type[BaseModel]]:
    hints = get_type_hints(fn)
    params = [p for p in inspect.signature(fn).parameters if p != "return"]
    if len(params) != 2 or "return" not in hints:
        raise ConfigError(
            f"capability '{name}': write it as async def f(ctx, args: Model) -> Model"
        )
    input_model, output_model = hints.get(params[1]), hints["return"]
    for model in (input_model, output_model):
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            raise ConfigError(f"capability '{name}': args and return must be pydantic models")
    return input_model, output_model  # type: ignore[return-value]
