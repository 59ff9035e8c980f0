"""Schedules through the API, fired by the scheduler loop `serve` runs, on both databases."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from dirty_equals import IsStr
from fastapi import FastAPI

from batonflow.settings import Settings
from tests.api.conftest import Signup, client_for
from tests.api.flows import QUICK, settled, store


@pytest.fixture
def api_settings(api_settings: Settings) -> Settings:
    return api_settings.model_copy(update={"scheduler_poll_seconds": 0.1})


async def fired(client: httpx.AsyncClient, schedule_id: str, count: int) -> dict[str, Any]:
    async with asyncio.timeout(30):
        while True:
            body = (await client.get(f"/api/v1/schedules/{schedule_id}")).json()
            if len([f for f in body["fires"] if f["run_id"]]) >= count:
                return body
            await asyncio.sleep(0.1)


async def test_an_interval_schedule_starts_runs_and_pauses(signup: Signup) -> None:
    client = (await signup("acme")).client
    await store(client, QUICK, "quick.yaml")
    created = await client.post(
        "/api/v1/schedules",
        json={
            "name": "tick",
            "workflow_id": "quick",
            "kind": "interval",
            "interval_seconds": 1,
            "inputs": {"text": "hello"},
        },
    )
    assert created.status_code == 201, created.text
    schedule = created.json()
    assert schedule == {
        "id": IsStr(),
        "name": "tick",
        "workflow_id": "quick",
        "version": None,
        "inputs": {"text": "hello"},
        "kind": "interval",
        "cron": None,
        "timezone": "UTC",
        "interval_seconds": 1,
        "at": IsStr(),
        "catch_up": "skip",
        "catch_up_limit": 10,
        "paused": False,
        "next_fire_at": IsStr(),
        "upcoming": [IsStr()] * 5,
        "last_fired_at": None,
        "fires": [],
        "created_by": "admin@acme.example",
        "created_at": IsStr(),
        "updated_at": IsStr(),
    }
    body = await fired(client, schedule["id"], 2)
    run_id = body["fires"][0]["run_id"]
    run = await settled(client, run_id, ("succeeded",))
    assert run["outputs"] == {"echoed": "hello"}
    assert run["created_by"] == "schedule:tick"

    paused = await client.post(f"/api/v1/schedules/{schedule['id']}/pause")
    assert (paused.status_code, paused.json()["paused"], paused.json()["upcoming"]) == (
        200,
        True,
        [],
    )
    count = len(paused.json()["fires"])
    await asyncio.sleep(1.5)
    again = (await client.get(f"/api/v1/schedules/{schedule['id']}")).json()
    assert len(again["fires"]) == count
    resumed = await client.post(f"/api/v1/schedules/{schedule['id']}/resume")
    assert resumed.json()["paused"] is False
    await fired(client, schedule["id"], count + 1)

    listed = (await client.get("/api/v1/schedules")).json()["items"]
    assert [(s["name"], len(s["fires"]) <= 10) for s in listed] == [("tick", True)]
    deleted = await client.delete(f"/api/v1/schedules/{schedule['id']}")
    assert deleted.status_code == 204
    gone = await client.get(f"/api/v1/schedules/{schedule['id']}")
    assert gone.status_code == 404
    assert (await client.get(f"/api/v1/runs/{run_id}")).status_code == 200  # runs stay


async def test_a_cron_schedule_shows_its_next_fire_times_in_its_zone(signup: Signup) -> None:
    client = (await signup("acme")).client
    await store(client, QUICK, "quick.yaml")
    created = await client.post(
        "/api/v1/schedules",
        json={
            "name": "weekday-mornings",
            "workflow_id": "quick",
            "version": "1",
            "kind": "cron",
            "cron": "30 9 * * 1-5",
            "timezone": "Asia/Kolkata",  # UTC+05:30, no daylight saving: 04:00 UTC
            "inputs": {"text": "standup"},
            "catch_up": "once",
        },
    )
    assert created.status_code == 201, created.text
    upcoming = [datetime.fromisoformat(t) for t in created.json()["upcoming"]]
    assert len(upcoming) == 5
    assert all((t.hour, t.minute, t.weekday() < 5) == (4, 0, True) for t in upcoming)
    assert upcoming == sorted(upcoming)
    assert upcoming[0] > datetime.now(UTC)


@pytest.mark.parametrize(
    ("fields", "code", "message"),
    [
        ({"cron": "0 25 * * *"}, "input_invalid", "cron '0 25 \\* \\* \\*' is not valid"),
        ({"timezone": "Atlantis/Capital"}, "input_invalid", "unknown time zone"),
        ({"inputs": {}}, "input_invalid", "'text' is a required property"),
        ({"workflow_id": "nope"}, "not_found", "no workflow 'nope'"),
        ({"owner": "me"}, "request_invalid", "Extra inputs are not permitted"),
        ({"catch_up": "sometimes"}, "request_invalid", "catch_up"),
    ],
)
async def test_a_bad_schedule_says_what_to_fix(
    signup: Signup, fields: dict[str, Any], code: str, message: str
) -> None:
    client = (await signup("acme")).client
    await store(client, QUICK, "quick.yaml")
    body = {
        "name": "bad",
        "workflow_id": "quick",
        "kind": "cron",
        "cron": "0 9 * * *",
        "inputs": {"text": "x"},
    } | fields
    response = await client.post("/api/v1/schedules", json=body)
    assert response.status_code in (404, 422), response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert re.search(message, error["message"]), error["message"]


async def test_a_name_is_unique_in_the_tenant(signup: Signup) -> None:
    client = (await signup("acme")).client
    await store(client, QUICK, "quick.yaml")
    body = {"name": "n", "workflow_id": "quick", "kind": "interval", "interval_seconds": 3600}
    body["inputs"] = {"text": "x"}
    assert (await client.post("/api/v1/schedules", json=body)).status_code == 201
    again = await client.post("/api/v1/schedules", json=body)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "conflict"


async def test_a_viewer_reads_schedules_but_cannot_make_them(app: FastAPI, signup: Signup) -> None:
    admin = await signup("acme")
    key = await admin.client.post(
        "/api/v1/api-keys", json={"name": "viewer", "scopes": ["triggers:read"]}
    )
    assert key.status_code == 201, key.text
    async with client_for(app, key.json()["key"]) as viewer:
        assert (await viewer.get("/api/v1/schedules")).json() == {"items": []}
        refused = await viewer.post(
            "/api/v1/schedules",
            json={"name": "x", "workflow_id": "quick", "kind": "interval", "interval_seconds": 60},
        )
    assert refused.status_code == 403
    assert refused.json()["error"]["details"] == {"scope": "triggers:write"}
