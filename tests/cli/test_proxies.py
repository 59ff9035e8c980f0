"""`X-Forwarded-For` names the client only when it comes from a configured proxy."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import uvicorn
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.types import Receive, Scope, Send

from batonflow.cli.serve import server_config
from batonflow.settings import Settings


async def echo(scope: Scope, receive: Receive, send: Send) -> None:
    """Answers with the client address the server believes."""
    client = Request(scope, receive).client
    await PlainTextResponse(client.host if client else "")(scope, receive, send)


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = server_config(settings.model_copy(update={"port": port}), echo)
    config.lifespan = "off"
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def test_the_header_is_ignored_unless_the_proxy_is_trusted() -> None:
    forged = {"X-Forwarded-For": "203.0.113.9"}
    async with serving(Settings()) as url, httpx.AsyncClient() as client:
        assert (await client.get(url, headers=forged)).text == "127.0.0.1"
    trusted = Settings(trusted_proxies="127.0.0.1")
    async with serving(trusted) as url, httpx.AsyncClient() as client:
        assert (await client.get(url, headers=forged)).text == "203.0.113.9"
