"""Reviews through the HTTP API: the queue, a decision applied exactly once, edits, input
steps, and who may decide."""

from __future__ import annotations

import asyncio

from dirty_equals import IsStr

from tests.api.conftest import PASSWORD, Account, Signup, client_for
from tests.api.flows import LEAD, OUTREACH, settled, start, store

ASK = """
id: ask
version: "1"
steps:
  - id: details
    kind: input
    schema:
      type: object
      properties: {seats: {type: integer, minimum: 1}}
      required: [seats]
outputs:
  seats: "{{ state.details.seats }}"
"""


async def waiting_review(admin: Account) -> tuple[str, dict[str, object]]:
    await store(admin.client, OUTREACH)
    run = await start(admin.client, "outreach", LEAD)
    await settled(admin.client, run["id"], ("waiting",))
    queue = (await admin.client.get("/api/v1/reviews")).json()["items"]
    assert len(queue) == 1
    return run["id"], queue[0]


async def test_approving_resumes_the_run_and_a_second_decision_conflicts(signup: Signup) -> None:
    admin = await signup()
    run_id, review = await waiting_review(admin)
    assert review == {
        "id": IsStr(),
        "run_id": run_id,
        "step_key": "approve",
        "attempt": 1,
        "kind": "review",
        "status": "pending",
        "subject": {
            "to": "ada@example.com",
            "subject": "Analytical + Batonflow",
            "body": "Hello Ada,\n\nTeams like Analytical use Batonflow to run their agents "
            "reliably. We would like to offer you a guided pilot.\n\nBest regards,\n"
            "The Batonflow team",
        },
        "instructions": "Check the email before it goes out. Edit it if the tone is off.",
        "input_schema": None,
        "reviewers": ["reviewer", "admin"],
        "allow_edit": True,
        "decision": None,
        "data": None,
        "comment": None,
        "decided_by": None,
        "decided_at": None,
        "created_at": IsStr(),
    }
    assert (await admin.client.get(f"/api/v1/reviews/{review['id']}")).json() == review

    url = f"/api/v1/reviews/{review['id']}/decision"
    first, second = await asyncio.gather(
        admin.client.post(url, json={"decision": "approve", "comment": "fine"}),
        admin.client.post(url, json={"decision": "reject"}),
    )
    assert sorted([first.status_code, second.status_code]) == [200, 409]
    winner = first if first.status_code == 200 else second
    assert winner.json()["status"] in ("approved", "rejected")
    if winner.json()["status"] == "approved":
        done = await settled(admin.client, run_id, ("succeeded",))
        assert done["outputs"] == {"tier": "B", "score": 57, "message_id": f"{run_id}:send:1"}
    later = await admin.client.post(url, json={"decision": "approve"})
    assert later.status_code == 409
    assert later.json()["error"]["code"] == "conflict"
    assert (await admin.client.get("/api/v1/reviews")).json() == {"items": []}
    decided = (await admin.client.get("/api/v1/reviews", params={"status": "any"})).json()
    assert [item["id"] for item in decided["items"]] == [review["id"]]


async def test_an_edit_is_what_gets_sent(signup: Signup) -> None:
    admin = await signup()
    run_id, review = await waiting_review(admin)
    edited = {"to": "ada@example.com", "subject": "Hello from us", "body": "Short and kind."}
    response = await admin.client.post(
        f"/api/v1/reviews/{review['id']}/decision", json={"decision": "edit", "data": edited}
    )
    assert response.status_code == 200
    assert response.json()["status"] == "edited"
    assert response.json()["data"] == edited
    done = await settled(admin.client, run_id, ("succeeded",))
    steps = {step["key"]: step for step in done["steps"]}
    assert steps["approve"]["result"]["subject"] == edited
    assert steps["send"]["status"] == "succeeded"


async def test_input_steps_take_data_that_fits_their_schema(signup: Signup) -> None:
    admin = await signup()
    await store(admin.client, ASK)
    run = await start(admin.client, "ask")
    await settled(admin.client, run["id"], ("waiting",))
    (review,) = (await admin.client.get("/api/v1/reviews")).json()["items"]
    assert review["kind"] == "input"
    url = f"/api/v1/reviews/{review['id']}/decision"
    wrong_kind = await admin.client.post(url, json={"decision": "approve"})
    assert wrong_kind.status_code == 422
    bad = await admin.client.post(url, json={"decision": "submit", "data": {"seats": 0}})
    assert bad.status_code == 422
    assert bad.json()["error"] == {
        "code": "input_invalid",
        "message": "seats: 0 is less than the minimum of 1",
        "details": {"path": ["seats"]},
    }
    good = await admin.client.post(url, json={"decision": "submit", "data": {"seats": 12}})
    assert good.status_code == 200
    done = await settled(admin.client, run["id"], ("succeeded",))
    assert done["outputs"] == {"seats": 12}


async def test_only_the_named_roles_may_decide(signup: Signup, app: object) -> None:
    admin = await signup()
    run_id, review = await waiting_review(admin)
    invite = await admin.client.post(
        "/api/v1/invitations", json={"email": "olga@acme.example", "role": "operator"}
    )
    assert invite.status_code == 201, invite.text
    async with client_for(app) as anonymous:  # type: ignore[arg-type]
        joined = await anonymous.post(
            "/api/v1/auth/register",
            json={
                "invitation": invite.json()["token"],
                "email": "olga@acme.example",
                "password": PASSWORD,
                "name": "Olga",
            },
        )
    assert joined.status_code == 201, joined.text
    async with client_for(app, joined.json()["access_token"]) as operator:  # type: ignore[arg-type]
        refused = await operator.post(
            f"/api/v1/reviews/{review['id']}/decision", json={"decision": "approve"}
        )
        assert refused.status_code == 403
        assert refused.json()["error"]["details"] == {"scope": "reviews:decide"}
        assert (await operator.get(f"/api/v1/reviews/{review['id']}")).status_code == 200
    still = (await admin.client.get(f"/api/v1/runs/{run_id}")).json()
    assert still["status"] == "waiting"
