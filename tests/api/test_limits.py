"""Limits through the real app, on both databases: the request body size (413), the per-user
rate limit (429 with Retry-After), login attempts per account and per client address, and rate
limits kept in Redis that two app instances share.

Every test uses its own tenant, emails and client address, so keys left in Redis by an earlier
run (under the `batonflow:` prefix) never count against it.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from dirty_equals import IsInt, IsStr
from fastapi import FastAPI

from batonflow.api.app import create_app
from batonflow.settings import Settings
from tests.api.conftest import PASSWORD, Signup, core_apps

REDIS_URL = os.environ.get("BATONFLOW_TEST_REDIS", "redis://127.0.0.1:6379/0")
MAX_BODY = 2048


@pytest.fixture
def api_settings(api_settings: Settings) -> Settings:
    return api_settings.model_copy(
        update={
            "rate_limit_user": "5/minute",
            "rate_limit_login": "3/minute",
            "max_body_bytes": 2048,
        }
    )


async def clear_of_a_minutes_end(margin: float = 5.0) -> None:
    """Wait for the next minute when this one ends within `margin` seconds. The per-user limit
    counts a sliding window: hits of the minute before weigh by how much of it is left, so a
    burst that straddles a minute's end is counted short of what it was."""
    left = 60 - time.time() % 60
    if left < margin:
        await asyncio.sleep(left + 0.05)


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:10]}"


def address() -> str:
    """A client address no other test (or earlier run) used."""
    raw = uuid.uuid4().bytes
    return f"10.{raw[0]}.{raw[1]}.{raw[2] or 1}"


def client_at(app: FastAPI, ip: str, token: str | None = None) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=(ip, 40000)),
        base_url="http://batonflow.test",
        headers=headers,
    )


def rate_limited(limit: str, label: str, item: str) -> dict[str, object]:
    return {
        "error": {
            "code": "rate_limited",
            "message": IsStr(regex=rf"rate limited by {label} \({item}\); retry after \d+ s"),
            "details": {"limit": limit, "retry_after": IsInt(ge=1, le=60)},
        }
    }


def retry_after(response: httpx.Response) -> int:
    """The Retry-After header, which must agree with the envelope's details."""
    seconds = int(response.headers["retry-after"])
    assert seconds == response.json()["error"]["details"]["retry_after"]
    return seconds


TOO_LARGE = {
    "error": {
        "code": "payload_too_large",
        "message": f"the request body is over {MAX_BODY} bytes",
        "details": {},
    }
}


async def test_a_body_over_the_limit_gets_413_by_its_length(signup: Signup) -> None:
    admin = await signup(unique("big"))
    source = "x" * (MAX_BODY + 1)
    response = await admin.client.post("/api/v1/workflows", json={"source": source})
    assert (response.status_code, response.json()) == (413, TOO_LARGE)
    assert int(response.request.headers["content-length"]) > MAX_BODY
    fits = await admin.client.post("/api/v1/workflows/validate", json={"source": "x" * 100})
    assert fits.status_code == 200


async def test_a_chunked_body_over_the_limit_gets_413_as_it_streams(signup: Signup) -> None:
    admin = await signup(unique("chunked"))

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"source": "'
        for _ in range(10):
            yield b"y" * 512
        yield b'"}'

    response = await admin.client.post(
        "/api/v1/workflows", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert (response.status_code, response.json()) == (413, TOO_LARGE)
    listed = await admin.client.get("/api/v1/workflows")
    assert listed.json() == {"items": []}


async def test_an_http2_body_without_framing_headers_is_counted_too(
    app: FastAPI, signup: Signup
) -> None:
    # HTTP/1 requests without Content-Length or Transfer-Encoding have no body and skip the
    # count; an HTTP/2 request can stream one without either header, and is counted.
    admin = await signup(unique("h2"))
    token = admin.client.headers["authorization"].encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "2",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/workflows",
        "raw_path": b"/api/v1/workflows",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"authorization", token)],
        "client": ("10.9.9.9", 40000),
        "server": ("batonflow.test", 80),
    }
    parts = [b'{"source": "', *[b"z" * 512] * 10, b'"}']
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        body = parts.pop(0) if parts else b""
        return {"type": "http.request", "body": body, "more_body": bool(parts)}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    assert sent[0]["status"] == 413
    assert json.loads(b"".join(m.get("body", b"") for m in sent[1:])) == TOO_LARGE  # type: ignore[misc]


async def test_the_per_user_limit_gives_429_with_retry_after(signup: Signup) -> None:
    admin = await signup(unique("busy"))
    await clear_of_a_minutes_end()
    answers = [(await admin.client.get("/api/v1/runs")).status_code for _ in range(5)]
    assert answers == [200] * 5
    refused = await admin.client.get("/api/v1/runs")
    assert refused.status_code == 429
    assert 1 <= retry_after(refused) <= 60
    assert refused.json() == rate_limited("user", "the per-user limit", "5 per 1 minute")
    # Another user of another tenant has a budget of its own.
    other = await signup(unique("calm"))
    assert (await other.client.get("/api/v1/runs")).status_code == 200


