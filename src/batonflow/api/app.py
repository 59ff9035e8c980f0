"""The HTTP API: `create_app(settings)` builds it; `batonflow serve` runs it under Uvicorn.

The lifespan builds what requests share (`ApiState`): the platform, the rate limiter and, as
`BATONFLOW_EXECUTOR` says, an in-process executor and scheduler loop (`inprocess`), none
(`none`: `batonflow worker` does the work) or the broker announcements (`celery`). Each enabled
app's `lifespan` runs beside the API. Middleware, outermost first: request telemetry, the body
size limit (413 before a large body is read), the JSON guard, then the routers.

`SecurityHeaders` puts security headers on every answer: the dashboard is a bundle of this
server's own files, so its policy allows only them (and `data:` images), with no plugins,
framing or `<base>` rewrites; API answers (tokens among them) are `no-store` unless a route set
its own caching (the event streams).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from importlib.metadata import version
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from batonflow.api import errors as api_errors
from batonflow.api.deps import ApiState
from batonflow.api.json_guard import JsonGuard, SafeJSONResponse
from batonflow.api.telemetry import RequestTelemetry
from batonflow.api.web import docs_router, mount_dashboard
from batonflow.apps import workflows as app_workflows
from batonflow.apps.app import Apps, load_apps
from batonflow.auth.ratelimit import RateLimiter
from batonflow.errors import ConfigError, PayloadTooLarge
from batonflow.platform import open_platform
from batonflow.settings import DEV_SECRET, Settings
from batonflow.telemetry.process import Telemetry, build_telemetry

API = "/api/v1"
ERRORS_BY_STATUS = {
    401: "no valid credentials (unauthenticated)",
    403: "the caller lacks the scope (forbidden)",
    404: "no such object in the caller's tenant (not_found)",
    409: "the object's state does not allow this (conflict)",
    413: "the request body is over the size limit (payload_too_large)",
    422: "the request or its content is invalid (request_invalid, input_invalid, spec_invalid)",
    429: "rate limited or over a tenant quota; see Retry-After (rate_limited, quota_exceeded)",
}

POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
ALWAYS = {
    "Content-Security-Policy": POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}
ALWAYS_RAW = tuple((name.lower().encode(), value.encode()) for name, value in ALWAYS.items())
API_RAW = (*ALWAYS_RAW, (b"cache-control", b"no-store"))


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        api = str(scope["path"]).startswith("/api/")

        async def headed(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                # Each header the answer does not set itself, as MutableHeaders.setdefault would
                # add it, in one pass over the raw list.
                headers = message["headers"] = list(message.get("headers", ()))
                present = {name for name, _ in headers}
                headers += [
                    pair for pair in (API_RAW if api else ALWAYS_RAW) if pair[0] not in present
                ]
            await send(message)

        await self.app(scope, receive, headed)


def check_secret(settings: Settings) -> None:
    """Refuse to serve with the built-in secret outside development mode."""
    secret = settings.secret_key.get_secret_value()
    if secret == DEV_SECRET.get_secret_value() and not settings.dev:
        raise ConfigError(
            "BATONFLOW_SECRET_KEY is the built-in development secret; set it to a long random "
            "value (for example `python -c 'import secrets; print(secrets.token_urlsafe(48))'`) "
            "or run in development mode with BATONFLOW_DEV=true"
        )
    if len(secret) < 32:
        raise ConfigError("BATONFLOW_SECRET_KEY must be at least 32 characters long")


class BodyLimit:
    """Answer 413 for a body over `limit` bytes, by its Content-Length or as it streams in."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        framed = False  # whether the request says it has a body (HTTP/1.1 framing)
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                framed = True
                if value.isdigit() and int(value) > self.limit:
                    too_large = PayloadTooLarge(f"the request body is over {self.limit} bytes")
                    await api_errors.error_response(too_large)(scope, receive, send)
                    return
            elif name == b"transfer-encoding":
                framed = True
        if not framed and scope.get("http_version") in ("1.0", "1.1"):
            # HTTP/1 requests without either header have no body (most reads): nothing to count.
            # (HTTP/2 may stream a body without them.)
            await self.app(scope, receive, send)
            return
        too_large = PayloadTooLarge(f"the request body is over {self.limit} bytes")
        seen = 0
        started = False
        answered = False

        async def counted() -> MutableMapping[str, Any]:
            # Over the limit, answer 413 here and tell the app the client left: an exception
            # raised from `receive` would reach the body parser, which answers 400 for it.
            nonlocal seen, answered
            if answered:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    if started:
                        raise too_large
                    answered = True
                    await api_errors.error_response(too_large)(scope, receive, send)
                    return {"type": "http.disconnect"}
            return message

        async def watched(message: MutableMapping[str, Any]) -> None:
            nonlocal started
            if answered:
                return  # whatever the app makes of the disconnect: the client has its 413
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except PayloadTooLarge:
            if not started:
                await api_errors.error_response(too_large)(scope, receive, send)


