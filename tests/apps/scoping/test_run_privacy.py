"""A session's runs are as private as the session, on SQLite and PostgreSQL: each stage
execution (and each attached document's indexing) is a run private to the session's owner, so
another member of the tenant finds none of them through the generic run API, while the owner
and the tenant's admins do; people the session is shared with follow it through the scoping
API."""

from __future__ import annotations

import httpx

from tests.api.flows import streamed_runs
from tests.apps.scoping.conftest import Person, S, answer_stage, new_session, settled_stage, team
from tests.apps.scoping.test_documents import attach, indexed

EMPTY = {"items": [], "next_cursor": None}


async def run_ids(client: httpx.AsyncClient) -> list[tuple[str, str]]:
    """(workflow id, run id) of the runs the client lists, newest first."""
    listed = await client.get("/api/v1/runs")
    assert listed.status_code == 200, listed.text
    return [(r["workflow_id"], r["id"]) for r in listed.json()["items"]]


async def test_a_sessions_runs_are_the_owners_and_the_admins_alone(people: Person) -> None:
    admin, ada, bob, viewer, cy = await team(people)
    session = await new_session(ada)
    stage = await answer_stage(ada, session, 1, [])
    shared = await ada.post(
        f"{S}/{session}/shares", json={"email": "cy@acme.example", "access": "edit"}
    )
    assert shared.status_code == 201, shared.text
    # The editor's answer starts the next question's run: the owner's all the same.
    answered = await cy.post(
        f"{S}/{session}/stages/1/answer",
        json={"question_id": stage["pending_question_id"], "answer": "medium"},
    )
    assert answered.status_code == 200, answered.text
    await settled_stage(cy, session, 1)
    assert (await attach(ada, session)).status_code == 202
    await indexed(ada, session)

    runs = await run_ids(ada)
    assert [workflow for workflow, _ in runs] == [
        "kb-ingest",
        "scoping-question",
        "scoping-question",
    ]
    ids = [run_id for _, run_id in runs]
    ada_id = (await ada.get("/api/v1/me")).json()["user"]["id"]
    for _, run_id in runs:
        run = (await admin.get(f"/api/v1/runs/{run_id}")).json()
        assert run["private_to"] == ada_id
    for _, run_id in runs[1:]:
        run = (await ada.get(f"/api/v1/runs/{run_id}")).json()
        assert (run["ctx"]["scoping_session"], run["status"]) == (session, "succeeded")
    assert await run_ids(admin) == runs
    assert await streamed_runs(ada) == set(ids)
    assert await streamed_runs(admin) == set(ids)

    for other in (bob, viewer, cy):
        assert (await other.get("/api/v1/runs")).json() == EMPTY
        assert (await other.get("/api/v1/dead-letters")).json() == {"items": []}
        assert await streamed_runs(other) == set()
        for run_id in ids:
            for path in ("", "/attempts", "/llm-calls", "/events/history", "/events?follow=false"):
                response = await other.get(f"/api/v1/runs/{run_id}{path}")
                assert response.status_code == 404, (path, response.text)
                assert response.json() == {
                    "error": {"code": "not_found", "message": f"no run '{run_id}'", "details": {}}
                }
    for other in (bob, cy):  # operators: they may write, but find nothing to act on
        for run_id in ids:
            for action, body in (("cancel", {"reason": "mine now"}), ("retry", None)):
                response = await other.post(f"/api/v1/runs/{run_id}/{action}", json=body)
                assert response.status_code == 404, (action, response.text)
                assert response.json()["error"]["message"] == f"no run '{run_id}'"

    # The session itself reads as before: its owner, the editor it is shared with, the admin.
    for reader, access in ((ada, "owner"), (cy, "edit"), (admin, "read")):
        seen = await reader.get(f"{S}/{session}")
        assert seen.status_code == 200, seen.text
        assert (seen.json()["access"], seen.json()["stages"][0]["status"]) == (access, "answering")
        progress = await reader.get(f"{S}/{session}/events", params={"follow": "false"})
        assert progress.status_code == 200, progress.text
    assert (await bob.get(f"{S}/{session}")).status_code == 404
