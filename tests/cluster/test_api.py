"""The API with `BATONFLOW_EXECUTOR=celery`: it runs nothing itself; it announces the runs and
steps its requests make ready on the broker, a Celery worker process executes them, and a
cancel reaches the attempt on that worker at once. A signed webhook delivery starts one run that
the workers execute; the same delivery again, at once or later, starts none."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from batonflow.api.app import create_app
from batonflow.settings import Settings
from batonflow.store.db import reading
from batonflow.store.tables import Attempt, Step
from tests.api import flows
from tests.api.conftest import PASSWORD, client_for, core_apps
from tests.api.test_hooks import signed
from tests.cluster.conftest import Queues, Workers, worker_id

pytestmark = pytest.mark.slow

TWO_STEPS = """
id: greet
version: 1
inputs:
  name: {type: string}
steps:
  - {id: hello, kind: agent, capability: demo.sleep, args: {value: "hello {{ inputs.name }}"}}
  - {id: shout, kind: agent, capability: demo.sleep, needs: [hello],
     args: {value: "{{ state.hello.value | upper }}"}}
outputs: {said: "{{ state.shout.value }}"}
"""
LONG = """
id: long
version: 1
steps:
  - {id: nap, kind: agent, capability: demo.sleep, args: {ms: 60000}}
"""


@pytest.fixture
async def api(
    store: tuple[str, AsyncEngine], tmp_path: Path, queues: Queues
) -> AsyncIterator[tuple[FastAPI, str]]:
    queue = queues("batonflow")
    settings = Settings(
        dev=True,
        data_dir=tmp_path,
        database_url=store[0],
        poll_seconds=0.05,
        worker_id="api-test",
        executor="celery",
        broker_url=queues.url,
        default_queue=queue,
        argon2_time_cost=1,
        argon2_memory_kib=1024,
    )
    app = create_app(settings, apps=core_apps())
    async with app.router.lifespan_context(app):
        yield app, queue


async def _admin(app: FastAPI) -> str:
    async with client_for(app) as anonymous:
        response = await anonymous.post(
            "/api/v1/auth/register",
            json={"tenant": "acme", "email": "a@acme.example", "password": PASSWORD, "name": "A"},
        )
    assert response.status_code == 201, response.text
    token: str = response.json()["access_token"]
    return token


async def test_a_run_started_through_the_api_is_executed_by_a_celery_worker(
    api: tuple[FastAPI, str], store: tuple[str, AsyncEngine], workers: Workers, queues: Queues
) -> None:
    app, queue = api
    workers.celery(queues, [queue], default_queue=queue)
    async with client_for(app, await _admin(app)) as admin:
        await flows.store(admin, TWO_STEPS)
        run = await flows.start(admin, "greet", {"name": "ada"})
        done = await flows.settled(admin, run["id"], ("succeeded", "failed", "dead"), timeout=60)
    assert (done["status"], done["outputs"]) == ("succeeded", {"said": "HELLO ADA"})
    async with reading(store[1]) as conn:
        query = select(Step.key, Step.queue, Step.published_at).where(Step.run_id == run["id"])
        rows = await conn.execute(query)
        # `shout` was claimed by the worker in the commit of `hello`: it records its queue, but
        # no wake-up was sent for it.
        assert sorted((row.key, row.queue, row.published_at is None) for row in rows) == [
            ("hello", queue, False),
            ("shout", queue, True),
        ]


async def test_cancelling_through_the_api_stops_the_attempt_on_the_worker_at_once(
    api: tuple[FastAPI, str], store: tuple[str, AsyncEngine], workers: Workers, queues: Queues
) -> None:
    app, queue = api
    # Heartbeats a minute apart: only the API's broadcast can stop the attempt this soon.
    workers.celery(
        queues, [queue], default_queue=queue, heartbeat_seconds="60", lease_seconds="120"
    )
    async with client_for(app, await _admin(app)) as admin:
        await flows.store(admin, LONG)
        run = await flows.start(admin, "long")
        await flows.settled(admin, run["id"], ("running",), timeout=60)
        for _ in range(600):
            body = (await admin.get(f"/api/v1/runs/{run['id']}")).json()
            if body["steps"][0]["status"] == "running":
                break
            await asyncio.sleep(0.05)
        cancelled = await admin.post(f"/api/v1/runs/{run['id']}/cancel", json={"reason": "stop"})
        assert cancelled.json()["status"] == "cancelled"
    gone = f"lease on step nap of run {run['id']} is gone; stopping the attempt"
    for _ in range(200):
        if gone in workers.output():
            break
        await asyncio.sleep(0.05)
    assert gone in workers.output()


async def test_a_signed_webhook_starts_one_run_on_the_workers_and_a_replay_none(
    api: tuple[FastAPI, str], store: tuple[str, AsyncEngine], workers: Workers, queues: Queues
) -> None:
    app, queue = api
    procs = [workers.celery(queues, [queue], default_queue=queue) for _ in range(2)]
    async with client_for(app, await _admin(app)) as admin:
        await flows.store(admin, TWO_STEPS)
        created = await admin.post("/api/v1/hooks", json={"name": "crm", "workflow_id": "greet"})
        assert created.status_code == 201, created.text
        hook = created.json()
        delivery: dict[str, Any] = signed(hook["secret"], {"name": "ada"}, "crm-42")
        async with client_for(app) as sender:  # no login: the signature is the credential
            at_once = await asyncio.gather(
                *(sender.post(hook["path"], **delivery) for _ in range(3))
            )
            run_id = at_once[0].json()["run_id"]
            done = await flows.settled(admin, run_id, ("succeeded", "failed", "dead"), timeout=90)
            later = await sender.post(hook["path"], **delivery)
        runs = (await admin.get("/api/v1/runs")).json()["items"]
    answer = {"run_id": run_id, "delivery_id": "crm-42"}
    assert [(r.status_code, r.json()) for r in [*at_once, later]] == [(202, answer)] * 4
    assert (done["status"], done["outputs"], done["created_by"]) == (
        "succeeded",
        {"said": "HELLO ADA"},
        "hook:crm",
    )
    assert [r["id"] for r in runs] == [run_id]
    async with reading(store[1]) as conn:
        rows = (
            await conn.execute(
                select(Attempt.step_key, Attempt.status, Attempt.worker).where(
                    Attempt.run_id == run_id
                )
            )
        ).all()
        attempts = sorted((row.step_key, row.status) for row in rows)
        ran_on = {row.worker for row in rows}
    assert attempts == [("hello", "succeeded"), ("shout", "succeeded")]
    assert ran_on <= {worker_id(proc) for proc in procs}
