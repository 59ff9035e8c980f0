"""Fixtures for the rights, results and exports tests, on SQLite and PostgreSQL.

`pf_engine`: the core tables (the shared `engine` fixture) plus the portfolio app's tables, for
store tests; `portfolio_api`: the real API with the portfolio app enabled (it migrates its own
database), and `people` to register tenants through it. Import the fixtures by name:

    from tests.apps.portfolio.rights_fixtures import pf_engine, portfolio_api, people
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from batonflow.api.app import create_app
from batonflow.apps import portfolio
from batonflow.apps.app import load_apps
from batonflow.apps.portfolio import tables
from batonflow.settings import Settings
from batonflow.store.tenants import ensure_tenant
from tests.api.conftest import PASSWORD, api_db_url, api_settings, client_for

__all__ = ["api_db_url", "api_settings", "people", "pf_engine", "portfolio_api"]

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


@pytest.fixture
async def pf_engine(engine: AsyncEngine) -> AsyncEngine:
    """`engine` with the portfolio tables too (created as the app's migration creates them;
    left as they are where the session's PostgreSQL database already has them)."""
    copy = sa.MetaData()
    sa.Table("tenants", copy, sa.Column("id", sa.String(36), primary_key=True))
    for table in tables.metadata.tables.values():
        table.to_metadata(copy)
    async with engine.begin() as conn:
        await conn.run_sync(lambda sync: copy.create_all(sync, checkfirst=True))
    return engine


async def tenant_of(engine: AsyncEngine, name: str) -> str:
    async with engine.begin() as conn:
        return await ensure_tenant(conn, name, NOW)


@pytest.fixture
async def portfolio_api(api_settings: Settings) -> AsyncIterator[FastAPI]:
    """The API with the portfolio app (its workflows left out: the patterns are not here)."""
    apps = load_apps(["portfolio"], {"portfolio": replace(portfolio.app, workflows=None)})
    app = create_app(api_settings, apps=apps)
    async with app.router.lifespan_context(app):
        yield app


Person = Callable[..., Coroutine[Any, Any, httpx.AsyncClient]]


@pytest.fixture
async def people(portfolio_api: FastAPI) -> AsyncIterator[Person]:
    """`await people("acme")`: the admin of a new tenant; `await people("acme", admin=client,
    email=..., role="viewer")`: another member of that tenant, invited by its admin."""
    opened: list[httpx.AsyncClient] = []

    async def person(
        tenant: str = "acme",
        *,
        admin: httpx.AsyncClient | None = None,
        email: str | None = None,
        role: str = "operator",
    ) -> httpx.AsyncClient:
        async with client_for(portfolio_api) as anonymous:
            if admin is None:
                body = {
                    "tenant": tenant,
                    "email": email or f"admin@{tenant}.example",
                    "password": PASSWORD,
                    "name": "Admin",
                }
            else:
                invited = await admin.post(
                    "/api/v1/invitations", json={"email": email, "role": role}
                )
                assert invited.status_code == 201, invited.text
                body = {
                    "invitation": invited.json()["token"],
                    "email": email,
                    "password": PASSWORD,
                    "name": "Member",
                }
            registered = await anonymous.post("/api/v1/auth/register", json=body)
        assert registered.status_code == 201, registered.text
        client = client_for(portfolio_api, registered.json()["access_token"])
        opened.append(client)
        return client

    yield person
    for client in opened:
        await client.aclose()
