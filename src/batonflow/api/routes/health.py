"""Health: `/health/live`, `/health/ready` (200, or 503 naming what is wrong) and
`/health/status`, with no credentials and no rate limit, so probes never get a 401 or a 429.
Readiness checks the database and its revision, Redis when configured, and that the local
model's GGUF header is readable (once; the weights are never loaded here), each within
`CHECK_SECONDS`, so a hung dependency makes the probe fail, not hang.

`GET /metrics` spans every tenant, so no tenant credential reads it, not even an admin's: the
scraper sends `Authorization: Bearer <BATONFLOW_METRICS_TOKEN>`; without that token it is a 404.
"""

from __future__ import annotations

import asyncio
import hmac
import platform
import time
from collections.abc import Awaitable, Callable
from importlib.metadata import version
from pathlib import Path
from typing import Literal

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text

from batonflow.api.deps import ApiState, State
from batonflow.errors import ConfigError, NotFound, Unauthenticated
from batonflow.llm.local import smollm2_path
from batonflow.store import migrate
from batonflow.telemetry.metrics import CONTENT_TYPE

router = APIRouter(prefix="/health", tags=["health"])
metrics_router = APIRouter(tags=["operations"])
CHECK_SECONDS = 3.0
GGUF_MAGIC = b"GGUF"
_readable_models: set[Path] = set()  # GGUF files a probe has found readable


class Live(BaseModel):
    status: Literal["ok"]


class Check(BaseModel):
    ok: bool
    error: str | None = None


class Ready(BaseModel):
    status: Literal["ready", "unready"]
    checks: dict[str, Check]


class Dependency(BaseModel):
    ok: bool
    latency_ms: float
    error: str | None = None


class ExecutorState(BaseModel):
    in_process: bool  # this process runs an executor (BATONFLOW_EXECUTOR=inprocess)


class Status(BaseModel):
    status: Literal["ready", "unready"]
    versions: dict[str, str]
    uptime_seconds: float
    dependencies: dict[str, Dependency]
    executor: ExecutorState


async def _database(state: ApiState) -> None:
    await state.query(lambda conn: conn.scalar(text("SELECT 1")))
    branches = state.platform.branches
    if not await migrate.is_current(state.engine, branches):
        at = await migrate.current(state.engine)
        raise ConfigError(
            f"the database schema is at {at or 'nothing'}, not {migrate.head(branches)}; "
            "run `batonflow db upgrade`"
        )


async def _redis(state: ApiState) -> None:
    await state.limiter.check()


async def _model(state: ApiState) -> None:
    path = state.settings.local_model_path or smollm2_path()
    if path in _readable_models:
        return
    try:
        with path.open("rb") as file:
            magic = file.read(len(GGUF_MAGIC))
    except OSError as error:
        raise ConfigError(f"the local model file {path.name} cannot be read: {error}") from None
    if magic != GGUF_MAGIC:
        raise ConfigError(f"the local model file {path.name} is not a GGUF file")
    _readable_models.add(path)


def _checks(state: ApiState) -> dict[str, Callable[[ApiState], Awaitable[None]]]:
    checks: dict[str, Callable[[ApiState], Awaitable[None]]] = {"database": _database}
    if state.settings.redis_url is not None:
        checks["redis"] = _redis
    checks["model"] = _model
    return checks


async def _timed(check: Callable[[ApiState], Awaitable[None]], state: ApiState) -> Dependency:
    started = time.perf_counter()
    error: str | None = None
    try:
        async with asyncio.timeout(CHECK_SECONDS):
            await check(state)
    except TimeoutError:
        error = f"no answer within {CHECK_SECONDS:g} s"
    except Exception as exc:  # any failure fails the check, with its reason
        error = (str(exc) or type(exc).__name__).splitlines()[0][:300]
    elapsed = round((time.perf_counter() - started) * 1000, 3)
    return Dependency(ok=error is None, latency_ms=elapsed, error=error)


async def probe(state: ApiState) -> dict[str, Dependency]:
    """Every readiness check, run concurrently, by name."""
    checks = _checks(state)
    results = await asyncio.gather(*(_timed(check, state) for check in checks.values()))
    return dict(zip(checks, results, strict=True))


async def _database_version(state: ApiState) -> str:
    sql = (
        "SELECT sqlite_version()"
        if state.engine.dialect.name == "sqlite"
        else "SHOW server_version"
    )
    value = await state.query(lambda conn: conn.scalar(text(sql)))
    return f"{state.engine.dialect.name} {value}"


@router.get("/live", response_model=Live, summary="The process is up")
async def live() -> Live:
    return Live(status="ok")


@router.get(
    "/ready",
    response_model=Ready,
    responses={503: {"model": Ready, "description": "a dependency is not ready; see checks"}},
    summary="Whether this replica can serve: database, Redis (when configured), model",
)
async def ready(state: State) -> Ready | JSONResponse:
    results = await probe(state)
    checks = {name: Check(ok=r.ok, error=r.error) for name, r in results.items()}
    if all(check.ok for check in checks.values()):
        return Ready(status="ready", checks=checks)
    body = Ready(status="unready", checks=checks)
    return JSONResponse(body.model_dump(mode="json"), status_code=503)


@router.get("/status", response_model=Status, summary="Versions, uptime, dependency latencies")
async def status(state: State) -> Status:
    """Always 200 while the process answers; `status` says whether it is ready."""
    dependencies = await probe(state)
    try:
        async with asyncio.timeout(CHECK_SECONDS):
            database = await _database_version(state)
    except Exception:  # the database check already says what is wrong
        database = "unknown"
    versions = {
        "batonflow": version("batonflow"),
        "python": platform.python_version(),
        "sqlalchemy": version("sqlalchemy"),
        "fastapi": version("fastapi"),
        "database": database,
    }
    uptime = (state.now() - state.started_at).total_seconds()
    return Status(
        status="ready" if all(d.ok for d in dependencies.values()) else "unready",
        versions=versions,
        uptime_seconds=round(uptime, 3),
        dependencies=dependencies,
        executor=ExecutorState(in_process=state.executor is not None),
    )


@metrics_router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    state: ApiState = request.app.state.batonflow
    token = state.settings.metrics_token
    if token is None:
        raise NotFound("metrics are off on this server (set BATONFLOW_METRICS_TOKEN)")
    sent = request.headers.get("authorization", "")
    scheme, _, credential = sent.partition(" ")
    expected = token.get_secret_value().encode()
    if scheme.lower() != "bearer" or not hmac.compare_digest(credential.encode(), expected):
        raise Unauthenticated("/metrics needs 'Authorization: Bearer <the metrics token>'")
    return Response(await state.telemetry.metrics.render(), media_type=CONTENT_TYPE)