async def test_login_attempts_are_limited_per_account(app: FastAPI, signup: Signup) -> None:
    admin = await signup(unique("guessed"))
    wrong = {"email": admin.email, "password": "not the password at all"}
    # Each guess from a different address: the account's own limit is what binds.
    for _ in range(3):
        async with client_at(app, address()) as guesser:
            assert (await guesser.post("/api/v1/auth/login", json=wrong)).status_code == 401
    async with client_at(app, address()) as owner:
        right = await owner.post(
            "/api/v1/auth/login", json={"email": admin.email, "password": PASSWORD}
        )
    assert right.status_code == 429
    assert 1 <= retry_after(right) <= 60
    assert right.json() == rate_limited(
        "login_account", "the login limit for this account", "3 per 1 minute"
    )


async def test_login_attempts_are_limited_per_client_address(app: FastAPI, signup: Signup) -> None:
    admin = await signup(unique("sprayed"))
    ip = address()
    async with client_at(app, ip) as sprayer:
        for n in range(3):
            guess = {"email": f"{unique('nobody')}{n}@example.com", "password": PASSWORD}
            assert (await sprayer.post("/api/v1/auth/login", json=guess)).status_code == 401
        refused = await sprayer.post(
            "/api/v1/auth/login", json={"email": admin.email, "password": PASSWORD}
        )
    assert refused.status_code == 429
    assert refused.json() == rate_limited(
        "login_ip", "the login limit for this client address", "3 per 1 minute"
    )
    async with client_at(app, address()) as elsewhere:
        signed_in = await elsewhere.post(
            "/api/v1/auth/login", json={"email": admin.email, "password": PASSWORD}
        )
    assert signed_in.status_code == 200


@pytest.fixture
def redis_settings(api_settings: Settings) -> Settings:
    return api_settings.model_copy(update={"redis_url": REDIS_URL})


@pytest.fixture
async def replicas(redis_settings: Settings) -> AsyncIterator[tuple[FastAPI, FastAPI]]:
    """Two instances of the API on one database and one Redis, as two replicas would run."""
    first = create_app(redis_settings, apps=core_apps())
    second = create_app(redis_settings, executor=False, apps=core_apps())
    async with first.router.lifespan_context(first), second.router.lifespan_context(second):
        yield first, second


async def register(app: FastAPI, tenant: str) -> tuple[str, str]:
    email = f"admin@{tenant}.example"
    async with client_at(app, address()) as anonymous:
        response = await anonymous.post(
            "/api/v1/auth/register",
            json={"tenant": tenant, "email": email, "password": PASSWORD, "name": "Admin"},
        )
    assert response.status_code == 201, response.text
    return email, response.json()["access_token"]


async def test_replicas_sharing_redis_share_a_users_budget(
    replicas: tuple[FastAPI, FastAPI],
) -> None:
    first, second = replicas
    _, token = await register(first, unique("shared"))
    ip = address()
    async with client_at(first, ip, token) as one, client_at(second, ip, token) as two:
        await clear_of_a_minutes_end()
        answers = [(await client.get("/api/v1/runs")).status_code for client in (one, two) * 2]
        answers.append((await one.get("/api/v1/runs")).status_code)
        assert answers == [200] * 5  # 3 on the first replica, 2 on the second
        for client in (two, one):
            refused = await client.get("/api/v1/runs")
            assert refused.status_code == 429
            assert 1 <= retry_after(refused) <= 60
            assert refused.json() == rate_limited("user", "the per-user limit", "5 per 1 minute")
    # Another user's budget is untouched by the first one's.
    _, other = await register(second, unique("apart"))
    async with client_at(first, ip, other) as three:
        assert (await three.get("/api/v1/runs")).status_code == 200


async def test_replicas_sharing_redis_share_the_login_limit(
    replicas: tuple[FastAPI, FastAPI],
) -> None:
    first, second = replicas
    email, _ = await register(first, unique("shared-login"))
    wrong = {"email": email, "password": "not the password at all"}
    for app in (first, second, first):
        async with client_at(app, address()) as guesser:
            assert (await guesser.post("/api/v1/auth/login", json=wrong)).status_code == 401
    async with client_at(second, address()) as owner:
        refused = await owner.post(
            "/api/v1/auth/login", json={"email": email, "password": PASSWORD}
        )
    assert refused.status_code == 429
    assert refused.json() == rate_limited(
        "login_account", "the login limit for this account", "3 per 1 minute"
    )
