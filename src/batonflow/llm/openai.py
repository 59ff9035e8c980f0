"""The OpenAI adapter: the official SDK, also for any OpenAI-compatible server via `base_url`.
Structured output is a `json_schema` `response_format`. The body is built in the wire format
here and sent with the SDK client's `post`, which skips re-walking the typed parameters: that
walk was the largest cost of a call under load. The SDK's own retries are off.
"""

from __future__ import annotations

import json
from typing import Any

import openai
from httpx_aiohttp import AiohttpTransport
from openai._constants import DEFAULT_CONNECTION_LIMITS
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from batonflow.errors import ModelUnavailable
from batonflow.llm.messages import (
    Message,
    ModelRequest,
    ModelResponse,
    SystemMessage,
    ToolCall,
    ToolMessage,
    Usage,
    UserMessage,
)
from batonflow.llm.model import TextSink, sdk_errors
from batonflow.net.outbound import OutboundPolicy, provider_transport

OPENAI_URL = "https://api.openai.com/v1"


def client(
    api_key: str | None, base_url: str | None, policy: OutboundPolicy | None = None
) -> openai.AsyncOpenAI:
    """The SDK client, sending through aiohttp: under a burst of concurrent calls httpx's own
    connection pool spends several times more CPU per request (measured by bench/gateway.py).
    Its transport is the outbound guard's (`net/outbound.py`): the configured base URL is
    trusted, a redirect to any other host is refused, answers are capped."""
    inner = AiohttpTransport(limits=DEFAULT_CONNECTION_LIMITS)
    transport = provider_transport(policy or OutboundPolicy(), base_url or OPENAI_URL, inner)
    # OpenAI-compatible local servers accept any key; the SDK insists on one being set.
    return openai.AsyncOpenAI(
        api_key=api_key or "unused",
        base_url=base_url,
        max_retries=0,
        http_client=openai.DefaultAioHttpClient(transport=transport),
    )


def to_wire(message: Message) -> dict[str, Any]:
    if isinstance(message, SystemMessage | UserMessage):
        return {"role": message.role, "content": message.content}
    if isinstance(message, ToolMessage):
        return {"role": "tool", "tool_call_id": message.tool_call_id, "content": message.content}
    wire: dict[str, Any] = {"role": "assistant", "content": message.content or None}
    if message.tool_calls:
        wire["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": json.dumps(call.arguments)},
            }
            for call in message.tool_calls
        ]
    return wire


def usage_of(raw: Any) -> Usage:
    if raw is None:
        return Usage()
    prompt_details = getattr(raw, "prompt_tokens_details", None)
    completion_details = getattr(raw, "completion_tokens_details", None)
    return Usage(
        input_tokens=raw.prompt_tokens or 0,
        output_tokens=raw.completion_tokens or 0,
        cached_input_tokens=getattr(prompt_details, "cached_tokens", None) or 0,
        reasoning_tokens=getattr(completion_details, "reasoning_tokens", None) or 0,
    )


def _arguments(model: str, text: str) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        raise ModelUnavailable(
            f"{model} sent tool-call arguments that are not JSON", model=model
        ) from None
    return value if isinstance(value, dict) else {"value": value}


PATH = "/chat/completions"


class OpenAIModel:
    provider = "openai"

    def __init__(
        self, name: str, sdk: openai.AsyncOpenAI, *, provider: str = "openai", compat: bool = False
    ) -> None:
        self.name = name
        self.provider = provider
        self.sdk = sdk
        self.compat = compat  # an OpenAI-compatible server: plain `max_tokens`

    @property
    def qualified(self) -> str:
        return f"{self.provider}:{self.name}"

    def body(self, request: ModelRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.name,
            "messages": [to_wire(m) for m in request.messages],
        }
        body["max_tokens" if self.compat else "max_completion_tokens"] = request.max_tokens
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.stop:
            body["stop"] = list(request.stop)
        if request.output_schema is not None:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "output", "schema": request.output_schema},
            }
        if request.tools:
            body["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": tool.name,
                        "description": tool.description,
                        "parameters": tool.parameters,
                    },
                }
                for tool in request.tools
            ]
        return body

    async def request(
        self,
        request: ModelRequest,
        *,
        timeout: float,  # noqa: ASYNC109 - enforced by the SDK's HTTP client
        on_text: TextSink | None = None,
    ) -> ModelResponse:
        body = self.body(request)
        with sdk_errors(openai, self.qualified, timeout):
            if on_text is None:
                completion = await self.sdk.post(
                    PATH, cast_to=ChatCompletion, body=body, options={"timeout": timeout}
                )
                return self._response(completion)
            return await self._stream(body, timeout, on_text)

    def _response(self, completion: Any) -> ModelResponse:
        if not isinstance(completion, ChatCompletion) or not completion.choices:
            raise ModelUnavailable(
                f"{self.qualified} sent a reply without choices", model=self.qualified
            )
        choice = completion.choices[0]
        calls = tuple(
            ToolCall(
                id=call.id,
                name=call.function.name,
                arguments=_arguments(self.qualified, call.function.arguments),
            )
            for call in choice.message.tool_calls or ()
            if call.type == "function"
        )
        return ModelResponse(
            text=choice.message.content or "",
            tool_calls=calls,
            usage=usage_of(completion.usage),
            finish_reason=choice.finish_reason,
            provider_model=completion.model,
        )

    async def _stream(
        self,
        body: dict[str, Any],
        timeout: float,  # noqa: ASYNC109 - enforced by the SDK's HTTP client
        on_text: TextSink,
    ) -> ModelResponse:
        stream = await self.sdk.post(
            PATH,
            cast_to=ChatCompletion,
            body={**body, "stream": True, "stream_options": {"include_usage": True}},
            options={"timeout": timeout},
            stream=True,
            stream_cls=openai.AsyncStream[ChatCompletionChunk],
        )
        text: list[str] = []
        calls: dict[int, dict[str, Any]] = {}
        usage = Usage()
        finish: str | None = None
        model: str | None = None
        async with stream:
            async for chunk in stream:
                model = chunk.model or model
                if chunk.usage is not None:
                    usage = usage_of(chunk.usage)
                for choice in chunk.choices:
                    finish = choice.finish_reason or finish
                    delta = choice.delta
                    if delta.content:
                        text.append(delta.content)
                        on_text(delta.content)
                    for part in delta.tool_calls or ():
                        slot = calls.setdefault(part.index, {"id": "", "name": "", "args": ""})
                        if part.id:
                            slot["id"] = part.id
                        if part.function is not None:
                            slot["name"] += part.function.name or ""
                            slot["args"] += part.function.arguments or ""
        if finish is None:
            raise ModelUnavailable(
                f"{self.qualified} ended its stream without finishing the reply",
                model=self.qualified,
            )
        return ModelResponse(
            text="".join(text),
            tool_calls=tuple(
                ToolCall(
                    id=slot["id"],
                    name=slot["name"],
                    arguments=_arguments(self.qualified, slot["args"]),
                )
                for _, slot in sorted(calls.items())
            ),
            usage=usage,
            finish_reason=finish,
            provider_model=model,
        )
