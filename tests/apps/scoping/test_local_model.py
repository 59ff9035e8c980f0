"""A stage on the real local model (SmolLM2-135M under a grammar), through the API on SQLite and
PostgreSQL: its question is asked and its analysis written at the first try, every reply within
its schema's bounds, so a session no longer fails on a small model running a string to the cap.
(`bench/scoping.py --whole-session` times a whole session.)"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI

from batonflow.api.app import create_app
from batonflow.apps.app import load_apps
from batonflow.apps.scoping.stages import stage as stage_of
from batonflow.settings import Settings
from tests.apps.scoping.conftest import Person, S, answer_stage, new_session, settled_stage

MINUTES = 240  # seconds a step of the small model may take on a busy 2-core machine


@pytest.fixture
async def scoping(
    api_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[FastAPI]:
    monkeypatch.setenv("BATONFLOW_SCOPING_MODEL", "local:smollm2")
    app = create_app(api_settings, apps=load_apps(["scoping"]))
    async with app.router.lifespan_context(app):
        yield app


async def test_a_stage_is_asked_and_analysed_on_the_local_model(people: Person) -> None:
    ada = await people("acme")
    session = await new_session(ada, "Automate supplier invoice entry")
    stage = await answer_stage(ada, session, 1, [])
    assert stage["status"] == "answering", stage["execution"]
    [question] = stage["questions"]
    assert question["text"].strip()
    assert len(question["choices"]) <= 4
    assert all(len(choice) <= 60 for choice in question["choices"])

    answered = await ada.post(
        f"{S}/{session}/stages/1/answer",
        json={
            "question_id": question["id"],
            "answer": "About 4,000 PDF invoices a month are keyed into the ERP by hand.",
        },
    )
    assert answered.status_code == 200, answered.text
    await settled_stage(ada, session, 1, timeout=MINUTES)
    assert (await ada.post(f"{S}/{session}/stages/1/done")).status_code == 200
    analysed = await settled_stage(ada, session, 1, timeout=MINUTES)
    assert analysed["status"] == "analysed", analysed["execution"]
    analysis = analysed["analysis"]
    assert analysis["model"] == "local:smollm2"
    assert 0 < len(analysis["summary"]) <= 400
    assert [c["item"] for c in analysis["coverage"]] == list(stage_of(1).checklist)

    # Every call fitted its schema at the first try: none was sent back or retried.
    runs = (await ada.get("/api/v1/runs")).json()["items"]
    calls = []
    for run in runs:
        calls += (await ada.get(f"/api/v1/runs/{run['id']}/llm-calls")).json()["items"]
    assert {(c["status"], c["model"]) for c in calls} == {("ok", "smollm2")}
    assert len(calls) == len(runs)
