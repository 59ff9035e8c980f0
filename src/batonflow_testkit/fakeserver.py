"""A real HTTP server on loopback that speaks the OpenAI and Anthropic wire formats, OpenAI's
`/embeddings` and the common `/rerank` (Cohere, Jina): for tests, benchmarks and trying the
providers' adapters with no network and no keys.

    async with FakeProvider() as server:                 # http://127.0.0.1:<port>
        server.script(Fail(429, retry_after=0.1), Reply("hello"))
        ... openai base_url = server.openai_url; anthropic base_url = server.url

Requests take the next scripted behaviour; when the script is empty, what `respond(path, body)`
gives (a function of the request, when set), else `default`:
`Reply` (text and usage, optionally after a delay), `Fail` (a status, with `Retry-After`),
`Hang` (answer nothing for a while) and `Malformed` (a body that is not JSON). Streaming
requests get server-sent events in each provider's format. Every request is kept in `requests`.

A `Reply` to `POST .../embeddings` is an embeddings list: each input's words hashed into
`embedding_dimensions` (or the request's `dimensions`) buckets, so texts that share words are
near, with `usage.prompt_tokens` the inputs' word count. A `Reply` to `POST .../rerank` scores
each document by the share of the query's words it holds (`results` best first, `top_n` of
them).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from batonflow_testkit.fakeretrieval import embeddings_answer, rerank_answer


@dataclass(frozen=True)
class Reply:
    text: str = "ok"
    input_tokens: int = 10  # every prompt token, cached ones included
    output_tokens: int = 5  # every generated token, reasoning included
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    delay: float = 0.0


@dataclass(frozen=True)
class Fail:
    status: int
    retry_after: float | None = None
    message: str = "scripted failure"


@dataclass(frozen=True)
class Hang:
    seconds: float = 30.0


@dataclass(frozen=True)
class Malformed:
    body: bytes = b"{this is not json"


Behaviour = Reply | Fail | Hang | Malformed


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class FakeProvider:
    host: str = "127.0.0.1"
    port: int = 0
    default: Behaviour = field(default_factory=Reply)
    respond: Callable[[str, dict[str, Any]], Behaviour] | None = None
    requests: list[Seen] = field(default_factory=list)
    embedding_dimensions: int = 64
    _script: deque[Behaviour] = field(default_factory=deque)
    _server: asyncio.Server | None = None
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def openai_url(self) -> str:
        return f"{self.url}/v1"

    def script(self, *behaviours: Behaviour) -> None:
        self._script.extend(behaviours)

    async def __aenter__(self) -> FakeProvider:
        self._server = await asyncio.start_server(self._serve, self.host, self.port, backlog=1024)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 1)

    # -- HTTP ----------------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                request_line = await reader.readline()
                if not request_line:
                    return
                _method, path, _ = request_line.decode("latin-1").split(" ", 2)
                headers: dict[str, str] = {}
                while True:
                    line = await reader.readline()
                    if line in (b"\r\n", b"\n", b""):
                        break
                    name, _, value = line.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                raw = await reader.readexactly(int(headers.get("content-length", "0")))
                body = json.loads(raw) if raw else {}
                self.requests.append(Seen(path, headers, body))
                keep = await self._answer(path, body, writer)
                if not keep:
                    return
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            return
        finally:
            self._writers.discard(writer)
            with contextlib.suppress(Exception):
                writer.close()

    async def _answer(self, path: str, body: dict[str, Any], writer: asyncio.StreamWriter) -> bool:
        if self._script:
            behaviour = self._script.popleft()
        elif self.respond is not None:
            behaviour = self.respond(path, body)
        else:
            behaviour = self.default
        if isinstance(behaviour, Hang):
            await asyncio.sleep(behaviour.seconds)
            return False
        if isinstance(behaviour, Fail):
            extra = {}
            if behaviour.retry_after is not None:
                extra["retry-after"] = f"{behaviour.retry_after:g}"
            error: dict[str, Any] = {"error": {"type": "scripted", "message": behaviour.message}}
            if path.endswith("/messages"):
                error = {
                    "type": "error",
                    "error": {"type": "scripted", "message": behaviour.message},
                }
            self._send(writer, behaviour.status, json.dumps(error).encode(), extra)
            await writer.drain()
            return True
        if isinstance(behaviour, Malformed):
            self._send(writer, 200, behaviour.body)
            await writer.drain()
            return True
        if behaviour.delay:
            await asyncio.sleep(behaviour.delay)
        if path.endswith("/embeddings"):
            answer = embeddings_answer(body, self.embedding_dimensions)
            self._send(writer, 200, json.dumps(answer).encode())
            await writer.drain()
            return True
        if path.endswith("/rerank"):
            self._send(writer, 200, json.dumps(rerank_answer(body)).encode())
            await writer.drain()
            return True
        anthropic = path.endswith("/messages")
        if body.get("stream"):
            events = (
                _anthropic_events(body, behaviour) if anthropic else _openai_events(body, behaviour)
            )
            head = (
                "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                "cache-control: no-cache\r\nconnection: close\r\n\r\n"
            )
            writer.write(head.encode())
            for chunk in events:
                writer.write(chunk.encode())
                await writer.drain()
            return False
        payload = (
            _anthropic_message(body, behaviour)
            if anthropic
            else _openai_completion(body, behaviour)
        )
        self._send(writer, 200, json.dumps(payload).encode())
        await writer.drain()
        return True

    @staticmethod
    def _send(
        writer: asyncio.StreamWriter,
        status: int,
        body: bytes,
        headers: dict[str, str] | None = None,
    ) -> None:
        lines = [
            f"HTTP/1.1 {status} {'OK' if status == 200 else 'Error'}",
            "content-type: application/json",
            f"content-length: {len(body)}",
            *(f"{k}: {v}" for k, v in (headers or {}).items()),
        ]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)


# -- OpenAI ------------------------------------------------------------------------------------


def _openai_usage(r: Reply) -> dict[str, Any]:
    return {
        "prompt_tokens": r.input_tokens,
        "completion_tokens": r.output_tokens,
        "total_tokens": r.input_tokens + r.output_tokens,
        "prompt_tokens_details": {"cached_tokens": r.cached_input_tokens},
        "completion_tokens_details": {"reasoning_tokens": r.reasoning_tokens},
    }


def _openai_completion(body: dict[str, Any], r: Reply) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 0,
        "model": body.get("model", "fake"),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": r.text},
                "finish_reason": "stop",
            }
        ],
        "usage": _openai_usage(r),
    }


def _openai_events(body: dict[str, Any], r: Reply) -> list[str]:
    base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0}
    base["model"] = body.get("model", "fake")
    chunks = [
        {**base, "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
        for piece in _pieces(r.text)
    ]
    chunks.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    chunks.append({**base, "choices": [], "usage": _openai_usage(r)})
    return [f"data: {json.dumps(c)}\n\n" for c in chunks] + ["data: [DONE]\n\n"]


# -- Anthropic ---------------------------------------------------------------------------------


def _anthropic_usage(r: Reply) -> dict[str, Any]:
    return {
        "input_tokens": r.input_tokens - r.cached_input_tokens - r.cache_write_tokens,
        "output_tokens": r.output_tokens,
        "cache_read_input_tokens": r.cached_input_tokens,
        "cache_creation_input_tokens": r.cache_write_tokens,
    }


def _forced_tool(body: dict[str, Any]) -> str | None:
    choice = body.get("tool_choice") or {}
    return choice.get("name") if choice.get("type") == "tool" else None


def _anthropic_message(body: dict[str, Any], r: Reply) -> dict[str, Any]:
    tool = _forced_tool(body)
    content: list[dict[str, Any]]
    if tool:
        content = [
            {"type": "tool_use", "id": "toolu_fake", "name": tool, "input": json.loads(r.text)}
        ]
    else:
        content = [{"type": "text", "text": r.text}]
    return {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": body.get("model", "fake"),
        "content": content,
        "stop_reason": "tool_use" if tool else "end_turn",
        "stop_sequence": None,
        "usage": _anthropic_usage(r),
    }


def _anthropic_events(body: dict[str, Any], r: Reply) -> list[str]:
    usage = _anthropic_usage(r)
    tool = _forced_tool(body)
    start = {
        "type": "message_start",
        "message": {
            "id": "msg_fake",
            "type": "message",
            "role": "assistant",
            "model": body.get("model", "fake"),
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {**usage, "output_tokens": 1},
        },
    }
    events: list[tuple[str, dict[str, Any]]] = [("message_start", start)]
    if tool:
        block = {"type": "tool_use", "id": "toolu_fake", "name": tool, "input": {}}
        deltas = [{"type": "input_json_delta", "partial_json": p} for p in _pieces(r.text)]
    else:
        block = {"type": "text", "text": ""}
        deltas = [{"type": "text_delta", "text": p} for p in _pieces(r.text)]
    events.append(
        ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": block})
    )
    events += [
        ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": d})
        for d in deltas
    ]
    events.append(("content_block_stop", {"type": "content_block_stop", "index": 0}))
    events.append(
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "tool_use" if tool else "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": r.output_tokens},
            },
        )
    )
    events.append(("message_stop", {"type": "message_stop"}))
    return [f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events]


def _pieces(text: str, size: int = 4) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


async def _serve_forever(port: int, delay: float) -> None:
    async with FakeProvider(port=port, default=Reply(delay=delay)) as server:
        print(server.url, flush=True)
        await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> None:
    """`python -m batonflow_testkit.fakeserver [--port N] [--delay S]`: serve until interrupted,
    answering every request with a short reply after `delay` seconds; prints its URL first."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--delay", type=float, default=0.0)
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve_forever(args.port, args.delay))


if __name__ == "__main__":
    main()
