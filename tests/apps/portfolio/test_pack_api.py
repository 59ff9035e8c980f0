"""The pack endpoints through the real API (its in-process executor runs the builds) on SQLite
and PostgreSQL: a build started with POST /packs, the list and a pack, the health endpoint
while warming and fresh, a daily schedule of `portfolio-pack-build`, another tenant's view;
and the `batonflow portfolio packs` commands."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from dirty_equals import IsDatetime, IsInt, IsStr
from fastapi import FastAPI
from typer.testing import CliRunner

from batonflow.apps.portfolio import pack_commands, pack_rows, packs
from batonflow.schedules.service import fire_next
from tests.apps.portfolio.pack_fixtures import (
    P,
    Register,
    Tenant,
    api_db_url,
    api_settings,
    api_state,
    pack_app,
)
from tests.apps.portfolio.pack_fixtures import tenants as tenants

__all__ = ["api_db_url", "api_settings", "pack_app", "tenants"]

IsTime = IsStr(regex=r"\d{4}-\d\d-\d\dT.*")


async def settled(tenant: Tenant, timeout: float = 60) -> dict[str, Any]:
    """The pack health once no build is warming."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        response = await tenant.client.get(f"{P}/health/pack")
        assert response.status_code == 200, response.text
        health: dict[str, Any] = response.json()
        if health["state"] != "warming":
            return health
        assert loop.time() < deadline, health
        await asyncio.sleep(0.05)


