"""Known secrets sent through every path that logs, on the real app: a login with a wrong
password, refresh tokens (unknown and replayed), an unknown API key, a model call with the
provider's key that the provider rejects quoting it, and an agent whose exception quotes an API
key and the provider key. None of them reaches the log; the lines that would have carried them
are there, redacted."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from batonflow.api.app import create_app
from batonflow.apps import demo
from batonflow.apps.app import load_apps
from batonflow.settings import Settings
from batonflow_testkit.fakeserver import Fail, FakeProvider
from tests.api.conftest import PASSWORD, Signup, client_for
from tests.api.flows import settled, start, store
from tests.telemetry import leakyapp
from tests.telemetry.conftest import Capture

PROVIDER_KEY = "sk-live-" + secrets.token_hex(16)
WRONG_PASSWORD = "Tr0ub4dor&3-" + secrets.token_hex(4)
LEAK = """
id: leak
version: "1"
inputs:
  secret: {type: string}
steps:
  - id: boom
    kind: agent
    capability: leaky.raise
    retry: {max_attempts: 1}
    args: {secret: "{{ inputs.secret }}"}
outputs: {}
"""
REJECTED = """
id: rejected
version: "1"
steps:
  - id: pitch
    kind: llm
    model: openai:gpt-4.1-mini
    prompt: "Say hi."
    retry: {max_attempts: 1}
outputs: {}
"""


@pytest.fixture
async def provider() -> AsyncIterator[FakeProvider]:
    async with FakeProvider() as server:
        yield server


@pytest.fixture
def api_settings(api_settings: Settings, provider: FakeProvider, tmp_path: Path) -> Settings:
    return api_settings.model_copy(
        update={
            "openai_base_url": provider.openai_url,
            "openai_api_key": SecretStr(PROVIDER_KEY),
        }
    )


@pytest.fixture
async def app(api_settings: Settings) -> AsyncIterator[FastAPI]:
    """The API with the leaky app enabled beside the demo."""
    apps = load_apps(["demo", "leaky"], {"demo": demo.app, "leaky": leakyapp.app})
    app = create_app(api_settings, apps=apps)
    async with app.router.lifespan_context(app):
        yield app


async def test_no_secret_reaches_the_log(
    app: object, signup: Signup, provider: FakeProvider, api_settings: Settings, capture: Capture
) -> None:
    captured = capture(api_settings)
    admin = await signup()
    key = (
        await admin.client.post("/api/v1/api-keys", json={"name": "ci", "scopes": ["runs:read"]})
    ).json()["key"]
    unknown_key = "bf_" + secrets.token_urlsafe(32)
    unknown_refresh = secrets.token_urlsafe(32)
    async with client_for(app) as anonymous:  # type: ignore[arg-type]
        wrong = await anonymous.post(
            "/api/v1/auth/login", json={"email": admin.email, "password": WRONG_PASSWORD}
        )
        refreshed = await anonymous.post(
            "/api/v1/auth/refresh", json={"refresh_token": admin.refresh_token}
        )
        replayed = await anonymous.post(
            "/api/v1/auth/refresh", json={"refresh_token": admin.refresh_token}
        )
        forged = await anonymous.post(
            "/api/v1/auth/refresh", json={"refresh_token": unknown_refresh}
        )
        by_unknown_key = await anonymous.get(
            "/api/v1/runs", headers={"Authorization": f"Bearer {unknown_key}"}
        )
        by_key = await anonymous.get("/api/v1/runs", headers={"Authorization": f"Bearer {key}"})
    assert [
        r.status_code for r in (wrong, refreshed, replayed, forged, by_unknown_key, by_key)
    ] == [
        401,
        200,
        401,
        401,
        401,
        200,
    ]
    new_tokens = refreshed.json()

    provider.script(Fail(401, message=f"Incorrect API key provided: {PROVIDER_KEY}"))
    await store(admin.client, REJECTED)
    await store(admin.client, LEAK)
    rejected = await start(admin.client, "rejected")
    leaked = await start(admin.client, "leak", {"secret": f"{key} and {PROVIDER_KEY}"})
    await settled(admin.client, rejected["id"], ("failed", "dead"))
    await settled(admin.client, leaked["id"], ("failed", "dead"))
    # A step's log line is written just after its checkpoint commits: wait for both runs'.
    for _ in range(200):
        attempts = {line.get("run_id") for line in captured.lines(event="step.attempt")}
        if {rejected["id"], leaked["id"]} <= attempts:
            break
        await asyncio.sleep(0.01)

    text = captured.text
    for secret in (
        PASSWORD,
        WRONG_PASSWORD,
        admin.access_token,
        admin.refresh_token,
        new_tokens["access_token"],
        new_tokens["refresh_token"],
        unknown_refresh,
        key,
        unknown_key,
        PROVIDER_KEY,
        api_settings.secret_key.get_secret_value(),
    ):
        assert secret not in text
    refused = [(line["code"], line["status"]) for line in captured.lines(event="request.refused")]
    assert refused == [
        ("unauthenticated", 401),
        ("unauthenticated", 401),
        ("unauthenticated", 401),
        ("unauthenticated", 401),
    ]
    [raised] = [line for line in captured.lines(run_id=leaked["id"]) if "exception" in line]
    assert raised["exception"].endswith(
        "RuntimeError: could not connect with [redacted] and [redacted]"
    )
    assert "[redacted]" in str(captured.lines(run_id=rejected["id"]))