def _document(router: APIRouter) -> None:
    """Write each route's scope and error answers into its OpenAPI entry. Runs on the router
    before it is included (an app's `routes` holds included routers, not their routes) and may
    run again for the next app: it changes nothing the second time."""
    responses: dict[int | str, dict[str, Any]] = {
        status: {"model": api_errors.ErrorEnvelope, "description": text}
        for status, text in ERRORS_BY_STATUS.items()
    }
    for route in router.routes:
        if not isinstance(route, APIRoute):
            continue
        scope = None
        stack = list(route.dependant.dependencies)
        while stack:
            dependency = stack.pop()
            scope = scope or getattr(dependency.call, "batonflow_scope", None)
            stack.extend(dependency.dependencies)
        methods = route.methods or set()
        wanted = {422, 429}
        if methods & {"POST", "PUT", "PATCH"}:
            wanted |= {413}
        if methods & {"POST", "PUT", "PATCH", "DELETE"}:
            wanted |= {409}  # a state that forbids the change, or a lost unique race
        if scope is not None:
            wanted |= {401, 403, 404}
            route.openapi_extra = {**(route.openapi_extra or {}), "x-scope": scope}
            note = f"Needs the scope `{scope}`."
            if note not in route.description:
                route.description = f"{route.description}\n\n{note}".strip()
        for status in sorted(wanted):
            route.responses.setdefault(status, responses[status])


def create_app(
    settings: Settings,
    *,
    executor: bool | None = None,
    on_ready: Callable[[ApiState], Awaitable[None]] | None = None,
    telemetry: Telemetry | None = None,
    apps: Apps | None = None,
) -> FastAPI:
    """The API for `settings`. `executor` overrides `BATONFLOW_EXECUTOR` (inprocess or none);
    `on_ready` runs once the state is built (the demo seeds its tenant there); `telemetry` is
    built from the settings unless given (tests give one with an in-memory span exporter);
    `apps` are the enabled apps, by default those `BATONFLOW_APPS` names."""
    check_secret(settings)
    enabled = load_apps(settings.apps) if apps is None else apps
    if settings.executor not in ("inprocess", "none", "celery"):
        raise ConfigError("BATONFLOW_EXECUTOR must be 'inprocess', 'none' or 'celery'")
    run_executor = settings.executor == "inprocess" if executor is None else executor
    owned = telemetry is None
    observed = telemetry if telemetry is not None else build_telemetry(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        limiter = RateLimiter(settings)
        stop = asyncio.Event()
        serving: asyncio.Task[None] | None = None
        firing: asyncio.Task[None] | None = None
        try:
            async with open_platform(
                settings, telemetry=observed, watch=True, limiter=limiter, apps=enabled
            ) as platform:
                state = ApiState(platform=platform, limiter=limiter)
                await state.transact(
                    lambda conn: app_workflows.install_everywhere(
                        conn, enabled, platform.registry, state.now()
                    )
                )
                if run_executor:
                    state.executor = platform.executor()
                    serving = asyncio.create_task(
                        state.executor.serve(stop), name="batonflow-serve"
                    )
                    if settings.scheduler:
                        firing = asyncio.create_task(
                            platform.scheduler().serve(stop), name="batonflow-scheduler"
                        )
                try:
                    app.state.batonflow = state
                    async with contextlib.AsyncExitStack() as beside:
                        if settings.executor == "celery" and executor is None:
                            from batonflow.cluster.announce import announcing

                            await beside.enter_async_context(announcing(platform))
                        for each in enabled:
                            if each.lifespan is not None:
                                await beside.enter_async_context(each.lifespan(state))
                        if on_ready is not None:
                            await on_ready(state)
                        yield
                finally:
                    stop.set()
                    for task in (serving, firing):
                        if task is not None:
                            with contextlib.suppress(asyncio.CancelledError):
                                await task
        finally:
            await limiter.close()
            if owned:
                observed.close()

    app = FastAPI(
        title="Batonflow API",
        version=version("batonflow"),
        description=(
            "Durable multi-agent workflows. Authenticate with `Authorization: Bearer <token>` "
            "(an access token from `/api/v1/auth/login`, or an API key). Errors always come as "
            "`{error: {code, message, details}}`; each code is described in docs/errors.md."
        ),
        lifespan=lifespan,
        default_response_class=SafeJSONResponse,
        openapi_url="/openapi.json",
        docs_url=None,  # served from this server's files: api/web.py
        redoc_url=None,
    )
    api_errors.install(app)
    for router in _routers():
        _document(router)
        app.include_router(router)
    for enabled_app in enabled:
        if enabled_app.router is not None:
            router = enabled_app.router()
            _document(router)
            app.include_router(router, prefix=f"{API}/{enabled_app.name}")
    app.include_router(docs_router)
    app.add_middleware(JsonGuard)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    origins = [origin.strip() for origin in settings.cors_origins.split(",") if origin.strip()]
    if origins:  # off by default: the dashboard is served from this origin
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Last-Event-ID", "X-Request-ID"],
            max_age=600,
        )
    app.add_middleware(SecurityHeaders)
    app.add_middleware(RequestTelemetry, telemetry=observed)
    app.state.telemetry = observed
    mount_dashboard(app)
    return app


def _routers() -> list[APIRouter]:
    from batonflow.api.routes import ROUTERS

    return list(ROUTERS)
