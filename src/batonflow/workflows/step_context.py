"""What a step handler gets: `StepContext` (its view of the worker running it) and `Attempt`
(the claim, the step, the template scope, and what the attempt records: model calls and events);
and the contexts it builds for the calls it makes (`call_context`, `llm_client`)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

from batonflow.agents.agent import CallContext, Effects
from batonflow.agents.gate import ToolGate
from batonflow.agents.registry import Registry
from batonflow.errors import error_code
from batonflow.llm.client import LlmClient
from batonflow.llm.gateway import Gateway
from batonflow.llm.leaks import LeakCheck
from batonflow.llm.ledger import Budget, CallScope
from batonflow.llm.records import CallRecord
from batonflow.net.outbound import Outbound, policy_of
from batonflow.retrieval.embeddings import Embedders
from batonflow.retrieval.rerank import Rerankers
from batonflow.runs.run import idempotency_key, reads_as
from batonflow.settings import Settings
from batonflow.store.db import Conn
from batonflow.workflows import fanout as fanout_caps
from batonflow.workflows.attempts import Claim, Outcome
from batonflow.workflows.checkpoint import SpecCache
from batonflow.workflows.fanout import FanOut
from batonflow.workflows.retrieve import tenant_knowledge
from batonflow.workflows.spec import Step, WorkflowSpec
from batonflow.workflows.tool_calls import grants

T = TypeVar("T")


class Reads(Protocol):
    """Runs `work` in a read-only transaction of the worker's database."""

    async def __call__(self, work: Callable[[Conn], Awaitable[T]]) -> T: ...


@dataclass(frozen=True, slots=True)
class StepContext:
    """What step handlers may use of the worker that runs them."""

    worker: str
    registry: Registry
    gateway: Gateway
    budget: Budget  # a run's budget when its spec sets none
    read: Reads
    write: Reads  # a write transaction, outside the checkpoint (knowledge-base ingestion)
    specs: SpecCache
    effects: Callable[[str, str, str], Effects]  # (tenant, run, key) -> once-per-key effects
    publish_delta: Callable[[str, str, str], Callable[[dict[str, Any]], None]]
    commit_item: Callable[[Outcome], Awaitable[None]]  # commit a map item's outcome now
    rand: Callable[[], float]
    fanout: FanOut = fanout_caps.DEFAULT
    outbound: Outbound = field(default_factory=Outbound)  # tools' HTTP (net/outbound.py)
    embedders: Embedders = field(default_factory=Embedders)  # knowledge bases' models
    rerankers: Rerankers = field(default_factory=Rerankers)
    leaks: LeakCheck = field(default_factory=LeakCheck)  # the installation's secrets


def configured(
    settings: Settings,
    gateway: Gateway,
    embedders: Embedders | None = None,
    rerankers: Rerankers | None = None,
) -> dict[str, Any]:
    """The `StepContext` parts the settings decide (those given override them)."""
    return {
        "fanout": FanOut.of(settings),
        "outbound": Outbound(policy_of(settings)),
        "embedders": embedders or Embedders.of(settings, gateway.accounts),
        "rerankers": rerankers or Rerankers.of(settings),
        "leaks": LeakCheck.of(settings),
    }


@dataclass(frozen=True, slots=True)
class TenantRows:
    """`CallContext.data`: the worker's read and write transactions, for one tenant's rows."""

    tenant_id: str
    reads: Reads
    writes: Reads

    async def read(self, work: Callable[[Conn], Awaitable[T]]) -> T:
        return await self.reads(work)

    async def write(self, work: Callable[[Conn], Awaitable[T]]) -> T:
        return await self.writes(work)


@dataclass(frozen=True, slots=True)
class Attempt:
    """Everything a handler needs about the attempt it runs."""

    claim: Claim
    step: Step
    spec: WorkflowSpec
    scope: dict[str, Any]
    started_at: datetime
    calls: list[CallRecord] = field(default_factory=list)  # the attempt's model calls
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # tool.refused, ...
    args: dict[str, Any] = field(default_factory=dict)  # what the step's templates resolved to
    systems: list[str] = field(default_factory=list)  # the system prompts its model calls sent

    def leaks(self, sc: StepContext) -> LeakCheck:
        """The output check for what this attempt sends out, as of now."""
        return sc.leaks.with_prompts(*self.systems)


Handler = Callable[[StepContext, Attempt], Awaitable[Outcome]]


def error_dict(exc: BaseException) -> dict[str, Any]:
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    details = dict(getattr(exc, "details", {}) or {})
    if error_code(exc) == "exception":
        details["type"] = type(exc).__name__
    return {"code": error_code(exc), "message": message, "details": details}


def run_budget(sc: StepContext, spec: WorkflowSpec) -> Budget:
    """The spec's run budget, else the installation's default."""
    if spec.budget is not None:
        return Budget(tokens=spec.budget.tokens, cost_usd=spec.budget.cost_usd)
    return sc.budget


def llm_client(
    sc: StepContext,
    a: Attempt,
    key: str,
    attempt: int,
    timeout: float | None,
    calls: list[CallRecord],
    prompt: tuple[str, int] | None = None,
) -> LlmClient:
    scope = CallScope(
        tenant_id=a.claim.tenant_id,
        run_id=a.claim.run_id,
        step_key=key,
        attempt=attempt,
        deadline=time.monotonic() + timeout if timeout else None,
        run_budget=run_budget(sc, a.spec),
        prompt_key=prompt[0] if prompt else None,
        prompt_version=prompt[1] if prompt else None,
    )
    publish = sc.publish_delta(a.claim.tenant_id, a.claim.run_id, key)
    return LlmClient(sc.gateway, scope, publish=publish, calls=calls, systems=a.systems)


def call_context(
    sc: StepContext,
    a: Attempt,
    key: str,
    attempt: int,
    timeout: float | None,
    calls: list[CallRecord] | None = None,
    *,
    granting: Any = None,
    scope: dict[str, Any] | None = None,
    events: list[tuple[str, dict[str, Any]]] | None = None,
) -> CallContext:
    """The context of a call in this attempt; `granting` (the step or map sub-step) gives the
    tools its call may use, their `allow` lists rendered from `scope`."""
    deadline = datetime.now(UTC) + timedelta(seconds=timeout) if timeout else None
    idem = idempotency_key(a.claim.run_id, key, attempt)
    calls = a.calls if calls is None else calls

    def leaks() -> LeakCheck:
        return a.leaks(sc)

    allowed = grants(granting if granting is not None else a.step, scope or a.scope)
    gate = ToolGate(sc.registry, allowed, sc.outbound, timeout=timeout, leaks=leaks)
    gate.events = a.events if events is None else events
    gate.ctx = CallContext(
        tenant_id=a.claim.tenant_id,
        run_id=a.claim.run_id,
        step_id=key,
        attempt=attempt,
        idempotency_key=idem,
        deadline=deadline,
        worker=sc.worker,
        effects=sc.effects(a.claim.tenant_id, a.claim.run_id, idem),
        llm=llm_client(sc, a, key, attempt, timeout, calls),
        kb=tenant_knowledge(
            sc.read,
            sc.write,
            sc.embedders,
            CallScope(a.claim.tenant_id, a.claim.run_id, key, attempt),
            calls,
            reader=reads_as(a.claim.private_to),
        ),
        data=TenantRows(a.claim.tenant_id, sc.read, sc.write),
        tools=gate,
        leaks=leaks,
    )
    return gate.ctx
