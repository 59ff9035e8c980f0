"""Runs through the HTTP API: start (idempotently), pages and filters, detail, attempts, model
calls with exact cost, cancel, retry, override and the active-run quota."""

from __future__ import annotations

import asyncio

import pytest
from dirty_equals import IsFloat, IsStr

from batonflow.api.routes.runs import RunDetail, RunPage, RunSummary
from batonflow.settings import Settings
from batonflow_testkit.fakeserver import FakeProvider
from tests.api.conftest import Account, Signup, with_provider
from tests.api.flows import FAILING, PRICED, QUICK, settled, start, store


@pytest.fixture
def api_settings(api_settings: Settings, provider: FakeProvider) -> Settings:
    return with_provider(api_settings, provider, tenant_max_active_runs=3)


async def quick(admin: Account, text: str = "hi") -> dict[str, object]:
    await store(admin.client, QUICK)
    run = await start(admin.client, "quick", {"text": text})
    return await settled(admin.client, run["id"], ("succeeded",))


async def test_a_started_run_is_executed_and_read_back_whole(signup: Signup) -> None:
    admin = await signup()
    await store(admin.client, QUICK)
    created = await admin.client.post(
        "/api/v1/runs", json={"workflow_id": "quick", "inputs": {"text": "hello"}}
    )
    assert created.status_code == 201
    assert created.json()["status"] in ("queued", "running", "succeeded")
    run = await settled(admin.client, created.json()["id"], ("succeeded",))
    assert run == {
        "id": created.json()["id"],
        "label": "hello",
        "inputs_preview": {"text": "hello"},
        "workflow_id": "quick",
        "workflow_version": "1",
        "status": "succeeded",
        "created_by": admin.email,
        "parent_run_id": None,
        "created_at": IsStr(),
        "started_at": IsStr(),
        "finished_at": IsStr(),
        "duration_s": IsFloat(ge=0),
        "llm_calls": 0,
        "tokens": 0,
        "cost_usd": "0",
        "error": None,
        "content_hash": IsStr(regex="sha256:.*"),
        "private_to": None,
        "inputs": {"text": "hello"},
        "ctx": {"tenant": IsStr(), "started_by": admin.email},
        "outputs": {"echoed": "hello"},
        "steps": [
            {
                "key": "echo",
                "kind": "agent",
                "status": "succeeded",
                "attempt": 1,
                "parent_key": None,
                "item_index": None,
                "result": {"value": "hello", "slept_ms": 0},
                "error": None,
                "started_at": IsStr(),
                "finished_at": IsStr(),
                "overridden_by": None,
                "override_reason": None,
            }
        ],
        "reviews": [],
    }
    attempts = await admin.client.get(f"/api/v1/runs/{run['id']}/attempts")
    assert attempts.json() == {
        "items": [
            {
                "step_key": "echo",
                "attempt": 1,
                "dispatch": 1,
                "status": "succeeded",
                "worker": "api-test",
                "idempotency_key": f"{run['id']}:echo:1",
                "started_at": IsStr(),
                "finished_at": IsStr(),
                "duration_ms": IsFloat(ge=0),
                "error": None,
                "args": {"value": "hello"},
            }
        ]
    }


async def test_bad_inputs_and_unknown_workflows_are_refused(signup: Signup) -> None:
    admin = await signup()
    await store(admin.client, QUICK)
    wrong = await admin.client.post(
        "/api/v1/runs", json={"workflow_id": "quick", "inputs": {"text": 3}}
    )
    assert wrong.status_code == 422
    assert wrong.json()["error"] == {
        "code": "input_invalid",
        "message": "workflow 'quick' rejects these inputs: inputs.text: 3 is not of type 'string'",
        "details": {"issues": ["inputs.text: 3 is not of type 'string'"]},
    }
    missing = await admin.client.post("/api/v1/runs", json={"workflow_id": "ghost"})
    assert missing.status_code == 404
    listing = await admin.client.get("/api/v1/runs")
    assert listing.json() == {"items": [], "next_cursor": None}


