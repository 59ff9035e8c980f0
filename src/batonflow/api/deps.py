"""What endpoints depend on: the application state, the caller, and page limits. `require(scope)`
authenticates the request, checks the scope (also written into the route's OpenAPI entry) and
applies the rate limits.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import structlog
from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncEngine

from batonflow.agents.registry import Registry
from batonflow.apps.app import Apps
from batonflow.auth.scopes import Principal
from batonflow.auth.tokens import authenticate
from batonflow.errors import InvalidInput, PermissionDenied, Unauthenticated
from batonflow.events.bus import EventBus
from batonflow.events.contracts import StoredEvent
from batonflow.events.tails import RunFeeds
from batonflow.llm.gateway import Gateway
from batonflow.settings import Settings
from batonflow.store.db import Conn, Database
from batonflow.telemetry.process import Telemetry
from batonflow.workflows.checkpoint import SpecCache

T = TypeVar("T")

if TYPE_CHECKING:
    from batonflow.auth.ratelimit import RateLimiter
    from batonflow.platform import Platform
    from batonflow.workflows.executor import Executor


@dataclass
class ApiState:
    """Everything the API shares across requests, built once in `create_app`'s lifespan: the
    process's platform (`batonflow.platform`), the rate limiter and the in-process executor."""

    platform: Platform
    limiter: RateLimiter
    executor: Executor | None = None  # the in-process executor (BATONFLOW_EXECUTOR=inprocess)
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    feeds: RunFeeds = field(init=False)

    def __post_init__(self) -> None:
        self.feeds = RunFeeds(self.db, self.bus, poll_seconds=self.settings.poll_seconds)

    @property
    def settings(self) -> Settings:
        return self.platform.settings

    @property
    def engine(self) -> AsyncEngine:
        return self.platform.engine

    @property
    def db(self) -> Database:
        return self.platform.db

    @property
    def writer(self) -> Database:
        """The database thread the in-process executor writes in."""
        return self.platform.writer

    @property
    def apps(self) -> Apps:
        return self.platform.apps

    @property
    def registry(self) -> Registry:
        return self.platform.registry

    @property
    def gateway(self) -> Gateway:
        return self.platform.gateway

    @property
    def bus(self) -> EventBus:
        return self.platform.bus

    @property
    def specs(self) -> SpecCache:
        return self.platform.specs

    @property
    def telemetry(self) -> Telemetry:
        return self.platform.telemetry

    @staticmethod
    def now() -> datetime:
        return datetime.now(UTC)

    async def transact(self, work: Callable[[Conn], Awaitable[T]]) -> T:
        """Run `work` in a write transaction and commit it (the edge owns the transaction). On
        SQLite it runs whole in the database thread the in-process executor's checkpoints use,
        so a burst of writes (runs started) queues with them instead of waiting on SQLite's
        write lock. A unique constraint that loses a race is a `Conflict` (409)."""
        return await self.platform.write(work)

    async def query(self, work: Callable[[Conn], Awaitable[T]]) -> T:
        """Run `work` in a read-only transaction. On SQLite the whole transaction runs in the
        database thread in one hop (each statement through the async driver costs a thread
        hop) and never takes the write lock."""
        return await self.db.read(work)

    def committed(self, events: Iterable[StoredEvent]) -> None:
        """After a commit that moved runs: tell live subscribers and wake the executor."""
        self.platform.committed(events)


async def get_state(request: Request) -> ApiState:
    # async: FastAPI runs a plain `def` dependency in its thread pool, a hop per request.
    state: ApiState = request.app.state.batonflow
    return state


State = Annotated[ApiState, Depends(get_state)]
_bearer = HTTPBearer(auto_error=False, description="An access token or an API key")


Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def _caller(state: ApiState, credentials: HTTPAuthorizationCredentials | None) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated(
            "this endpoint needs 'Authorization: Bearer <access token or API key>'"
        )
    caller = await authenticate(state.db, state.settings, credentials.credentials)
    # The rest of the request logs as this caller (api/telemetry.py restores the context after).
    who = "user_id" if caller.kind == "user" else "api_key_id"
    structlog.contextvars.bind_contextvars(tenant_id=caller.tenant_id, **{who: caller.id})
    await state.limiter.check_request(caller)
    return caller


async def authenticated(request: Request, credentials: Credentials) -> Principal:
    """Any authenticated caller, whatever its scopes, within its rate limits."""
    return await _caller(request.app.state.batonflow, credentials)


Caller = Annotated[Principal, Depends(authenticated)]


def require(scope: str) -> Any:
    """A dependency giving the authenticated `Principal`, which must hold `scope`. One level
    deep (the bearer scheme below it, for the OpenAPI description): each level of dependencies
    costs FastAPI a share of every request."""

    async def principal(request: Request, credentials: Credentials) -> Principal:
        caller = await _caller(request.app.state.batonflow, credentials)
        if not caller.can(scope):
            raise PermissionDenied(
                f"{caller.name} lacks the scope '{scope}' this endpoint needs",
                details={"scope": scope},
            )
        return caller

    principal.batonflow_scope = scope  # type: ignore[attr-defined]
    return Depends(principal)


def client_address(request: Request) -> str | None:
    """The client's address as the API sees it: the peer, or what `X-Forwarded-For` says when
    the peer is one of `BATONFLOW_TRUSTED_PROXIES` (Uvicorn's proxy headers settle it)."""
    return request.client.host if request.client else None


async def page_size(request: Request, limit: Annotated[int, Query(ge=1, le=10_000)] = 50) -> int:
    """A page size within the configured cap (`BATONFLOW_MAX_PAGE_SIZE`)."""
    cap = request.app.state.batonflow.settings.max_page_size
    if limit > cap:
        raise InvalidInput(f"limit is at most {cap} on this server; got {limit}")
    return limit


PageSize = Annotated[int, Depends(page_size)]
