"""How each step kind executes once a worker holds its lease.

A handler gets a `StepContext` (only what handlers may use of the worker running them: the agent
registry, the LLM gateway, database reads, side effects, live text, committing a map item,
outbound HTTP) and the `Attempt` (the claim, the step spec, the template scope and what the
attempt records), both in `step_context.py`, and returns an `Outcome` for
the checkpoint transaction. `review` and `input` steps hand the run to a person; `workflow` steps
start a child run; `map` runs its sub-step once per item, committing each item as it finishes so a
restarted map only runs the items that had not been committed.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from batonflow.errors import StepFailed, TemplateError, is_retryable
from batonflow.ids import new_id
from batonflow.llm import prompts, untrusted
from batonflow.llm.client import messages_for
from batonflow.llm.messages import ModelRequest
from batonflow.llm.records import CallRecord
from batonflow.runs.layout import new_run_rows
from batonflow.runs.run import StepStatus
from batonflow.store import prompts as prompt_store
from batonflow.store import runs as run_store
from batonflow.store import workflows as workflow_store
from batonflow.store.run_tx import new_step_row
from batonflow.workflows import engine, templates
from batonflow.workflows.attempts import Outcome
from batonflow.workflows.retrieve import TenantKnowledge, ground, run_retrieve
from batonflow.workflows.spec import (
    AgentStep,
    InputStep,
    LlmStep,
    MapItemAgent,
    MapStep,
    PromptRef,
    RetrieveStep,
    ReviewStep,
    ToolStep,
    WorkflowSpec,
    WorkflowStep,
)
from batonflow.workflows.step_context import (
    Attempt,
    Handler,
    StepContext,
    call_context,
    error_dict,
    llm_client,
)
from batonflow.workflows.tool_calls import tool_turns

__all__ = ["HANDLERS", "Attempt", "StepContext", "error_dict"]


def _outcome(sc: StepContext, a: Attempt, **fields: Any) -> Outcome:
    fields.setdefault("key", a.claim.key)
    fields.setdefault("dispatch", a.claim.dispatch)
    return Outcome(run_id=a.claim.run_id, worker=sc.worker, **fields)


async def run_agent(sc: StepContext, a: Attempt) -> Outcome:
    step = a.step
    assert isinstance(step, AgentStep | ToolStep)
    args = templates.render(step.args, a.scope)
    name = step.capability if isinstance(step, AgentStep) else step.tool
    ctx = call_context(sc, a, a.claim.key, a.claim.attempt, step.timeout)
    if isinstance(step, ToolStep):  # through the gate: the grant's limits apply to it too
        assert ctx.tools is not None
        result = await ctx.tools.call(name, args, by="step")
    else:
        result = await sc.registry.call(name, args, ctx, timeout=step.timeout)
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
    if step.tools:
        gate = call_context(sc, a, a.claim.key, a.claim.attempt, step.timeout).tools
        assert gate is not None
        completion = await tool_turns(
            sc.gateway, gate, step, request, client.scope, client.publish, a.calls
        )
    else:
        completion = await sc.gateway.complete(
            request, client.scope, target=step.model, publish=client.publish, calls=a.calls
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
        events: list[tuple[str, dict[str, Any]]] = []
        failure: BaseException | None = None
        try:
            args = templates.render(sub.args, scope)
            ctx = call_context(
                sc, a, key, attempt, sub.timeout, calls, granting=sub, scope=scope, events=events
            )
            if isinstance(sub, MapItemAgent):
                result = await sc.registry.call(sub.capability, args, ctx, timeout=sub.timeout)
            else:
                assert ctx.tools is not None
                result = await ctx.tools.call(sub.tool, args, by="step")
        except Exception as exc:
            failure = exc
        common["llm_calls"] = tuple(call.event_data() for call in calls)
        common["events"] = tuple(events)
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
    return await run_retrieve(sc.read, sc.worker, a.claim, a.step, a.scope)


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
