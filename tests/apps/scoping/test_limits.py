"""The limits on stage executions: one running at a time per user, so many an hour per user
and across the installation, a tenant's own figures, and two API processes sharing Redis."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from batonflow.api.app import create_app
from batonflow.settings import Settings
from tests.apps.scoping.conftest import (
    Person,
    S,
    answer_stage,
    new_session,
    scoping_apps,
    settled_stage,
)
from tests.apps.scoping.model import Scoping

REDIS_URL = os.environ.get("BATONFLOW_TEST_REDIS", "redis://127.0.0.1:6379/0")


def refusal(response: httpx.Response) -> tuple[int, str, str]:
    assert response.status_code == 429, response.text
    return (
        int(response.headers["Retry-After"]),
        response.json()["error"]["details"]["limit"],
        response.json()["error"]["message"],
    )


async def test_one_stage_executes_at_a_time_per_user(people: Person, script: Scoping) -> None:
    ada = await people("acme")
    first, second = await new_session(ada, "one"), await new_session(ada, "two")
    script.delay = 2.0  # the first question takes a while
    assert (await ada.post(f"{S}/{first}/stages/1/open")).status_code == 200

    refused = await ada.post(f"{S}/{second}/stages/1/open")
    retry, limit, message = refusal(refused)
    assert (retry, limit) == (5, "scoping_user_running")
    assert message == (
        "rate limited by the per-user limit on running stage executions (1 at a time); wait "
        "for your running stage to finish, retry after 5 s"
    )
    # Another user of the tenant is not held up.
    admin_view = await people("other")
    other = await new_session(admin_view)
    assert (await admin_view.post(f"{S}/{other}/stages/1/open")).status_code == 200


async def test_hourly_limits_per_user_and_per_tenant(people: Person) -> None:
    admin = await people("acme")
    viewer = await people(admin=admin, email="vi@acme.example", role="viewer")
    assert (await viewer.put("/api/v1/scoping/limits", json={})).status_code == 403
    set_ = await admin.put("/api/v1/scoping/limits", json={"user_concurrent": 1, "user_hourly": 2})
    assert set_.json() == {
        "user_concurrent": 1,
        "user_hourly": 2,
        "tenant_hourly": None,
        "installation_hourly": 10_000,
        "custom": True,
    }
    session = await new_session(admin)
    stage = await answer_stage(admin, session, 1, ["medium"])  # two executions: two questions
    refused = await admin.post(
        f"{S}/{session}/stages/1/answer",
        json={"question_id": stage["pending_question_id"], "answer": "later"},
    )
    retry, limit, message = refusal(refused)
    assert limit == "scoping_user_hourly"
    assert 1 <= retry <= 3600
    assert message == (
        "your answer was saved, but the stage's next step was not started: rate limited by the "
        f"per-user limit on stage executions (2 per 1 hour); retry after {retry} s; then resume "
        "the stage"
    )
    # The answer was kept all the same.
    kept = (await admin.get(f"{S}/{session}/stages/1")).json()
    assert ([q["answer"] for q in kept["questions"]], kept["status"]) == (
        ["medium", "later"],
        "waiting",
    )

    reset = await admin.delete("/api/v1/scoping/limits")
    assert (reset.json()["user_hourly"], reset.json()["custom"]) == (100, False)


async def test_a_tenant_sets_its_own_running_limit_and_a_tenant_wide_hourly_cap(
    people: Person, script: Scoping
) -> None:
    admin = await people("acme")
    ada = await people(admin=admin, email="ada@acme.example")
    set_ = await admin.put(
        "/api/v1/scoping/limits",
        json={"user_concurrent": 2, "user_hourly": 100, "tenant_hourly": 3},
    )
    assert set_.json() == {
        "user_concurrent": 2,
        "user_hourly": 100,
        "tenant_hourly": 3,
        "installation_hourly": 10_000,
        "custom": True,
    }
    assert (await ada.get("/api/v1/scoping/limits")).json() == set_.json()
    one, two, three = [await new_session(ada, title) for title in ("one", "two", "three")]

    # Two of a user's stages run at once in this tenant; a third waits.
    script.delay = 3.0
    assert (await ada.post(f"{S}/{one}/stages/1/open")).status_code == 200
    assert (await ada.post(f"{S}/{two}/stages/1/open")).status_code == 200
    retry, limit, message = refusal(await ada.post(f"{S}/{three}/stages/1/open"))
    assert (retry, limit) == (5, "scoping_user_running")
    assert "(2 at a time)" in message
    script.delay = 0.0
    await settled_stage(ada, one, 1)
    await settled_stage(ada, two, 1)

    # The tenant's cap counts every user's executions: the admin's is the third of the hour.
    mine = await new_session(admin)
    assert (await admin.post(f"{S}/{mine}/stages/1/open")).status_code == 200
    await settled_stage(admin, mine, 1)
    retry, limit, message = refusal(await ada.post(f"{S}/{three}/stages/1/open"))
    assert (limit, 1 <= retry <= 3600) == ("scoping_tenant_hourly", True)
    assert message == (
        "rate limited by the tenant's limit on stage executions (3 per 1 hour); "
        f"retry after {retry} s"
    )
    # Another tenant is not held by it.
    rival = await people("rival")
    theirs = await new_session(rival)
    assert (await rival.post(f"{S}/{theirs}/stages/1/open")).status_code == 200


async def test_the_installation_wide_hourly_limit(
    scoping_settings: Settings, monkeypatch: pytest.MonkeyPatch, people: Person
) -> None:
    app = create_app(scoping_settings, apps=scoping_apps(monkeypatch, installation_hourly="2"))
    async with app.router.lifespan_context(app):
        one = await people("one", app=app)
        two = await people("two", app=app)
        await answer_stage(one, await new_session(one), 1, [])
        await answer_stage(two, await new_session(two), 1, [])
        third = await new_session(two)
        _, limit, message = refusal(await two.post(f"{S}/{third}/stages/1/open"))
    assert limit == "scoping_installation_hourly"
    assert "the installation-wide limit on stage executions (2 per 1 hour)" in message


@pytest.fixture
async def replicas(
    scoping_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[FastAPI, FastAPI]]:
    """Two API processes on one database and one Redis, as two replicas would run."""
    settings = scoping_settings.model_copy(update={"redis_url": REDIS_URL})
    first = create_app(settings, apps=scoping_apps(monkeypatch))
    second = create_app(settings, executor=False, apps=scoping_apps(monkeypatch))
    async with first.router.lifespan_context(first), second.router.lifespan_context(second):
        yield first, second


async def test_two_api_processes_sharing_redis_share_the_limits(
    replicas: tuple[FastAPI, FastAPI], people: Person, script: Scoping
) -> None:
    first, second = replicas
    admin = await people("acme", app=first)
    limited = await admin.put(
        "/api/v1/scoping/limits", json={"user_concurrent": 1, "user_hourly": 3}
    )
    assert limited.status_code == 200
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=second),
        base_url="http://batonflow.test",
        headers={"Authorization": admin.headers["Authorization"]},
    ) as elsewhere:
        session = await new_session(admin)
        stage = await answer_stage(admin, session, 1, ["medium"])  # two executions, first process
        script.delay = 1.5  # the third, started through the second process, takes a while
        answered = await elsewhere.post(
            f"{S}/{session}/stages/1/answer",
            json={"question_id": stage["pending_question_id"], "answer": "small"},
        )
        assert answered.status_code == 200, answered.text
        # Its run holds the user's one slot, whichever process asks.
        other = await new_session(admin)
        assert refusal(await admin.post(f"{S}/{other}/stages/1/open"))[1] == "scoping_user_running"
        await settled_stage(admin, session, 1)
        # Three started in this hour, counted in Redis across both processes.
        retry, limit, _ = refusal(await elsewhere.post(f"{S}/{other}/stages/1/open"))
        assert (limit, 1 <= retry <= 3600) == ("scoping_user_hourly", True)
        retry, limit, _ = refusal(await admin.post(f"{S}/{other}/stages/1/open"))
        assert limit == "scoping_user_hourly"
