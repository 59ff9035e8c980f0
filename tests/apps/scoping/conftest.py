"""The scoping app under test: the real API (with its in-process executor) on SQLite and on
PostgreSQL, its agents answered by a loopback OpenAI server (`model.Scoping`), and helpers to
drive sessions the way the dashboard does."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any, NamedTuple

import httpx
import pytest
from fastapi import FastAPI

from batonflow.api.app import create_app
from batonflow.apps.app import Apps, load_apps
from batonflow.settings import Settings
from batonflow_testkit.fakeserver import FakeProvider
from tests.api.conftest import PASSWORD, api_db_url, api_settings, client_for, with_provider

__all__ = ["api_db_url", "api_settings"]  # the API tests' fixtures, for these tests too
from tests.apps.scoping.model import MODEL, Scoping


@pytest.fixture
def script() -> Scoping:
    return Scoping()


@pytest.fixture
async def server(script: Scoping) -> AsyncIterator[FakeProvider]:
    async with FakeProvider(respond=script) as provider:
        yield provider


def scoping_apps(monkeypatch: pytest.MonkeyPatch, **env: str) -> Apps:
    monkeypatch.setenv("BATONFLOW_SCOPING_MODEL", MODEL)
    for name, value in env.items():
        monkeypatch.setenv(f"BATONFLOW_SCOPING_{name.upper()}", value)
    return load_apps(["scoping"])


@pytest.fixture
def scoping_settings(api_settings: Settings, server: FakeProvider) -> Settings:
    # The gateway retries a failed call twice, quickly; the workflow's step retries on top.
    return with_provider(
        api_settings, server, llm_max_retries=1, llm_retry_initial=0.01, llm_retry_max=0.02
    )


@pytest.fixture
async def scoping(
    scoping_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[FastAPI]:
    app = create_app(scoping_settings, apps=scoping_apps(monkeypatch))
    async with app.router.lifespan_context(app):
        yield app


Person = Callable[..., Coroutine[Any, Any, httpx.AsyncClient]]


@pytest.fixture
async def people(scoping: FastAPI) -> AsyncIterator[Person]:
    """`await people("acme")`: the admin of a new tenant; `await people("acme", admin=client,
    email=...)`: another member of that admin's tenant (invited, with `role`)."""
    opened: list[httpx.AsyncClient] = []

    async def person(
        tenant: str = "acme",
        *,
        admin: httpx.AsyncClient | None = None,
        email: str | None = None,
        role: str = "operator",
        app: FastAPI | None = None,
    ) -> httpx.AsyncClient:
        target = app or scoping
        async with client_for(target) as anonymous:
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
                    "name": (email or "x").split("@")[0].title(),
                }
            registered = await anonymous.post("/api/v1/auth/register", json=body)
        assert registered.status_code == 201, registered.text
        client = client_for(target, registered.json()["access_token"])
        opened.append(client)
        return client

    yield person
    for client in opened:
        await client.aclose()


class Team(NamedTuple):
    """A tenant's admin and four of its members: `viewer` has the viewer role, the others are
    operators."""

    admin: httpx.AsyncClient
    ada: httpx.AsyncClient
    bob: httpx.AsyncClient
    viewer: httpx.AsyncClient
    cy: httpx.AsyncClient


async def team(people: Person) -> Team:
    admin = await people("acme")
    return Team(
        admin,
        await people(admin=admin, email="ada@acme.example"),
        await people(admin=admin, email="bob@acme.example"),
        await people(admin=admin, email="vi@acme.example", role="viewer"),
        await people(admin=admin, email="cy@acme.example"),
    )


S = "/api/v1/scoping/sessions"


async def settled_stage(
    client: httpx.AsyncClient, session_id: str, number: int, timeout: float = 30
) -> dict[str, Any]:
    """The stage once nothing runs in it any more."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        response = await client.get(f"{S}/{session_id}/stages/{number}")
        assert response.status_code == 200, response.text
        stage: dict[str, Any] = response.json()
        if stage["status"] not in ("asking", "analysing"):
            return stage
        assert loop.time() < deadline, f"stage {number} still {stage['status']}"
        await asyncio.sleep(0.05)


async def answer_stage(
    client: httpx.AsyncClient, session_id: str, number: int, answers: list[str | None]
) -> dict[str, Any]:
    """Open a stage and answer its questions in turn (None skips one); the stage after."""
    opened = await client.post(f"{S}/{session_id}/stages/{number}/open")
    assert opened.status_code == 200, opened.text
    stage = await settled_stage(client, session_id, number)
    for given in answers:
        assert stage["status"] == "answering", stage
        pending = stage["pending_question_id"]
        if given is None:
            response = await client.post(
                f"{S}/{session_id}/stages/{number}/skip", json={"question_id": pending}
            )
        else:
            response = await client.post(
                f"{S}/{session_id}/stages/{number}/answer",
                json={"question_id": pending, "answer": given},
            )
        assert response.status_code == 200, response.text
        stage = await settled_stage(client, session_id, number)
    return stage


async def new_session(client: httpx.AsyncClient, title: str = "Invoice automation") -> str:
    created = await client.post(S, json={"title": title})
    assert created.status_code == 201, created.text
    return str(created.json()["id"])
