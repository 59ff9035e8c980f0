"""The Anthropic adapter: the official SDK's Messages API.

System messages become the `system` parameter; tool results travel as `tool_result` blocks in a
user turn. Structured output is a forced call of a tool named `respond` whose input schema is the
step's schema; the tool's input becomes the response text. The SDK's own retries are off. The
Messages API of the SDK version we pin takes no `temperature`, so a step's temperature is not sent.
"""

from __future__ import annotations

import json
from typing import Any

import anthropic
import httpx2
from anthropic._constants import DEFAULT_CONNECTION_LIMITS

from batonflow.errors import ModelUnavailable
from batonflow.llm.messages import (
    AssistantMessage,
    ModelRequest,
    ModelResponse,
    SystemMessage,
    ToolCall,
    ToolMessage,
    Usage,
)
from batonflow.llm.model import TextSink, sdk_errors
from batonflow.net.outbound import OutboundPolicy, ProviderTransport2

ANTHROPIC_URL = "https://api.anthropic.com"

RESPOND = "respond"


def client(
    api_key: str | None, base_url: str | None, policy: OutboundPolicy | None = None
) -> anthropic.AsyncAnthropic:
    """The SDK client on the outbound guard's transport (`net/outbound.py`): the configured base
    URL is trusted, a redirect to any other host is refused, answers are capped."""
    inner = httpx2.AsyncHTTPTransport(limits=DEFAULT_CONNECTION_LIMITS)
    transport = ProviderTransport2(policy or OutboundPolicy(), base_url or ANTHROPIC_URL, inner)
    return anthropic.AsyncAnthropic(
        api_key=api_key,
        base_url=base_url,
        max_retries=0,
        http_client=anthropic.DefaultAsyncHttpxClient(transport=transport),
    )


