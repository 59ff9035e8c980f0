"""Health routes through the real ASGI app on both databases: live, ready (and the reasons it is
not: a schema behind the code, an unreadable model file, a Redis that does not answer) and
status with versions, uptime and dependency latencies. None needs credentials."""

from __future__ import annotations

import os
import platform
from collections.abc import AsyncIterator
from importlib.metadata import version
from pathlib import Path

import httpx
import pytest
from dirty_equals import IsFloat, IsStr
from fastapi import FastAPI

from batonflow.api.app import create_app
from batonflow.api.deps import ApiState
from batonflow.settings import Settings
from batonflow.store import migrate
from tests.api.conftest import client_for, core_apps

REDIS_URL = os.environ.get("BATONFLOW_TEST_REDIS", "redis://127.0.0.1:6379/0")
OK = {"ok": True, "error": None}


def state_of(app: FastAPI) -> ApiState:
    state: ApiState = app.state.batonflow
    return state


async def test_live_answers_ok(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/live")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def test_ready_checks_the_database_and_the_model(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/ready")
    assert (response.status_code, response.json()) == (
        200,
        {"status": "ready", "checks": {"database": OK, "model": OK}},
    )


async def test_ready_is_503_when_the_schema_is_behind_the_code(
    app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    platform = state_of(app).platform
    at = await migrate.current(platform.engine)  # the core's head, or an app branch's above it
    monkeypatch.setattr(migrate, "HEAD", "9999")
    wanted = migrate.head(platform.branches)  # 9999 and every installed app's branch head
    response = await client.get("/health/ready")
    assert (response.status_code, response.json()) == (
        503,
        {
            "status": "unready",
            "checks": {
                "database": {
                    "ok": False,
                    "error": f"the database schema is at {at}, not {wanted}; run `batonflow db "
                    "upgrade`",
                },
                "model": OK,
            },
        },
    )


async def test_ready_is_503_when_the_model_file_is_not_a_readable_gguf(
    app: FastAPI, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    state = state_of(app)
    fake = tmp_path / "weights.gguf"
    fake.write_bytes(b"not a model")
    state.platform.settings = state.settings.model_copy(update={"local_model_path": fake})
    response = await client.get("/health/ready")
    assert (response.status_code, response.json()["checks"]["model"]) == (
        503,
        {"ok": False, "error": "the local model file weights.gguf is not a GGUF file"},
    )
    state.platform.settings = state.settings.model_copy(
        update={"local_model_path": tmp_path / "gone.gguf"}
    )
    response = await client.get("/health/ready")
    assert (response.status_code, response.json()["checks"]["model"]) == (
        503,
        {
            "ok": False,
            "error": IsStr(
                regex=r"the local model file gone.gguf cannot be read: .*No such file.*"
            ),
        },
    )


@pytest.fixture
async def redis_app(
    api_settings: Settings, request: pytest.FixtureRequest
) -> AsyncIterator[FastAPI]:
    app = create_app(
        api_settings.model_copy(update={"redis_url": request.param}),
        executor=False,
        apps=core_apps(),
    )
    async with app.router.lifespan_context(app):
        yield app


@pytest.mark.parametrize("redis_app", [REDIS_URL], indirect=True)
async def test_ready_checks_redis_when_it_holds_the_rate_limits(redis_app: FastAPI) -> None:
    async with client_for(redis_app) as client:
        response = await client.get("/health/ready")
    assert (response.status_code, response.json()) == (
        200,
        {"status": "ready", "checks": {"database": OK, "redis": OK, "model": OK}},
    )


@pytest.mark.parametrize("redis_app", ["redis://127.0.0.1:1/0"], indirect=True)
async def test_ready_is_503_when_redis_does_not_answer(redis_app: FastAPI) -> None:
    async with client_for(redis_app) as client:
        response = await client.get("/health/ready")
    assert (response.status_code, response.json()) == (
        503,
        {
            "status": "unready",
            "checks": {
                "database": OK,
                "redis": {
                    "ok": False,
                    "error": "Redis at redis://127.0.0.1:1/0 (BATONFLOW_REDIS_URL, "
                    "where rate limits are kept) does not answer",
                },
                "model": OK,
            },
        },
    )


async def test_status_gives_versions_uptime_and_latencies(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    response = await client.get("/health/status")
    dialect = state_of(app).engine.dialect.name
    latency = {"ok": True, "latency_ms": IsFloat(ge=0), "error": None}
    assert (response.status_code, response.json()) == (
        200,
        {
            "status": "ready",
            "versions": {
                "batonflow": version("batonflow"),
                "python": platform.python_version(),
                "sqlalchemy": version("sqlalchemy"),
                "fastapi": version("fastapi"),
                "database": IsStr(regex=rf"{dialect} \d+(\.\d+)*.*"),
            },
            "uptime_seconds": IsFloat(ge=0),
            "dependencies": {"database": latency, "model": latency},
            "executor": {"in_process": True},
        },
    )


async def test_health_routes_live_at_the_root_without_credentials(app: FastAPI) -> None:
    paths = app.openapi()["paths"]
    for path in ("/health/live", "/health/ready", "/health/status"):
        assert "x-scope" not in paths[path]["get"]
    assert "503" in paths["/health/ready"]["get"]["responses"]