async def test_the_same_idempotency_key_returns_the_same_run(signup: Signup) -> None:
    admin = await signup()
    await store(admin.client, QUICK)
    body = {"workflow_id": "quick", "inputs": {"text": "once"}}
    headers = {"Idempotency-Key": "order-42"}
    first, second = await asyncio.gather(
        admin.client.post("/api/v1/runs", json=body, headers=headers),
        admin.client.post("/api/v1/runs", json=body, headers=headers),
    )
    assert sorted([first.status_code, second.status_code]) == [200, 201]
    assert first.json()["id"] == second.json()["id"]
    third = await admin.client.post("/api/v1/runs", json=body, headers=headers)
    assert third.status_code == 200
    assert third.json()["id"] == first.json()["id"]
    other = await admin.client.post(
        "/api/v1/runs", json={**body, "inputs": {"text": "twice"}}, headers=headers
    )
    assert other.status_code == 409
    assert other.json()["error"]["details"] == {"run_id": first.json()["id"]}
    page = (await admin.client.get("/api/v1/runs")).json()
    assert [item["id"] for item in page["items"]] == [first.json()["id"]]


async def test_pages_follow_the_cursor_and_filters_apply(signup: Signup) -> None:
    admin = await signup()
    await store(admin.client, QUICK)
    await store(admin.client, FAILING)
    ids = []
    for index in range(5):
        run = await start(admin.client, "quick", {"text": f"t{index}"})
        await settled(admin.client, run["id"], ("succeeded",))
        ids.append(run["id"])
    failed = await start(admin.client, "failing")
    await settled(admin.client, failed["id"], ("dead", "failed"))

    seen = []
    cursor = None
    while True:
        params = {"limit": 2, "workflow_id": "quick"} | ({"cursor": cursor} if cursor else {})
        page = (await admin.client.get("/api/v1/runs", params=params)).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))

    dead = (await admin.client.get("/api/v1/runs", params={"status": ["dead", "failed"]})).json()
    assert [item["id"] for item in dead["items"]] == [failed["id"]]
    assert dead["items"][0]["error"] == {
        "step": "boom",
        "code": "step_failed",
        "message": "the ledger is locked",
        "details": {},
    }
    future = (
        await admin.client.get("/api/v1/runs", params={"created_after": "2999-01-01T00:00:00Z"})
    ).json()
    assert future == {"items": [], "next_cursor": None}
    naive = await admin.client.get("/api/v1/runs", params={"created_after": "2026-01-01T00:00:00"})
    assert naive.status_code == 422
    bad = await admin.client.get("/api/v1/runs", params={"cursor": "not-a-cursor"})
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "input_invalid"
    huge = await admin.client.get("/api/v1/runs", params={"limit": 5000})
    assert huge.status_code == 422
    assert huge.json()["error"]["message"] == "limit is at most 200 on this server; got 5000"


