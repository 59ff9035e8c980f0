"""JSON at the API's edge: what comes in is refused unless every part of it can be stored and
sent back; what goes out never fails on what is already stored.

`JsonGuard` answers 422 `request_invalid` for a JSON body that is not UTF-8 JSON, holds a lone
surrogate (no encoding can store or send it) or nests deeper than `MAX_DEPTH`; `scrub` makes
lone surrogates stored before the guard existed U+FFFD on the way out. `Body` renders the hot
read endpoints' plain values with orjson, in the JSON their response models would write (tests
compare the two): building and serializing 50 models cost more CPU than the query.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from decimal import Decimal
from typing import Any

import orjson
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from batonflow.api.errors import envelope

MAX_DEPTH = 64


def depth_over(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether `value` nests lists and objects more than `limit` deep."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def problem(body: bytes) -> str | None:
    """What is wrong with a JSON request body, or None."""
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        if "surrogate" in str(exc):
            return (
                "the body has a string with a lone surrogate (such as \\ud800), which is not "
                "text; send UTF-8 text"
            )
        if "depth" in str(exc):
            return f"the body nests lists and objects more than {MAX_DEPTH} deep"
        return None  # not JSON at all: the route's own parser says where
    if depth_over(value):
        return f"the body nests lists and objects more than {MAX_DEPTH} deep"
    return None


def scrub(value: Any) -> Any:
    """`value` with every lone surrogate in its strings (and keys) made U+FFFD."""
    if isinstance(value, str):
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(value, dict):
        return {scrub(key): scrub(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(item) for item in value]
    return value


class SafeJSONResponse(JSONResponse):
    """The API's default response: as Starlette's, with lone surrogates scrubbed when the
    content has any."""

    def render(self, content: Any) -> bytes:
        try:
            return super().render(content)
        except UnicodeEncodeError:
            return super().render(scrub(content))


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)  # as pydantic writes a Decimal in JSON
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


class Body(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        try:
            return orjson.dumps(content, default=_default, option=orjson.OPT_UTC_Z)
        except orjson.JSONEncodeError:  # a lone surrogate stored before the edge refused them
            return orjson.dumps(scrub(content), default=_default, option=orjson.OPT_UTC_Z)


class JsonGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        content_type = next((v for k, v in scope["headers"] if k == b"content-type"), b"")
        if not content_type.split(b";")[0].strip().endswith(b"json"):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([message]), send)
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        wrong = problem(body) if body else None
        if wrong is not None:
            refusal = JSONResponse(envelope("request_invalid", wrong), status_code=422)
            await refusal(scope, receive, send)
            return
        await self.app(scope, _replay([{"type": "http.request", "body": body}], receive), send)


def _replay(messages: list[MutableMapping[str, Any]], then: Receive | None = None) -> Receive:
    async def receive() -> Message:
        if messages:
            return messages.pop(0)
        if then is None:
            return {"type": "http.disconnect"}
        return await then()

    return receive
