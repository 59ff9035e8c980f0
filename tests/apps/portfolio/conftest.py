"""The portfolio app under test: the real API on SQLite and on PostgreSQL, people of separate
tenants calling it, and the ledger's functions run in the app's own transactions."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, replace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from batonflow.api.app import create_app
from batonflow.api.deps import ApiState
from batonflow.apps.app import Apps, load_apps
from batonflow.apps.portfolio import app as portfolio
from batonflow.settings import Settings
from tests.api.conftest import PASSWORD, api_db_url, api_settings, client_for

__all__ = ["api_db_url", "api_settings"]  # the API tests' fixtures, for these tests too

PORTFOLIO = "/api/v1/portfolio/portfolios"


def portfolio_apps() -> Apps:
    """The portfolio app without its workflows: its tables, routes and commands."""
    return load_apps(["portfolio"], {"portfolio": replace(portfolio, workflows=None)})


@pytest.fixture
async def portfolio_api(api_settings: Settings) -> AsyncIterator[FastAPI]:
    app = create_app(api_settings, apps=portfolio_apps())
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
def portfolio_state(portfolio_api: FastAPI) -> ApiState:
    """The running API's state: `transact`/`query` run ledger functions on its database."""
    state: ApiState = portfolio_api.state.batonflow
    return state


@dataclass
class Member:
    """A signed-in admin of a tenant: the API client, and the tenant's id."""

    client: httpx.AsyncClient
    tenant_id: str


Join = Callable[..., Coroutine[Any, Any, Member]]


@pytest.fixture
async def portfolio_member(portfolio_api: FastAPI) -> AsyncIterator[Join]:
    """`await portfolio_member("acme")`: the admin of a new tenant, signed in."""
    opened: list[httpx.AsyncClient] = []

    async def member(tenant: str = "acme") -> Member:
        async with client_for(portfolio_api) as anonymous:
            registered = await anonymous.post(
                "/api/v1/auth/register",
                json={
                    "tenant": tenant,
                    "email": f"admin@{tenant}.example",
                    "password": PASSWORD,
                    "name": "Admin",
                },
            )
        assert registered.status_code == 201, registered.text
        client = client_for(portfolio_api, registered.json()["access_token"])
        opened.append(client)
        return Member(client, registered.json()["tenant"]["id"])

    yield member
    for client in opened:
        await client.aclose()