async def test_runs_are_told_apart_by_label_and_found_by_short_id_and_search(
    signup: Signup,
) -> None:
    admin = await signup()
    await store(admin.client, QUICK)
    await store(admin.client, FAILING)
    acme = await start(admin.client, "quick", {"text": "Acme Corp   renewal\nQ3"})
    muller = await start(admin.client, "quick", {"text": "Müller 50%_off"})
    failing = await start(admin.client, "failing")
    for run, statuses in ((acme, ("succeeded",)), (muller, ("succeeded",))):
        await settled(admin.client, run["id"], statuses)
    await settled(admin.client, failing["id"], ("dead", "failed"))

    async def found(**params: object) -> list[tuple[str, str]]:
        response = await admin.client.get("/api/v1/runs", params=params)
        assert response.status_code == 200, response.text
        return [(item["id"], item["label"]) for item in response.json()["items"]]

    assert await found() == [
        (failing["id"], ""),
        (muller["id"], "Müller 50%_off"),
        (acme["id"], "Acme Corp renewal Q3"),
    ]
    page = (await admin.client.get("/api/v1/runs", params={"workflow_id": "quick"})).json()
    assert [item["inputs_preview"] for item in page["items"]] == [
        {"text": "Müller 50%_off"},
        {"text": "Acme Corp renewal Q3"},
    ]
    # A short id is what the CLI accepts: the id's last (or first) characters.
    assert await found(id=acme["id"][-8:]) == [(acme["id"], "Acme Corp renewal Q3")]
    assert await found(id=acme["id"][-8:].upper()) == [(acme["id"], "Acme Corp renewal Q3")]
    assert await found(id=acme["id"]) == [(acme["id"], "Acme Corp renewal Q3")]
    assert await found(id="ffffffffff") == []
    # Search reads the id's ends, the workflow id and the inputs, case aside.
    assert await found(q="acme CORP") == [(acme["id"], "Acme Corp renewal Q3")]
    assert await found(q="müller") == [(muller["id"], "Müller 50%_off")]
    assert await found(q="50%_") == [(muller["id"], "Müller 50%_off")]
    assert await found(q="%") == [(muller["id"], "Müller 50%_off")]
    assert await found(q="FAIL") == [(failing["id"], "")]
    assert await found(q=failing["id"][-12:]) == [(failing["id"], "")]
    assert await found(q="  ") == await found()
    assert await found(q="acme", status="failed") == []
    assert await found(q="o", workflow_id="quick", limit=1) == [(muller["id"], "Müller 50%_off")]

    for bad in ("abc", "zz-not-hex", "01a2%"):
        refused = await admin.client.get("/api/v1/runs", params={"id": bad})
        assert refused.status_code == 422
        assert refused.json()["error"]["message"] == (
            "id is a run id or at least 6 of its first or last characters (hex digits and '-'); "
            f"got {bad!r}"
        )
    nul = await admin.client.get("/api/v1/runs", params={"q": "a\x00b"})
    assert (nul.status_code, nul.json()["error"]["message"]) == (
        422,
        "q cannot hold a NUL character",
    )
    bad_workflow = await admin.client.get("/api/v1/runs", params={"workflow_id": "Quick Flow"})
    assert bad_workflow.status_code == 422
    assert bad_workflow.json()["error"]["message"] == (
        "workflow_id is a workflow's id: lowercase letters, digits, '_', '.' and '-'; "
        "got 'Quick Flow'"
    )
    bad_status = await admin.client.get("/api/v1/runs", params={"status": "done"})
    assert bad_status.status_code == 422
    assert bad_status.json()["error"]["details"] == {
        "issues": [
            "query.status.0: Input should be 'queued', 'running', 'waiting', 'succeeded', "
            "'failed', 'dead' or 'cancelled'"
        ]
    }
    # Another tenant finds none of them, by id or by text.
    other = await signup("globex")
    assert (await other.client.get("/api/v1/runs", params={"id": acme["id"][-8:]})).json() == {
        "items": [],
        "next_cursor": None,
    }
    assert (await other.client.get("/api/v1/runs", params={"q": "acme"})).json()["items"] == []


async def test_a_dead_run_is_dismissed_from_the_dead_letter_list(signup: Signup) -> None:
    admin = await signup()
    await store(admin.client, FAILING)
    run = await start(admin.client, "failing")
    dead = await settled(admin.client, run["id"], ("dead",))

    dismissed = await admin.client.post(
        f"/api/v1/runs/{run['id']}/dismiss", json={"reason": "the supplier is gone"}
    )
    assert dismissed.status_code == 200
    body = dismissed.json()
    assert (body["status"], body["error"]) == ("cancelled", dead["error"])
    assert body["steps"] == dead["steps"]
    listed = await admin.client.get("/api/v1/runs", params={"status": "dead"})
    assert listed.json()["items"] == []
    history = await admin.client.get(f"/api/v1/runs/{run['id']}/events/history")
    last = history.json()["items"][-1]
    assert (last["type"], last["data"]) == (
        "run.cancelled",
        {"by": admin.email, "reason": "dismissed: the supplier is gone"},
    )

    audited = await admin.client.get("/api/v1/audit", params={"action": "run.dismiss"})
    assert [
        (e["actor"], e["target_kind"], e["target_id"], e["details"])
        for e in audited.json()["items"]
    ] == [
        (
            admin.email,
            "run",
            run["id"],
            {"workflow_id": "failing", "reason": "the supplier is gone"},
        )
    ]

    again = await admin.client.post(f"/api/v1/runs/{run['id']}/dismiss", json={})
    assert again.status_code == 409
    assert again.json()["error"]["message"] == (
        f"run {run['id']} is cancelled; only dead runs can be dismissed "
        "(cancel a queued, running or waiting run instead)"
    )


