"""The API under test: the real ASGI app with its lifespan (migrations, executor, limiter),
driven over httpx, on SQLite and on PostgreSQL.

The core's tests run with the demo app's agents but not its workflows, so a new tenant starts
empty (`tests/apps` drives how apps store their workflows in each tenant).

`client` is anonymous; `signup` registers a new tenant with its admin through the API and
returns an `Account` whose client sends that admin's access token.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import text

from batonflow.api.app import create_app
from batonflow.apps import demo
from batonflow.apps.app import Apps, load_apps
from batonflow.settings import Settings
from batonflow.store.db import create_engine
from batonflow.store.tables import Base
from batonflow_testkit.fakeserver import FakeProvider

PASSWORD = "correct horse battery staple"


@pytest.fixture
async def api_db_url(db_url: str, tmp_path: Path) -> str:
    """A database the app migrates itself (SQLite: a new file) or an emptied PostgreSQL one."""
    if db_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'api.db'}"
    engine = create_engine(db_url)
    async with engine.begin() as conn:
        names = ", ".join(t.name for t in Base.metadata.sorted_tables)
        await conn.execute(text(f"TRUNCATE {names} CASCADE"))
    await engine.dispose()
    return db_url


@pytest.fixture
def api_settings(tmp_path: Path, api_db_url: str) -> Settings:
    return Settings(
        dev=True,
        data_dir=tmp_path,
        database_url=api_db_url,
        lease_seconds=5,
        heartbeat_seconds=1,
        reap_seconds=0.5,
        poll_seconds=0.05,
        worker_id="api-test",
        refresh_reuse_grace_seconds=0.5,
        rate_limit_register="1000/minute",  # tests register many tenants; test_auth tests it
        argon2_time_cost=1,
        argon2_memory_kib=1024,
    )


@pytest.fixture
async def provider() -> AsyncIterator[FakeProvider]:
    """A loopback server speaking the OpenAI wire format (see `with_provider`)."""
    async with FakeProvider() as server:
        yield server


def with_provider(settings: Settings, provider: FakeProvider, **more: Any) -> Settings:
    """`settings` with the `openai` provider pointed at the loopback `provider`."""
    return settings.model_copy(
        update={
            "openai_base_url": provider.openai_url,
            "openai_api_key": SecretStr("sk-test-not-a-secret"),
            **more,
        }
    )


def core_apps() -> Apps:
    """The demo app without its workflows: its agents, routes and pages."""
    return load_apps(["demo"], {"demo": replace(demo.app, workflows=None)})


@pytest.fixture
async def app(api_settings: Settings) -> AsyncIterator[FastAPI]:
    app = create_app(api_settings, apps=core_apps())
    async with app.router.lifespan_context(app):
        yield app


def client_for(app: FastAPI, token: str | None = None) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=("127.0.0.1", 40000)),
        base_url="http://batonflow.test",
        headers=headers,
    )


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app) as anonymous:
        yield anonymous


@dataclass
class Account:
    tenant: str
    email: str
    access_token: str
    refresh_token: str
    client: httpx.AsyncClient


Signup = Callable[..., Coroutine[Any, Any, Account]]


@pytest.fixture
async def signup(app: FastAPI) -> AsyncIterator[Signup]:
    """Register a tenant and its admin through the API, as a new customer would."""
    opened: list[httpx.AsyncClient] = []

    async def register(tenant: str = "acme", email: str | None = None) -> Account:
        email = email or f"admin@{tenant}.example"
        async with client_for(app) as anonymous:
            response = await anonymous.post(
                "/api/v1/auth/register",
                json={"tenant": tenant, "email": email, "password": PASSWORD, "name": "Admin"},
            )
        assert response.status_code == 201, response.text
        body = response.json()
        authed = client_for(app, body["access_token"])
        opened.append(authed)
        return Account(tenant, email, body["access_token"], body["refresh_token"], authed)

    yield register
    for item in opened:
        await item.aclose()
