"""A deterministic model driven by a function or a queue of replies: for tests and demos.

    model = ScriptedModel(["first reply", ModelUnavailable("down"), "third reply"])
    model = ScriptedModel(lambda request: f"echo: {request.messages[-1].content}")

Each reply is a `ModelResponse`, a string (usage is counted as one token per word), or an
exception to raise. It streams a string word by word to `on_text`.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from batonflow.llm.messages import ModelRequest, ModelResponse, Usage
from batonflow.llm.model import TextSink

Reply = ModelResponse | str | BaseException


def _words(text: str) -> list[str]:
    parts = text.split(" ")
    return [part + " " for part in parts[:-1]] + [parts[-1]]


def _tokens(request: ModelRequest) -> int:
    return sum(len(str(getattr(m, "content", "")).split()) for m in request.messages)


class ScriptedModel:
    def __init__(
        self,
        replies: Iterable[Reply] | Callable[[ModelRequest], Reply],
        *,
        name: str = "scripted",
        provider: str = "scripted",
        delay: float = 0.0,
    ) -> None:
        self.provider = provider
        self.name = name
        self.delay = delay
        self.requests: list[ModelRequest] = []
        self._fn: Callable[[ModelRequest], Reply] | None = None
        self._queue: deque[Reply] = deque()
        if callable(replies):
            self._fn = replies
        else:
            self._queue.extend(replies)

    def _next(self, request: ModelRequest) -> Reply:
        if self._fn is not None:
            return self._fn(request)
        if not self._queue:
            raise AssertionError(f"{self.provider}:{self.name} has no scripted reply left")
        return self._queue.popleft()

    async def request(
        self,
        request: ModelRequest,
        *,
        timeout: float,  # noqa: ASYNC109 - the gateway enforces it
        on_text: TextSink | None = None,
    ) -> ModelResponse:
        self.requests.append(request)
        if self.delay:
            await asyncio.sleep(self.delay)
        reply: Any = self._next(request)
        if isinstance(reply, BaseException):
            raise reply
        if isinstance(reply, str):
            reply = ModelResponse(
                text=reply,
                usage=Usage(input_tokens=_tokens(request), output_tokens=len(reply.split())),
                finish_reason="stop",
                provider_model=self.name,
            )
        if on_text is not None and reply.text:
            for word in _words(reply.text):
                on_text(word)
        return reply  # type: ignore[no-any-return]
