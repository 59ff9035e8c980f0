"""How each step kind executes once a worker holds its lease.

A handler gets a `StepContext` (only what handlers may use of the worker running them: the agent
registry, the LLM gateway, database reads, side effects, live text, committing a map item) and
the `Attempt` (the claim, the step spec and the template scope), and returns an `Outcome` for
the checkpoint transaction. `review` and `input` steps hand the run to a person; `workflow` steps
start a child run; `map` steps are `workflows/mapping.py`. The runner (`workflows/runner.py`)
picks the handler by the step's kind.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

from batonflow.agents.agent import CallContext, Effects
from batonflow.agents.registry import Registry
from batonflow.errors import error_code
from batonflow.ids import new_id
from batonflow.llm import prompts, untrusted
from batonflow.llm.client import LlmClient, messages_for
from batonflow.llm.gateway import Gateway
from batonflow.llm.ledger import Budget, CallScope
from batonflow.llm.messages import ModelRequest
from batonflow.llm.records import CallRecord
from batonflow.runs.layout import new_run_rows
from batonflow.runs.run import idempotency_key
from batonflow.store import prompts as prompt_store
from batonflow.store import workflows as workflow_store
from batonflow.store.db import Conn
from batonflow.workflows import fanout as fanout_caps
from batonflow.workflows import templates
from batonflow.workflows.attempts import Claim, Outcome
from batonflow.workflows.checkpoint import SpecCache
from batonflow.workflows.fanout import FanOut
from batonflow.workflows.retrieve import TenantKnowledge, ground, run_retrieve, tenant_knowledge
from batonflow.workflows.spec import (
    AgentStep,
    InputStep,
    LlmStep,
    PromptRef,
    RetrieveStep,
    ReviewStep,
    Step,
    ToolStep,
    WorkflowSpec,
    WorkflowStep,
)

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


@dataclass(frozen=True, slots=True)
class Attempt:
    """Everything a handler needs about the attempt it runs."""

    claim: Claim
    step: Step
    spec: WorkflowSpec
    scope: dict[str, Any]
    started_at: datetime
    calls: list[CallRecord] = field(default_factory=list)  # the attempt's model calls


Handler = Callable[[StepContext, Attempt], Awaitable[Outcome]]


def error_dict(exc: BaseException) -> dict[str, Any]:
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    details = dict(getattr(exc, "details", {}) or {})
    if error_code(exc) == "exception":
        details["type"] = type(exc).__name__
    return {"code": error_code(exc), "message": message, "details": details}


def outcome(sc: StepContext, a: Attempt, **fields: Any) -> Outcome:
    fields.setdefault("key", a.claim.key)
    fields.setdefault("dispatch", a.claim.dispatch)
    return Outcome(run_id=a.claim.run_id, worker=sc.worker, **fields)


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
    return LlmClient(sc.gateway, scope, publish=publish, calls=calls)


def call_context(
    sc: StepContext,
    a: Attempt,
    key: str,
    attempt: int,
    timeout: float | None,
    calls: list[CallRecord] | None = None,
) -> CallContext:
    deadline = datetime.now(UTC) + timedelta(seconds=timeout) if timeout else None
    idem = idempotency_key(a.claim.run_id, key, attempt)
    calls = a.calls if calls is None else calls
    return CallContext(
        tenant_id=a.claim.tenant_id,
        run_id=a.claim.run_id,
        step_id=key,
        attempt=attempt,
        idempotency_key=idem,
        deadline=deadline,
        worker=sc.worker,
        effects=sc.effects(a.claim.tenant_id, a.claim.run_id, idem),
        llm=llm_client(sc, a, key, attempt, timeout, calls),
        kb=tenant_knowledge(sc.read, sc.write, a.claim.tenant_id),
    )


async def run_agent(sc: StepContext, a: Attempt) -> Outcome:
    step = a.step
    assert isinstance(step, AgentStep | ToolStep)
    args = templates.render(step.args, a.scope)
    name = step.capability if isinstance(step, AgentStep) else step.tool
    ctx = call_context(sc, a, a.claim.key, a.claim.attempt, step.timeout)
    result = await sc.registry.call(
        name, args, ctx, tool=isinstance(step, ToolStep), timeout=step.timeout
    )
    meta = {"agent": result.agent, "capability": result.capability}
    events = tuple(ctx.kb.events) if isinstance(ctx.kb, TenantKnowledge) else ()
    return outcome(sc, a, status="succeeded", result=result.output, meta=meta, events=events)


async def run_llm(sc: StepContext, a: Attempt) -> Outcome:
    step = a.step
    assert isinstance(step, LlmStep)
    variables = templates.render(step.args, a.scope)
    system = templates.render_text(step.system, a.scope) if step.system else None
    ref: tuple[str, int] | None = None
    if isinstance(step.prompt, PromptRef):
        key, version = step.prompt.key, step.prompt.version
        stored = await sc.read(lambda conn: prompt_store.get(conn, a.claim.tenant_id, key, version))
        prompt_system, text = prompts.render(stored, variables)
        system = prompt_system or system
        ref = (stored["key"], stored["version"])
    else:
        text = templates.render_text(step.prompt, {**a.scope, "args": variables})
    client = llm_client(sc, a, a.claim.key, a.claim.attempt, step.timeout, a.calls, ref)
    grounded = ground(step, a.scope, system, text) if step.context is not None else None
    if grounded is not None:  # retrieved passages, framed as data; citations checked
        system, text = grounded.system, grounded.text
    request = ModelRequest(
        messages=messages_for(text, untrusted.with_notice(text, system)),
        max_tokens=step.max_tokens,
        temperature=step.temperature,
        output_schema=step.output_schema if grounded is None else grounded.schema,
    )
    completion = await sc.gateway.complete(
        request,
        client.scope,
        target=step.model,
        publish=client.publish,
        calls=a.calls,
    )
    result = completion.value if step.output_schema is not None else {"text": completion.text}
    if grounded is not None:
        result = grounded.result(completion.value)
    meta = {"agent": "llm", "capability": completion.model}
    return outcome(sc, a, status="succeeded", result=result, meta=meta)


async def run_review(sc: StepContext, a: Attempt) -> Outcome:
    step = a.step
    assert isinstance(step, ReviewStep | InputStep)
    if isinstance(step, ReviewStep):
        subject = templates.render(step.subject, a.scope)
        review = {
            "kind": "review",
            "subject": subject,
            "instructions": step.instructions,
            "input_schema": None,
            "allow_edit": step.allow_edit,
        }
    else:
        subject = {
            "prompt": templates.render(step.prompt, a.scope),
            "args": templates.render(step.args, a.scope),
        }
        review = {
            "kind": "input",
            "subject": subject,
            "instructions": step.prompt,
            "input_schema": step.input_schema,
            "allow_edit": True,
        }
    review |= {
        "id": new_id(),
        "tenant_id": a.claim.tenant_id,
        "run_id": a.claim.run_id,
        "step_key": a.claim.key,
        "attempt": a.claim.attempt,
        "status": "pending",
        "reviewers": list(step.reviewers),
    }
    return outcome(sc, a, status="waiting", review=review)


async def run_workflow(sc: StepContext, a: Attempt) -> Outcome:
    step = a.step
    assert isinstance(step, WorkflowStep)
    inputs = templates.render(step.args, a.scope)
    await sc.fanout.check_child(sc.read, a.claim.tenant_id, a.claim.run_id, a.claim.key)
    version = await sc.read(
        lambda conn: workflow_store.get_version(
            conn, a.claim.tenant_id, step.workflow, step.version
        )
    )

    child_spec = WorkflowSpec.model_validate(version.spec)
    sc.specs.put(version.id, child_spec)
    run, steps = new_run_rows(
        tenant_id=a.claim.tenant_id,
        version=version,
        spec=child_spec,
        inputs=inputs,
        ctx=dict(a.scope["ctx"]),
        created_by=f"run:{a.claim.run_id}",
        now=datetime.now(UTC),
        parent=(a.claim.run_id, a.claim.key, a.claim.attempt),
    )
    return outcome(sc, a, status="waiting", child_run=run, child_steps=tuple(steps))


async def run_retrieve_step(sc: StepContext, a: Attempt) -> Outcome:
    assert isinstance(a.step, RetrieveStep)
    return await run_retrieve(sc.read, sc.worker, a.claim, a.step, a.scope)
