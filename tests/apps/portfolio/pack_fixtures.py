"""Fixtures of the pack tests: the real API with the portfolio app (and its in-process
executor) on SQLite and on PostgreSQL, tenants registered through it, and the API's own
transactions for calling the pack functions directly."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import pytest
from fastapi import FastAPI

from batonflow.api.app import create_app
from batonflow.api.deps import ApiState
from batonflow.apps import portfolio
from batonflow.apps.app import Apps, load_apps
from batonflow.settings import Settings
from batonflow.store.db import Conn
from tests.api.conftest import PASSWORD, api_db_url, api_settings, client_for

__all__ = ["api_db_url", "api_settings"]  # the API tests' fixtures, for these tests too

T = TypeVar("T")
P = "/api/v1/portfolio"


def portfolio_apps(monkeypatch: pytest.MonkeyPatch, **env: str) -> Apps:
    """The portfolio app alone, its settings (`BATONFLOW_PORTFOLIO_*`) from `env`."""
    for name, value in env.items():
        monkeypatch.setenv(f"BATONFLOW_PORTFOLIO_{name.upper()}", value)
    return load_apps(["portfolio"], {"portfolio": portfolio.app})


@pytest.fixture
async def pack_app(
    api_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[FastAPI]:
    app = create_app(api_settings, apps=portfolio_apps(monkeypatch, providers="offline"))
    async with app.router.lifespan_context(app):
        yield app


def api_state(app: FastAPI) -> ApiState:
    state: ApiState = app.state.batonflow
    return state


@dataclass
class Tenant:
    id: str
    client: httpx.AsyncClient

    def __post_init__(self) -> None:
        self.state: ApiState | None = None

    async def write(self, work: Callable[[Conn], Awaitable[T]]) -> T:
        assert self.state is not None
        return await self.state.transact(work)

    async def read(self, work: Callable[[Conn], Awaitable[T]]) -> T:
        assert self.state is not None
        return await self.state.query(work)


Register = Callable[[str], Awaitable[Tenant]]


@pytest.fixture
async def tenants(pack_app: FastAPI) -> AsyncIterator[Register]:
    """`await tenants("acme")`: a new tenant, registered through the API, with its admin's
    client and the API's transactions."""
    opened: list[httpx.AsyncClient] = []

    async def register(slug: str) -> Tenant:
        async with client_for(pack_app) as anonymous:
            body = {
                "tenant": slug,
                "email": f"admin@{slug}.example",
                "password": PASSWORD,
                "name": "Admin",
            }
            registered = await anonymous.post("/api/v1/auth/register", json=body)
        assert registered.status_code == 201, registered.text
        client = client_for(pack_app, registered.json()["access_token"])
        opened.append(client)
        me: dict[str, Any] = (await client.get("/api/v1/me")).json()
        tenant = Tenant(me["tenant"]["id"], client)
        tenant.state = api_state(pack_app)
        return tenant

    yield register
    for client in opened:
        await client.aclose()
