"""The sales app under test: the real API on SQLite and on PostgreSQL, and people of separate
tenants calling it."""

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
from batonflow.apps.sales import app as sales
from batonflow.settings import Settings
from tests.api.conftest import PASSWORD, api_db_url, api_settings, client_for

__all__ = ["api_db_url", "api_settings"]  # the API tests' fixtures, for these tests too

SALES = "/api/v1/sales"


def sales_apps() -> Apps:
    """The sales app without its workflows: its tables, routes and commands."""
    return load_apps(["sales"], {"sales": replace(sales, workflows=None)})


@pytest.fixture
async def sales_api(api_settings: Settings) -> AsyncIterator[FastAPI]:
    app = create_app(api_settings, apps=sales_apps())
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
def sales_state(sales_api: FastAPI) -> ApiState:
    """The running API's state: its database, for reading what the app stored."""
    state: ApiState = sales_api.state.batonflow
    return state


@dataclass
class Member:
    """A signed-in admin of a tenant: the API client, and the tenant's id."""

    client: httpx.AsyncClient
    tenant_id: str


Join = Callable[..., Coroutine[Any, Any, Member]]


@pytest.fixture
async def sales_member(sales_api: FastAPI) -> AsyncIterator[Join]:
    """`await sales_member("acme")`: the admin of a new tenant, signed in."""
    opened: list[httpx.AsyncClient] = []

    async def member(tenant: str = "acme") -> Member:
        async with client_for(sales_api) as anonymous:
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
        client = client_for(sales_api, registered.json()["access_token"])
        opened.append(client)
        return Member(client, registered.json()["tenant"]["id"])

    yield member
    for client in opened:
        await client.aclose()