async def test_a_dead_run_is_retried_and_a_step_overridden(signup: Signup) -> None:
    admin = await signup()
    await store(admin.client, FAILING)
    run = await start(admin.client, "failing")
    await settled(admin.client, run["id"], ("dead", "failed"))

    retried = await admin.client.post(f"/api/v1/runs/{run['id']}/retry")
    assert retried.status_code == 200
    again = await settled(admin.client, run["id"], ("dead", "failed"))
    assert again["steps"][0]["attempt"] == 2

    overridden = await admin.client.post(
        f"/api/v1/runs/{run['id']}/steps/boom/override",
        json={"output": {"unlocked": True}, "reason": "unlocked by hand"},
    )
    assert overridden.status_code == 200
    done = await settled(admin.client, run["id"], ("succeeded",))
    assert done["steps"][0] | {"started_at": None, "finished_at": None} == {
        "key": "boom",
        "kind": "agent",
        "status": "succeeded",
        "attempt": 2,
        "parent_key": None,
        "item_index": None,
        "result": {"unlocked": True},
        "error": None,
        "started_at": None,
        "finished_at": None,
        "overridden_by": admin.email,
        "override_reason": "unlocked by hand",
    }
    twice = await admin.client.post(f"/api/v1/runs/{run['id']}/retry")
    assert twice.status_code == 409
    assert twice.json()["error"]["code"] == "conflict"
    no_reason = await admin.client.post(
        f"/api/v1/runs/{run['id']}/steps/boom/override", json={"output": 1, "reason": ""}
    )
    assert no_reason.status_code == 422


async def test_cancel_a_waiting_run_and_account_its_model_calls(
    signup: Signup, provider: FakeProvider
) -> None:
    admin = await signup()
    await store(admin.client, PRICED)
    run = await start(admin.client, "priced", {"company": "Analytical"})
    waiting = await settled(admin.client, run["id"], ("waiting",))
    assert waiting["llm_calls"] == 1
    assert waiting["tokens"] == 15
    assert waiting["cost_usd"] == "0.000012"  # 10 in at $0.40/M + 5 out at $1.60/M
    (listed,) = (await admin.client.get("/api/v1/runs")).json()["items"]
    assert (listed["llm_calls"], listed["tokens"], listed["cost_usd"]) == (1, 15, "0.000012")
    calls = (await admin.client.get(f"/api/v1/runs/{run['id']}/llm-calls")).json()
    assert calls["tokens"] == 15
    assert calls["cost_usd"] == "0.000012"
    assert [(c["provider"], c["model"], c["status"], c["step_key"]) for c in calls["items"]] == [
        ("openai", "gpt-4.1-mini", "ok", "pitch")
    ]

    cancelled = await admin.client.post(
        f"/api/v1/runs/{run['id']}/cancel", json={"reason": "duplicate lead"}
    )
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["reviews"] == []
    again = await admin.client.post(f"/api/v1/runs/{run['id']}/cancel", json={})
    assert again.status_code == 409


async def test_a_tenant_cannot_pass_its_active_run_quota(signup: Signup) -> None:
    admin = await signup()
    await store(admin.client, PRICED)
    for _ in range(3):
        await start(admin.client, "priced", {"company": "Analytical"})
    refused = await admin.client.post(
        "/api/v1/runs", json={"workflow_id": "priced", "inputs": {"company": "One more"}}
    )
    assert refused.status_code == 429
    assert refused.json()["error"] == {
        "code": "quota_exceeded",
        "message": "this tenant already has 3 queued, running or waiting runs (the limit is 3); "
        "wait for some to finish or cancel them",
        "details": {"active_runs": 3, "limit": 3},
    }
    other = await signup("globex")
    await quick(other)


async def test_run_reads_write_exactly_what_their_models_would(signup: Signup) -> None:
    # get-run and list-runs render plain values (api/json_guard.py::Body); each body must be what its
    # documented model writes for the same values: same fields, Z times, decimal strings.
    admin = await signup()
    await store(admin.client, PRICED)
    run = await start(admin.client, "priced", {"company": "Analytical"})
    await settled(admin.client, run["id"], ("waiting",))
    detail = await admin.client.get(f"/api/v1/runs/{run['id']}")
    assert detail.headers["content-type"] == "application/json"
    body = detail.json()
    assert (body["cost_usd"], len(body["reviews"]), body["created_at"][-1]) == ("0.000012", 1, "Z")
    assert body == RunDetail.model_validate_json(detail.content).model_dump(mode="json")
    assert list(body) == list(RunDetail.model_fields)
    page = await admin.client.get("/api/v1/runs", params={"limit": 1})
    assert page.json() == RunPage.model_validate_json(page.content).model_dump(mode="json")
    assert list(page.json()["items"][0]) == list(RunSummary.model_fields)
