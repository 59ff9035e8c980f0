"""The one vocabulary every model adapter speaks: messages, tool calls, usage, requests, replies.
Token counts are normalised so one price formula fits every provider (docs/architecture.md):
`input_tokens` includes the cached and cache-write ones, `output_tokens` the reasoning ones.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"))


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SystemMessage(_Message):
    role: Literal["system"] = "system"
    content: str


class UserMessage(_Message):
    role: Literal["user"] = "user"
    content: str


class ToolCall(_Message):
    id: str
    name: str
    arguments: dict[str, Any]


class AssistantMessage(_Message):
    role: Literal["assistant"] = "assistant"
    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()


class ToolMessage(_Message):
    role: Literal["tool"] = "tool"
    tool_call_id: str
    content: str


Message = Annotated[
    SystemMessage | UserMessage | AssistantMessage | ToolMessage, Field(discriminator="role")
]


class ToolSpec(_Message):
    """A tool the model may call: a name, what it does, and a JSON Schema of its arguments."""

    name: str
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object"})


class Usage(_Message):
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cached_input_tokens=self.cached_input_tokens + other.cached_input_tokens,
            cache_write_tokens=self.cache_write_tokens + other.cache_write_tokens,
            reasoning_tokens=self.reasoning_tokens + other.reasoning_tokens,
        )


class ModelRequest(_Message):
    messages: tuple[Message, ...]
    max_tokens: int = Field(512, ge=1, le=200_000)
    temperature: float | None = Field(None, ge=0, le=2)
    output_schema: dict[str, Any] | None = None
    tools: tuple[ToolSpec, ...] = ()
    stop: tuple[str, ...] = ()

    def prompt_hash(self) -> str:
        """A stable hash of what is sent (messages, schema, tools), logged with every call."""
        body = self.model_dump(mode="json", include={"messages", "output_schema", "tools"})
        canonical = _CANONICAL.encode(body)
        return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


class ModelResponse(_Message):
    text: str
    tool_calls: tuple[ToolCall, ...] = ()
    usage: Usage = Usage()
    finish_reason: str | None = None
    provider_model: str | None = Field(None, description="the model the provider says it ran")
