"""The gateway as an agent sees it: bound to one step attempt (`ctx.llm`).

reply = await ctx.llm.complete("Summarise: ...", output=Summary, model="smart")
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from batonflow.llm.gateway import Completion, Gateway, Publish
from batonflow.llm.ledger import CallScope
from batonflow.llm.messages import Message, ModelRequest, SystemMessage, UserMessage
from batonflow.llm.records import CallRecord


class LlmClient:
    def __init__(
        self,
        gateway: Gateway,
        scope: CallScope,
        *,
        publish: Publish | None = None,
        calls: list[CallRecord] | None = None,
        systems: list[str] | None = None,
    ) -> None:
        self.gateway = gateway
        self.scope = scope
        self.publish = publish
        self.calls: list[CallRecord] = [] if calls is None else calls
        # The system prompts sent, for the output check (`llm/leaks.py`) of what leaves.
        self.systems: list[str] = [] if systems is None else systems

    async def complete(
        self,
        prompt: str | Sequence[Message],
        *,
        system: str | None = None,
        model: str | None = None,
        output: type[BaseModel] | dict[str, Any] | None = None,
        max_tokens: int = 512,
        temperature: float | None = None,
    ) -> Completion:
        messages = messages_for(prompt, system) if isinstance(prompt, str) else tuple(prompt)
        self.systems.extend(m.content for m in messages if isinstance(m, SystemMessage))
        output_model = output if isinstance(output, type) else None
        request = ModelRequest(
            messages=messages,
            max_tokens=max_tokens,
            temperature=temperature,
            output_schema=output if isinstance(output, dict) else None,
        )
        return await self.gateway.complete(
            request,
            self.scope,
            target=model,
            output_model=output_model,
            publish=self.publish,
            calls=self.calls,
        )


def messages_for(prompt: str, system: str | None = None) -> tuple[Message, ...]:
    """The messages of a one-turn prompt."""
    if system:
        return (SystemMessage(content=system), UserMessage(content=prompt))
    return (UserMessage(content=prompt),)