async def finished(tenant: Tenant, run_id: str, timeout: float = 60) -> str:
    """The run's status once it is over."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        status: str = (await tenant.client.get(f"/api/v1/runs/{run_id}")).json()["status"]
        if status in ("succeeded", "failed", "dead", "cancelled"):
            return status
        assert loop.time() < deadline, status
        await asyncio.sleep(0.05)


async def test_a_build_started_over_the_api(tenants: Register) -> None:
    acme = await tenants("acme")
    started = await acme.client.post(f"{P}/packs", json={"as_of": "2005-01-01"})
    assert started.status_code == 202, started.text
    build = started.json()
    assert build == {
        "build_id": IsStr(min_length=36),
        "pack_id": None,
        "as_of": "2005-01-01",
        "state": "warming",
        "same_as": None,
        "sources": [],
        "counts": {},
        "estimated_ready": IsTime,
        "error": None,
        "run_id": IsStr(min_length=36),
        "started_at": IsTime,
        "ready_at": None,
        "superseded_at": None,
    }
    health = await settled(acme)
    listed = (await acme.client.get(f"{P}/packs")).json()
    assert listed == {
        "items": [
            {
                **build,
                "pack_id": health["pack_id"],
                "state": "fresh",
                "sources": ["offline"],
                "counts": {
                    "price": 5,
                    "fx": 0,
                    "split": 0,
                    "dividend": 0,
                    "macro": 0,
                    "news": 0,
                    "missing": [
                        "macro:DGS10",
                        "macro:DGS2",
                        "macro:UNRATE",
                        "macro:CPIAUCSL",
                        "macro:DTB3",
                        "macro:VIXCLS",
                    ],
                },
                "estimated_ready": None,
                "ready_at": IsTime,
            }
        ],
        "next_cursor": None,
    }
    assert health == {
        "state": "fresh",
        "pack_id": IsStr(regex="[0-9a-f]{64}"),
        "as_of": "2005-01-01",
        "sources": ["offline"],
        "ready_at": listed["items"][0]["ready_at"],
        "building": None,
        "estimated_ready": None,
        "retry_after_seconds": None,
        "superseded": None,
        "last_error": None,
    }
    run = (await acme.client.get(f"/api/v1/runs/{build['run_id']}")).json()
    assert (run["status"], run["outputs"]["build"]) == (
        "succeeded",
        {
            "build_id": build["build_id"],
            "pack_id": health["pack_id"],
            "state": "fresh",
            "counts": listed["items"][0]["counts"],
        },
    )
    pack = (await acme.client.get(f"{P}/packs/{health['pack_id']}")).json()
    assert [(s["kind"], s["key"], s["points"]) for s in pack["series"]] == [
        ("price", "AAPL", 60),
        ("price", "AMZN", 60),
        ("price", "GOOG", 6),
        ("price", "IBM", 60),
        ("price", "MSFT", 60),
    ]
    # The same data again: no second pack, the build says which pack it is.
    again = (await acme.client.post(f"{P}/packs", json={"as_of": "2005-01-01"})).json()
    await settled(acme)
    listed = (await acme.client.get(f"{P}/packs", params={"limit": 1})).json()
    assert (listed["items"][0]["build_id"], listed["items"][0]["state"]) == (
        again["build_id"],
        "unchanged",
    )
    assert listed["items"][0]["same_as"] == health["pack_id"]
    second = (await acme.client.get(f"{P}/packs", params={"cursor": listed["next_cursor"]})).json()
    assert [item["build_id"] for item in second["items"]] == [build["build_id"]]


async def test_health_reports_warming_and_the_gate_refuses(tenants: Register) -> None:
    acme = await tenants("acme")
    now = datetime.now(UTC)
    warming = await acme.write(
        lambda c: pack_rows.begin(c, acme.id, now, as_of=date(2005, 1, 1), estimate=120.0)
    )
    response = await acme.client.get(f"{P}/health/pack")
    assert (response.status_code, response.json()) == (
        200,
        {
            "state": "warming",
            "pack_id": None,
            "as_of": None,
            "sources": [],
            "ready_at": None,
            "building": warming["build_id"],
            "estimated_ready": IsDatetime(iso_string=True),
            "retry_after_seconds": IsInt(ge=110, le=120),  # the request takes a moment
            "superseded": None,
            "last_error": None,
        },
    )


async def test_a_daily_schedule_builds_packs(tenants: Register, pack_app: FastAPI) -> None:
    acme = await tenants("acme")
    made = await acme.client.post(
        "/api/v1/schedules",
        json={
            "name": "daily-pack",
            "workflow_id": "portfolio-pack-build",
            "kind": "cron",
            "cron": "0 6 * * *",
            "timezone": "UTC",
            "inputs": {"as_of": "2006-01-01"},
        },
    )
    assert made.status_code == 201, made.text
    schedule = made.json()
    upcoming = [datetime.fromisoformat(t) for t in schedule["upcoming"]]
    assert [t.hour for t in upcoming] == [6] * len(upcoming)
    assert [b - a for a, b in itertools.pairwise(upcoming)] == [timedelta(days=1)] * (
        len(upcoming) - 1
    )
    state = api_state(pack_app)
    fired = await state.transact(
        lambda c: fire_next(c, now=upcoming[0] + timedelta(seconds=1), worker="test")
    )
    assert fired is not None
    run_id = fired[1][0].run_id
    state.committed([])
    assert await finished(acme, str(run_id)) == "succeeded"
    health = await settled(acme)
    assert (health["state"], health["as_of"]) == ("fresh", "2006-01-01")
    rows = await acme.read(lambda c: packs.list_packs(c, acme.id, limit=10))
    assert [r["run_id"] for r in rows] == [run_id]


async def test_another_tenant_sees_none_of_it(tenants: Register) -> None:
    acme, other = await tenants("acme"), await tenants("other")
    await acme.client.post(f"{P}/packs", json={"as_of": "2005-01-01"})
    health = await settled(acme)
    assert (await other.client.get(f"{P}/packs")).json() == {"items": [], "next_cursor": None}
    missing = await other.client.get(f"{P}/packs/{health['pack_id']}")
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "not_found")
    assert (await other.client.get(f"{P}/health/pack")).json()["state"] == "none"


def test_the_pack_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("BATONFLOW_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("BATONFLOW_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("BATONFLOW_APPS", "portfolio")
    runner = CliRunner()
    built = runner.invoke(
        pack_commands.group, ["build", "--as-of", "2005-01-01", "--wait", "--json"]
    )
    assert built.exit_code == 0, built.output
    row = json.loads(built.stdout)
    assert (row["state"], row["as_of"], row["sources"]) == ("fresh", "2005-01-01", ["offline"])
    listed = runner.invoke(pack_commands.group, ["list", "--json"])
    assert [(r["build_id"], r["state"]) for r in json.loads(listed.stdout)] == [
        (row["build_id"], "fresh")
    ]
    shown = runner.invoke(pack_commands.group, ["show", row["pack_id"]])
    assert shown.exit_code == 0, shown.output
    assert row["pack_id"] in shown.stdout
    assert "GOOG" in shown.stdout
    bad = runner.invoke(pack_commands.group, ["build", "--as-of", "2005-13-01"])
    assert bad.exit_code == 2
    assert "--as-of takes a date as YYYY-MM-DD, not '2005-13-01'" in bad.output
