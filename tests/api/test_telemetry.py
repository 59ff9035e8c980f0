"""Request telemetry through the real app: every answer names its request id (the caller's when
it is safe), each request logs one line with who asked and the route template, and an
unexpected exception is logged with its traceback and answered in the error envelope."""

from __future__ import annotations

import httpx
from dirty_equals import IsFloat, IsStr
from fastapi import FastAPI

from tests.api.conftest import Signup
from tests.telemetry.conftest import Capture, capture

__all__ = ["capture"]
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
GHOST = "01900000-0000-7000-8000-000000000000"


async def test_every_answer_carries_a_request_id(
    app: FastAPI, client: httpx.AsyncClient, signup: Signup
) -> None:
    admin = await signup()
    kept = await admin.client.get("/api/v1/runs", headers={"X-Request-ID": "lb-7f3a.2_x"})
    replaced = await admin.client.get("/api/v1/runs", headers={"X-Request-ID": "no spaces <>"})
    made = await admin.client.get("/api/v1/runs")
    unknown = await client.get("/api/v1/no-such-thing")
    refused = await client.get("/api/v1/runs", headers={"X-Request-ID": "anon-1"})
    too_large = await admin.client.post(
        "/api/v1/workflows", content=b"x" * 2_000_000, headers={"X-Request-ID": "big-1"}
    )
    assert [
        (r.status_code, r.headers["x-request-id"])
        for r in (kept, replaced, made, unknown, refused, too_large)
    ] == [
        (200, "lb-7f3a.2_x"),
        (200, IsStr(regex=UUID)),
        (200, IsStr(regex=UUID)),
        (404, IsStr(regex=UUID)),
        (401, "anon-1"),
        (413, "big-1"),
    ]
    assert len({replaced.headers["x-request-id"], made.headers["x-request-id"]}) == 2


async def test_a_request_logs_one_line_with_its_caller_and_route(
    app: FastAPI, signup: Signup, capture: Capture
) -> None:
    admin = await signup()
    captured = capture(app.state.batonflow.settings)
    me = (await admin.client.get("/api/v1/me")).json()
    await admin.client.get(f"/api/v1/runs/{GHOST}", headers={"X-Request-ID": "req-42"})
    assert captured.lines(request_id="req-42") == [
        {
            "time": IsStr(),
            "level": "info",
            "event": "request",
            "logger": "batonflow.api",
            "request_id": "req-42",
            "tenant_id": me["tenant"]["id"],
            "user_id": me["user"]["id"],
            "method": "GET",
            "path": f"/api/v1/runs/{GHOST}",
            "route": "/api/v1/runs/{run_id}",
            "status": 404,
            "duration_ms": IsFloat(ge=0),
        }
    ]


async def test_an_unexpected_exception_is_logged_and_answered_in_the_envelope(
    app: FastAPI, client: httpx.AsyncClient, capture: Capture
) -> None:
    async def broken() -> None:
        raise RuntimeError("the disk is on fire")

    app.router.add_api_route("/broken", broken)
    captured = capture(app.state.batonflow.settings)
    response = await client.get("/broken", headers={"X-Request-ID": "fire-1"})
    assert (response.status_code, response.headers["x-request-id"], response.json()) == (
        500,
        "fire-1",
        {
            "error": {
                "code": "internal_error",
                "message": "the server failed to answer; quote request id fire-1 to its operator",
                "details": {"request_id": "fire-1"},
            }
        },
    )
    assert [(line["event"], line["level"]) for line in captured.lines(request_id="fire-1")] == [
        ("request.failed", "error"),
        ("request", "info"),
    ]
    failed = captured.lines(event="request.failed")[0]
    assert failed["exception"] == IsStr(regex=r"(?s)Traceback.*RuntimeError: the disk is on fire")
    assert captured.lines(event="request", request_id="fire-1")[0]["status"] == 500
