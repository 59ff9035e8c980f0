"""Tool calls inside a step: the step's grants as the gate applies them (their `allow` lists
rendered from the run's data), and the model's turns of an `llm` step with `tools`.

In an `llm` step with `tools`, the model is offered the granted tools. Each call it asks for goes
through the gate (`agents/gate.py`): a refused call is recorded (`tool.refused`) and the model
gets the refusal as the call's result; an allowed call runs and its result goes back framed as
untrusted data. The step ends when the model answers without calling a tool, or fails after
`tool_rounds` turns that all called tools.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from batonflow.agents.gate import Grant, ToolGate, allowed_values
from batonflow.errors import RunError, StepFailed, ToolRefused
from batonflow.llm import untrusted
from batonflow.llm.gateway import Completion, Gateway, Publish
from batonflow.llm.ledger import CallScope
from batonflow.llm.messages import (
    AssistantMessage,
    Message,
    ModelRequest,
    SystemMessage,
    ToolMessage,
)
from batonflow.llm.records import CallRecord
from batonflow.workflows import templates
from batonflow.workflows.spec import LlmStep, MapItemTool, ToolGrant, ToolStep


def grants(step: Any, scope: dict[str, Any]) -> dict[str, Grant]:
    """The step's grants, rendered; a `tool` step is granted its own tool."""
    declared: Sequence[ToolGrant] = getattr(step, "tools", ())
    found: dict[str, Grant] = {}
    for grant in declared:
        allow = templates.render(grant.allow, scope) if grant.allow else {}
        found[grant.tool] = Grant(
            tool=grant.tool,
            allow={arg: allowed_values(value) for arg, value in allow.items()},
            hosts=None if grant.hosts is None else tuple(grant.hosts),
        )
    if isinstance(step, ToolStep | MapItemTool) and step.tool not in found:
        found[step.tool] = Grant(tool=step.tool, allow={})
    return found


async def tool_turns(
    gateway: Gateway,
    gate: ToolGate,
    step: LlmStep,
    request: ModelRequest,
    scope: CallScope,
    publish: Publish | None,
    calls: list[CallRecord],
) -> Completion:
    """The model's turns until it answers without calling a tool."""
    messages: list[Message] = list(request.messages)
    system = untrusted.NOTICE  # tool results come back framed as data
    if messages and isinstance(messages[0], SystemMessage):
        first = messages.pop(0).content
        system = first if untrusted.NOTICE in first else f"{untrusted.NOTICE}\n\n{first}"
    messages.insert(0, SystemMessage(content=system))
    request = request.model_copy(update={"tools": gate.specs()})
    for _ in range(step.tool_rounds):
        turn = request.model_copy(update={"messages": tuple(messages)})
        completion = await gateway.complete(
            turn, scope, target=step.model, publish=publish, calls=calls
        )
        if not completion.tool_calls:
            return completion
        messages.append(AssistantMessage(content=completion.text, tool_calls=completion.tool_calls))
        for call in completion.tool_calls:
            messages.append(ToolMessage(tool_call_id=call.id, content=await _run(gate, call)))
    raise StepFailed(
        f"the model was still calling tools after {step.tool_rounds} turns",
        retryable=False,
        details={"tool_rounds": step.tool_rounds},
    )


async def _run(gate: ToolGate, call: Any) -> str:
    try:
        result = await gate.call(call.name, call.arguments, by="model")
    except ToolRefused as exc:
        return json.dumps({"refused": exc.details["reason"]})
    except RunError as exc:
        return json.dumps({"error": exc.code, "message": exc.message})
    return untrusted.frame(result.output, f"tool {call.name}")