def to_wire(request: ModelRequest) -> tuple[str, list[dict[str, Any]]]:
    """(system text, messages), merging consecutive turns of one role as the API requires."""
    system: list[str] = []
    turns: list[dict[str, Any]] = []
    for message in request.messages:
        if isinstance(message, SystemMessage):
            system.append(message.content)
            continue
        blocks: list[dict[str, Any]]
        if isinstance(message, ToolMessage):
            role = "user"
            blocks = [
                {
                    "type": "tool_result",
                    "tool_use_id": message.tool_call_id,
                    "content": message.content,
                }
            ]
        elif isinstance(message, AssistantMessage):
            role = "assistant"
            blocks = [{"type": "text", "text": message.content}] if message.content else []
            blocks += [
                {"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments}
                for c in message.tool_calls
            ]
        else:
            role = "user"
            blocks = [{"type": "text", "text": message.content}]
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    return "\n\n".join(system), turns


def usage_of(raw: Any, output_tokens: int | None = None) -> Usage:
    read = getattr(raw, "cache_read_input_tokens", None) or 0
    write = getattr(raw, "cache_creation_input_tokens", None) or 0
    uncached = getattr(raw, "input_tokens", None) or 0
    out = output_tokens if output_tokens is not None else getattr(raw, "output_tokens", 0) or 0
    return Usage(
        input_tokens=uncached + read + write,
        output_tokens=out,
        cached_input_tokens=read,
        cache_write_tokens=write,
    )


class AnthropicModel:
    provider = "anthropic"

    def __init__(self, name: str, sdk: anthropic.AsyncAnthropic) -> None:
        self.name = name
        self.sdk = sdk

    @property
    def qualified(self) -> str:
        return f"anthropic:{self.name}"

    def body(self, request: ModelRequest) -> dict[str, Any]:
        system, messages = to_wire(request)
        body: dict[str, Any] = {
            "model": self.name,
            "max_tokens": request.max_tokens,
            "messages": messages,
        }
        if system:
            body["system"] = system
        if request.stop:
            body["stop_sequences"] = list(request.stop)
        tools = [
            {"name": t.name, "description": t.description, "input_schema": t.parameters}
            for t in request.tools
        ]
        if request.output_schema is not None:
            tools.append(
                {
                    "name": RESPOND,
                    "description": "Give the final answer in the required shape.",
                    "input_schema": request.output_schema,
                }
            )
            body["tool_choice"] = {"type": "tool", "name": RESPOND}
        if tools:
            body["tools"] = tools
        return body

    async def request(
        self,
        request: ModelRequest,
        *,
        timeout: float,  # noqa: ASYNC109 - enforced by the SDK's HTTP client
        on_text: TextSink | None = None,
    ) -> ModelResponse:
        body = self.body(request)
        structured = request.output_schema is not None
        with sdk_errors(anthropic, self.qualified, timeout):
            if on_text is None:
                message = await self.sdk.messages.create(**body, timeout=timeout)
                return self._response(message, structured)
            return await self._stream(body, timeout, on_text, structured)

    def _response(self, message: Any, structured: bool) -> ModelResponse:
        if not hasattr(message, "content"):
            raise ModelUnavailable(
                f"{self.qualified} sent a reply without content", model=self.qualified
            )
        text: list[str] = []
        calls: list[ToolCall] = []
        for block in message.content:
            if block.type == "text":
                text.append(block.text)
            elif block.type == "tool_use":
                calls.append(ToolCall(id=block.id, name=block.name, arguments=dict(block.input)))
        return self._finish(
            "".join(text),
            calls,
            usage_of(message.usage),
            message.stop_reason,
            message.model,
            structured,
        )

    def _finish(
        self,
        text: str,
        calls: list[ToolCall],
        usage: Usage,
        stop_reason: str | None,
        model: str | None,
        structured: bool,
    ) -> ModelResponse:
        if structured:
            answer = next((c for c in calls if c.name == RESPOND), None)
            if answer is not None:
                text = json.dumps(answer.arguments)
                calls = [c for c in calls if c.name != RESPOND]
        return ModelResponse(
            text=text,
            tool_calls=tuple(calls),
            usage=usage,
            finish_reason=stop_reason,
            provider_model=model,
        )

    async def _stream(
        self,
        body: dict[str, Any],
        timeout: float,  # noqa: ASYNC109
        on_text: TextSink,
        structured: bool,
    ) -> ModelResponse:
        stream = await self.sdk.messages.create(**body, stream=True, timeout=timeout)
        text: list[str] = []
        blocks: dict[int, dict[str, Any]] = {}
        start_usage: Any = None
        output_tokens: int | None = None
        stop_reason: str | None = None
        model: str | None = None
        async with stream:
            async for event in stream:
                if event.type == "message_start":
                    start_usage = event.message.usage
                    model = event.message.model
                elif event.type == "content_block_start":
                    block = event.content_block
                    if block.type == "tool_use":
                        blocks[event.index] = {"id": block.id, "name": block.name, "json": ""}
                elif event.type == "content_block_delta":
                    delta = event.delta
                    if delta.type == "text_delta":
                        text.append(delta.text)
                        on_text(delta.text)
                    elif delta.type == "input_json_delta" and event.index in blocks:
                        blocks[event.index]["json"] += delta.partial_json
                        if structured:
                            on_text(delta.partial_json)
                elif event.type == "message_delta":
                    stop_reason = event.delta.stop_reason or stop_reason
                    output_tokens = event.usage.output_tokens
        if start_usage is None or stop_reason is None:
            raise ModelUnavailable(
                f"{self.qualified} ended its stream before the message was complete",
                model=self.qualified,
            )
        calls = [
            ToolCall(id=b["id"], name=b["name"], arguments=json.loads(b["json"] or "{}"))
            for _, b in sorted(blocks.items())
        ]
        return self._finish(
            "".join(text),
            calls,
            usage_of(start_usage, output_tokens),
            stop_reason,
            model,
            structured,
        )
