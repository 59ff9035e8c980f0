"""What the API reports about each request: its id, its log line, its metrics and its span.

`RequestTelemetry` is the outermost middleware: it takes a safe `X-Request-ID` or makes one and
returns it on every response; when the request is done it logs one `request` line, counts it
under the route template (never the path) and ends its span, a child of the caller's
`traceparent`. An unexpected exception is logged with its traceback and answered with a 500.
"""

from __future__ import annotations

import time
from collections.abc import MutableMapping
from typing import Any

import structlog
from opentelemetry import context as otel_context
from opentelemetry.trace import SpanKind, Status, StatusCode, set_span_in_context
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from batonflow.api.errors import envelope
from batonflow.ids import new_id
from batonflow.telemetry import logs, traces
from batonflow.telemetry.process import Telemetry

log = logs.get_logger("batonflow.api")
REQUEST_ID_HEADER = b"x-request-id"
UNMATCHED = "<unmatched>"
QUIET = ("/health/", "/metrics")  # probes and scrapes log at DEBUG


def route_of(scope: Scope) -> str:
    """The route template the router matched, bounded for labels."""
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return str(template) if template else UNMATCHED


class RequestTelemetry:
    def __init__(self, app: ASGIApp, telemetry: Telemetry) -> None:
        self.app = app
        self.telemetry = telemetry

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", ()))
        incoming = headers.get(REQUEST_ID_HEADER)
        request_id = logs.request_id(
            incoming.decode("latin-1") if incoming is not None else None, new_id
        )
        outer = structlog.contextvars.get_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        method: str = scope["method"]
        status = 500
        started = False
        begun = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", ()),
                    (REQUEST_ID_HEADER, request_id.encode()),
                ]
            await send(message)

        traceparent = headers.get(b"traceparent")
        parent = traces.parent(
            {"traceparent": traceparent.decode("latin-1")} if traceparent else {}
        )
        span = self.telemetry.tracer.start_span(method, context=parent, kind=SpanKind.SERVER)
        token = otel_context.attach(set_span_in_context(span))
        failure: Status | None = None
        try:
            try:
                await self.app(scope, receive, send_with_id)
            except Exception as exc:
                log.exception("request.failed", method=method, path=scope["path"])
                failure = Status(StatusCode.ERROR, type(exc).__name__)
                if started:
                    raise
                await self._internal_error(scope, receive, send_with_id, request_id)
            route = route_of(scope)
            elapsed = time.perf_counter() - begun
            self._count(method, route, status, elapsed)
            line = log.debug if scope["path"].startswith(QUIET) else log.info
            line(
                "request",
                method=method,
                path=scope["path"],
                route=route,
                status=status,
                duration_ms=round(elapsed * 1000, 3),
            )
        finally:
            otel_context.detach(token)
            if span.is_recording():
                route = route_of(scope)
                span.update_name(f"{method} {route}")
                span.set_attributes(
                    {
                        "http.request.method": method,
                        "http.route": route,
                        "url.path": scope["path"],
                        "http.response.status_code": status,
                        "batonflow.request_id": request_id,
                        **_who(),
                    }
                )
                if failure is None and status >= 500:
                    failure = Status(StatusCode.ERROR)
                if failure is not None:
                    span.set_status(failure)
            span.end()
            structlog.contextvars.clear_contextvars()
            structlog.contextvars.bind_contextvars(**outer)

    def _count(self, method: str, route: str, status: int, elapsed: float) -> None:
        metrics = self.telemetry.metrics
        code = str(status)
        metrics.http_requests.labels(method, route, code).inc()
        metrics.http_duration.labels(method, route, code).observe(elapsed)

    @staticmethod
    async def _internal_error(scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
        body = envelope(
            "internal_error",
            f"the server failed to answer; quote request id {request_id} to its operator",
            {"request_id": request_id},
        )
        await JSONResponse(body, status_code=500)(scope, receive, send)


def _who() -> dict[str, Any]:
    bound: MutableMapping[str, Any] = structlog.contextvars.get_contextvars()
    return {
        f"batonflow.{key}": bound[key]
        for key in ("tenant_id", "user_id", "api_key_id")
        if bound.get(key) is not None
    }
