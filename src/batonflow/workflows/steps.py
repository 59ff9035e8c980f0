"""How each step kind executes once a worker holds its lease.

A handler gets a `StepContext` (only what handlers may use of the worker running them: the agent
registry, the LLM gateway, database reads, side effects, live text, committing a map item,
outbound HTTP) and the `Attempt` (the claim, the step spec, the template scope and what the
attempt records), both in `step_context.py`, and returns an `Outcome` for
the checkpoint transaction. `review` and `input` steps hand the run to a person; `workflow` steps
start a child run; `map` steps are `workflows/mapping.py`. The runner (`workflows/runner.py`)
picks the handler by the step's kind.

What an `llm` or `agent` step returns is its output in the API and the input of later steps: it
passes the output check (`llm/leaks.py`: the installation's secrets, credentials, the system
prompts the attempt's model calls sent) before it is kept. A leak fails the attempt with
`output_leak` (retried by the step's policy) and is an `output.leak` event and audit entry; so
is a leak an agent's own send refused (the sales app's email).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from batonflow.errors import OutputLeak
from batonflow.ids import new_id
from batonflow.llm import leaks, prompts, untrusted
from batonflow.llm.client import messages_for
from batonflow.llm.messages import ModelRequest
from batonflow.runs.layout import new_run_rows
from batonflow.store import prompts as prompt_store
from batonflow.store import workflows as workflow_store
from batonflow.workflows import templates
from batonflow.workflows.attempts import Outcome
from batonflow.workflows.retrieve import Models, TenantKnowledge, ground, run_retrieve
from batonflow.workflows.spec import (
    AgentStep,
    InputStep,
    LlmStep,
    PromptRef,
    RetrieveStep,
    ReviewStep,
    ToolStep,
    WorkflowSpec,
    WorkflowStep,
)
from batonflow.workflows.step_context import (
    Attempt,
    StepContext,
    call_context,
    error_dict,
    llm_client,
)
from batonflow.workflows.tool_calls import tool_turns

__all__ = ["Attempt", "StepContext", "error_dict", "outcome"]


def outcome(sc: StepContext, a: Attempt, **fields: Any) -> Outcome:
    fields.setdefault("key", a.claim.key)
    fields.setdefault("dispatch", a.claim.dispatch)
    return Outcome(run_id=a.claim.run_id, worker=sc.worker, **fields)


def attempt_outcome(sc: StepContext, a: Attempt, **fields: Any) -> Outcome:
    """The attempt's own outcome, with what its templates resolved to (the runner adds them to
    any outcome without them: one copy of an Outcome saved per attempt)."""
    return outcome(sc, a, args=dict(a.args) if a.args else None, **fields)


def leaked(a: Attempt, exc: OutputLeak, by: str) -> OutputLeak:
    """Record a leak the output check stopped (`output.leak`), and give the error back."""
    data = {"channel": exc.details["channel"], "found": exc.details["found"], "by": by}
    a.events.append(("output.leak", {**data, "attempt": a.claim.attempt}))
    return exc


def check_output(sc: StepContext, a: Attempt, value: Any, channel: str, by: str) -> None:
    """`OutputLeak` (recorded) when `value` carries what may not leave."""
    found = a.leaks(sc).find_in(value)
    if found:
        named = leaks.labels(found)
        message = f"the {channel} carries {', '.join(named)}; it was not kept"
        raise leaked(a, OutputLeak(message, details={"channel": channel, "found": named}), by)


async def run_agent(sc: StepContext, a: Attempt) -> Outcome:
    step = a.step
    assert isinstance(step, AgentStep | ToolStep)
    args = templates.render(step.args, a.scope)
    a.args.update(args)
    name = step.capability if isinstance(step, AgentStep) else step.tool
    ctx = call_context(sc, a, a.claim.key, a.claim.attempt, step.timeout)
    try:
        if isinstance(step, ToolStep):  # through the gate: the grant's limits apply to it too
            assert ctx.tools is not None
            result = await ctx.tools.call(name, args, by="step")
        else:
            result = await sc.registry.call(name, args, ctx, timeout=step.timeout)
    except OutputLeak as exc:  # an agent's own send refused what it would send
        raise leaked(a, exc, name) from None
    if isinstance(step, AgentStep):
        check_output(sc, a, result.output, "step output", result.agent)
    meta = {"agent": result.agent, "capability": result.capability}
    events = tuple(ctx.kb.events) if isinstance(ctx.kb, TenantKnowledge) else ()
    return attempt_outcome(
        sc, a, status="succeeded", result=result.output, meta=meta, events=events
    )


async def run_llm(sc: StepContext, a: Attempt) -> Outcome:
    step = a.step
    assert isinstance(step, LlmStep)
    variables = templates.render(step.args, a.scope)
    a.args.update(variables)
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
    if system:
        a.systems.append(system)
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
    check_output(sc, a, result, "step output", "model")
    meta = {"agent": "llm", "capability": completion.model}
    return attempt_outcome(sc, a, status="succeeded", result=result, meta=meta)


async def run_review(sc: StepContext, a: Attempt) -> Outcome:
    step = a.step
    assert isinstance(step, ReviewStep | InputStep)
    if isinstance(step, ReviewStep):
        subject = templates.render(step.subject, a.scope)
        a.args["subject"] = subject
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
        a.args.update(subject)
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
    return attempt_outcome(sc, a, status="waiting", review=review)


async def run_workflow(sc: StepContext, a: Attempt) -> Outcome:
    step = a.step
    assert isinstance(step, WorkflowStep)
    inputs = templates.render(step.args, a.scope)
    a.args.update(inputs)
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
    return attempt_outcome(sc, a, status="waiting", child_run=run, child_steps=tuple(steps))


async def run_retrieve_step(sc: StepContext, a: Attempt) -> Outcome:
    assert isinstance(a.step, RetrieveStep)
    models = Models(sc.embedders, sc.rerankers, a.calls)
    return await run_retrieve(sc.read, sc.worker, a.claim, a.step, a.scope, models)
