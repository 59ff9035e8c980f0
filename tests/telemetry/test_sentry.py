"""Sentry: off without a DSN; with one, an unexpected exception in a request reaches a local
ingest server (a real HTTP server standing in for Sentry) tagged with the request's context
and with its secrets removed."""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from dirty_equals import IsStr
from fastapi import FastAPI
from pydantic import SecretStr

from batonflow.settings import Settings
from batonflow.telemetry.process import init_sentry
from tests.api.conftest import client_for
from tests.telemetry.conftest import Capture

SECRET = "sk-provider-key-0123456789"


class Ingest(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.envelopes: list[tuple[str, list[Any]]] = []

    @property
    def dsn(self) -> str:
        return f"http://publickey@127.0.0.1:{self.server_address[1]}/42"

    def events(self) -> list[dict[str, Any]]:
        return [item for _, items in self.envelopes for item in items if "exception" in item]


class _Handler(BaseHTTPRequestHandler):
    server: Ingest

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        items = []
        for line in body.splitlines()[1:]:
            try:
                items.append(json.loads(line))
            except ValueError:
                continue
        self.server.envelopes.append((self.path, items))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def ingest() -> Iterator[Ingest]:
    server = Ingest()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_without_a_dsn_nothing_starts() -> None:
    assert init_sentry(Settings()) is None


async def test_an_unexpected_exception_reaches_sentry_tagged_and_redacted(
    app: FastAPI, ingest: Ingest, capture: Capture
) -> None:
    settings: Settings = app.state.batonflow.settings.model_copy(
        update={"sentry_dsn": SecretStr(ingest.dsn), "openai_api_key": SecretStr(SECRET)}
    )
    capture(settings)

    async def broken() -> None:
        raise RuntimeError(f"the provider refused key {SECRET}")

    app.router.add_api_route("/broken", broken)
    handle = init_sentry(settings)
    try:
        async with client_for(app) as client:
            response: httpx.Response = await client.get(
                "/broken", headers={"X-Request-ID": "sentry-1"}
            )
        handle.flush()
    finally:
        handle.close()
    assert response.status_code == 500
    assert [path for path, _ in ingest.envelopes] == ["/api/42/envelope/"]
    [event] = ingest.events()
    assert event["exception"]["values"][-1] | {"stacktrace": None, "mechanism": None} == {
        "type": "RuntimeError",
        "value": "the provider refused key [redacted]",
        "module": None,
        "stacktrace": None,
        "mechanism": None,
    }
    assert event["logentry"] == {"message": "request.failed", "params": []}
    assert event["tags"] == {
        "service": "batonflow",
        "request_id": "sentry-1",
    }
    assert event["level"] == "error"
    assert event["release"] == IsStr(regex=r"batonflow@.+")
    assert SECRET not in json.dumps(ingest.envelopes)
