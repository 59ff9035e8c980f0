"""How each step kind executes once a worker holds its lease.

A handler gets a `StepContext` (only what handlers may use of the worker running them: the agent
registry, the LLM gateway, database reads, side effects, live text, committing a map item) and
the `Attempt` (the claim, the step spec and the template scope), and returns an `Outcome` for
the checkpoint transaction. `review` and `input` steps hand the run to a person; `workflow` steps
start a child run; `map` runs its sub-step once per item, committing each item as it finishes so a
restarted map only runs the items that had not been committed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

from batonflow.agents.agent import CallContext, Effects
from batonflow.agents.registry import Registry
from batonflow.errors import StepFailed, TemplateError, error_code, is_retryable
from batonflow.ids import new_id
from batonflow.llm import prompts, untrusted
from batonflow.llm.client import LlmClient, messages_for
from batonflow.llm.gateway import Gateway
from batonflow.llm.ledger import Budget, CallScope
from batonflow.llm.messages import ModelRequest
from batonflow.llm.records import CallRecord
from batonflow.retrieval.embeddings import Embedders
from batonflow.retrieval.rerank import Rerankers
from batonflow.runs.layout import new_run_rows
from batonflow.runs.run import StepStatus, idempotency_key
from batonflow.store import prompts as prompt_store
from batonflow.store import runs as run_store
from batonflow.store import workflows as workflow_store
from batonflow.store.db import Conn
from batonflow.store.run_tx import new_step_row
from batonflow.workflows import engine, templates
from batonflow.workflows import fanout as fanout_caps
from batonflow.workflows.attempts import Claim, Outcome
from batonflow.workflows.checkpoint import SpecCache
from batonflow.workflows.fanout import FanOut
from batonflow.workflows.retrieve import (
    Models,
    TenantKnowledge,
    ground,
    run_retrieve,
    tenant_knowledge,
)
from batonflow.workflows.spec import (
    AgentStep,
    InputStep,
    LlmStep,
    MapItemAgent,
    MapStep,
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
    embedders: Embedders = field(default_factory=Embedders)
    rerankers: Rerankers = field(default_factory=Rerankers)


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


def _outcome(sc: StepContext, a: Attempt, **fields: Any) -> Outcome:
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
        kb=tenant_knowledge(
            sc.read,
            sc.write,
            sc.embedders,
            CallScope(a.claim.tenant_id, a.claim.run_id, key, attempt),
            calls,
        ),
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
    return _outcome(sc, a, status="succeeded", result=result.output, meta=meta, events=events)


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
    return _outcome(sc, a, status="succeeded", result=result, meta=meta)


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
    return _outcome(sc, a, status="waiting", review=review)


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
    return _outcome(sc, a, status="waiting", child_run=run, child_steps=tuple(steps))


async def run_map(sc: StepContext, a: Attempt) -> Outcome:
    step = a.step
    assert isinstance(step, MapStep)
    items = templates.evaluate(step.over, a.scope)
    if not isinstance(items, list | tuple):
        raise TemplateError(f"map over '{step.over}' gave {type(items).__name__}, not a list")
    sc.fanout.check_map(len(items))
    existing = await sc.read(
        lambda conn: run_store.list_steps(conn, a.claim.tenant_id, a.claim.run_id)
    )
    rows = {row["item_index"]: row for row in existing if row["parent_key"] == a.claim.key}
    results: dict[int, Any] = {
        index: row["result"]
        for index, row in rows.items()
        if row["status"] == StepStatus.SUCCEEDED.value
    }
    limit = asyncio.Semaphore(step.concurrency)

    async def one(index: int, item: Any) -> None:
        async with limit:
            row = rows.get(index)
            first = row["attempt"] + 1 if row is not None else 1
            results[index] = await _run_item(sc, a, step, index, item, first, row is None)

    pending = [one(i, item) for i, item in enumerate(items) if i not in results]
    async with asyncio.TaskGroup() as group:
        for job in pending:
            group.create_task(job)
    return _outcome(sc, a, status="succeeded", result=[results[i] for i in range(len(items))])


async def _run_item(
    sc: StepContext, a: Attempt, step: MapStep, index: int, item: Any, attempt: int, new_row: bool
) -> Any:
    sub = step.step
    key = f"{a.claim.key}[{index}]"
    scope = {**a.scope, "item": item, "index": index}
    row = new_step_row(
        a.claim.run_id,
        key,
        a.claim.tenant_id,
        sub.kind,
        status=StepStatus.RUNNING,
        attempt=attempt,
        parent_key=a.claim.key,
        item_index=index,
    )
    dispatch = a.claim.dispatch * 1000  # unique per item across re-dispatches of the map step
    while True:
        dispatch += 1
        started = datetime.now(UTC)

        common: dict[str, Any] = {
            "key": key,
            "dispatch": dispatch,
            "parent_dispatch": a.claim.dispatch,
            "meta": {"attempt": attempt, "started_at": started},
            "child_steps": (row,) if new_row else (),
        }
        calls: list[CallRecord] = []
        failure: BaseException | None = None
        try:
            args = templates.render(sub.args, scope)
            ctx = call_context(sc, a, key, attempt, sub.timeout, calls)
            name = sub.capability if isinstance(sub, MapItemAgent) else sub.tool
            result = await sc.registry.call(
                name, args, ctx, tool=sub.kind == "tool", timeout=sub.timeout
            )
        except Exception as exc:
            failure = exc
        common["llm_calls"] = tuple(call.event_data() for call in calls)
        if failure is None:
            await sc.commit_item(
                _outcome(sc, a, status="succeeded", result=result.output, **common)
            )
            return result.output
        error = error_dict(failure)
        await sc.commit_item(_outcome(sc, a, status="failed", error=error, **common))
        new_row = False
        delay = engine.retry_delay(
            sub.retry, attempt, error["code"], is_retryable(failure), sc.rand()
        )
        if delay is None:
            raise StepFailed(
                f"map item {index} failed: {error['message']}",
                retryable=False,
                details={"index": index, "item": item, "error": error},
            )
        attempt += 1
        await asyncio.sleep(delay)


async def run_retrieve_step(sc: StepContext, a: Attempt) -> Outcome:
    assert isinstance(a.step, RetrieveStep)
    models = Models(sc.embedders, sc.rerankers, a.calls)
    return await run_retrieve(sc.read, sc.worker, a.claim, a.step, a.scope, models)


HANDLERS: dict[str, Handler] = {
    "agent": run_agent,
    "retrieve": run_retrieve_step,
    "llm": run_llm,
    "tool": run_agent,
    "review": run_review,
    "input": run_review,
    "workflow": run_workflow,
    "map": run_map,
}
