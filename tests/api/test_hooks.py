"""Webhook hooks through the API, on both databases: a signed delivery starts one run, a replay
starts none, and a wrong signature cannot tell a hook that exists from one that does not."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from typing import Any

import httpx
import pytest
from dirty_equals import IsStr
from fastapi import FastAPI

from tests.api.conftest import Signup, client_for
from tests.api.flows import QUICK, settled, store


def signed(secret: str, payload: Any, delivery: str | None) -> dict[str, Any]:
    """A delivery as a sender writes it (the docs' Python example)."""
    body = json.dumps(payload).encode()
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/json", "X-Batonflow-Signature": signature}
    if delivery is not None:
        headers["X-Batonflow-Delivery"] = delivery
    return {"content": body, "headers": headers}


async def make_hook(client: httpx.AsyncClient) -> dict[str, Any]:
    await store(client, QUICK, "quick.yaml")
    created = await client.post("/api/v1/hooks", json={"name": "crm", "workflow_id": "quick"})
    assert created.status_code == 201, created.text
    return created.json()


async def test_a_signed_delivery_starts_one_run_and_a_replay_none(
    app: FastAPI, signup: Signup
) -> None:
    admin = (await signup("acme")).client
    hook = await make_hook(admin)
    assert hook == {
        "id": IsStr(regex=r"hk_[A-Za-z0-9_-]{32}"),
        "path": f"/api/v1/hooks/{hook['id']}",
        "name": "crm",
        "workflow_id": "quick",
        "version": None,
        "created_by": "admin@acme.example",
        "created_at": IsStr(),
        "rotated_at": IsStr(),
        "secret": IsStr(regex=r"whsec_[A-Za-z0-9_-]{43}"),
        "signature_header": "X-Batonflow-Signature",
        "delivery_header": "X-Batonflow-Delivery",
    }
    listed = (await admin.get("/api/v1/hooks")).json()["items"]
    assert [sorted(item) for item in listed] == [
        ["created_at", "created_by", "id", "name", "path", "rotated_at", "version", "workflow_id"]
    ]
    async with client_for(app) as sender:  # no login
        first = await sender.post(hook["path"], **signed(hook["secret"], {"text": "hi"}, "d-1"))
        again = await sender.post(hook["path"], **signed(hook["secret"], {"text": "hi"}, "d-1"))
        other = await sender.post(hook["path"], **signed(hook["secret"], {"text": "yo"}, "d-1"))
    assert first.status_code == 202, first.text
    assert (again.status_code, again.json()) == (202, first.json())
    assert first.json() == {"run_id": IsStr(), "delivery_id": "d-1"}
    assert other.status_code == 409
    assert other.json()["error"]["details"] == {"run_id": first.json()["run_id"]}
    run = await settled(admin, first.json()["run_id"], ("succeeded",))
    assert (run["outputs"], run["created_by"]) == ({"echoed": "hi"}, "hook:crm")
    runs = (await admin.get("/api/v1/runs")).json()["items"]
    assert [r["id"] for r in runs] == [first.json()["run_id"]]


async def test_a_wrong_signature_and_an_unknown_hook_get_the_same_401(
    app: FastAPI, signup: Signup
) -> None:
    admin = (await signup("acme")).client
    hook = await make_hook(admin)
    unknown = "/api/v1/hooks/hk_" + "A" * 32
    async with client_for(app) as sender:
        forged = await sender.post(hook["path"], **signed("whsec_guess", {"text": "x"}, "d"))
        unsigned = await sender.post(hook["path"], json={"text": "x"})
        nowhere = await sender.post(unknown, **signed(hook["secret"], {"text": "x"}, "d"))
    answers = {(r.status_code, r.text) for r in (forged, unsigned, nowhere)}
    assert len(answers) == 1
    assert forged.status_code == 401
    assert forged.json()["error"]["code"] == "unauthenticated"
    assert (await admin.get("/api/v1/runs")).json()["items"] == []


@pytest.mark.parametrize(
    ("payload", "delivery", "message"),
    [
        ({"text": 5}, "d", "inputs.text: 5 is not of type 'string'"),
        ({"text": "x", "extra": 1}, "d", "'extra' was unexpected"),
        (["text"], "d", "the body must be a JSON object"),
        ({"text": "x"}, None, "send a X-Batonflow-Delivery header"),
    ],
)
async def test_a_bad_delivery_says_what_to_fix(
    app: FastAPI, signup: Signup, payload: Any, delivery: str | None, message: str
) -> None:
    admin = (await signup("acme")).client
    hook = await make_hook(admin)
    async with client_for(app) as sender:
        refused = await sender.post(hook["path"], **signed(hook["secret"], payload, delivery))
    assert refused.status_code == 422, refused.text
    assert message in refused.json()["error"]["message"]
    assert (await admin.get("/api/v1/runs")).json()["items"] == []


async def test_rotating_and_deleting_retire_the_secret(app: FastAPI, signup: Signup) -> None:
    admin = (await signup("acme")).client
    hook = await make_hook(admin)
    rotated = await admin.post(f"/api/v1/hooks/{hook['id']}/rotate")
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["secret"]
    assert new != hook["secret"]
    async with client_for(app) as sender:
        old = await sender.post(hook["path"], **signed(hook["secret"], {"text": "a"}, "r-1"))
        fresh = await sender.post(hook["path"], **signed(new, {"text": "a"}, "r-1"))
        assert (old.status_code, fresh.status_code) == (401, 202)
        assert (await admin.delete(f"/api/v1/hooks/{hook['id']}")).status_code == 204
        after = await sender.post(hook["path"], **signed(new, {"text": "a"}, "r-2"))
    assert after.status_code == 401
    assert (await admin.get("/api/v1/hooks")).json() == {"items": []}


async def test_a_hook_needs_a_stored_workflow(signup: Signup) -> None:
    admin = (await signup("acme")).client
    missing = await admin.post("/api/v1/hooks", json={"name": "x", "workflow_id": "nope"})
    assert missing.status_code == 404
    extra = await admin.post(
        "/api/v1/hooks", json={"name": "x", "workflow_id": "nope", "secret": "mine"}
    )
    assert extra.status_code == 422
    assert extra.json()["error"]["code"] == "request_invalid"


async def test_the_same_delivery_sent_at_once_starts_one_run(app: FastAPI, signup: Signup) -> None:
    admin = (await signup("acme")).client
    hook = await make_hook(admin)
    async with client_for(app) as sender:
        answers = await asyncio.gather(
            *(
                sender.post(hook["path"], **signed(hook["secret"], {"text": "once"}, "burst"))
                for _ in range(6)
            )
        )
    assert {(a.status_code, a.text) for a in answers} == {(202, answers[0].text)}
    runs = (await admin.get("/api/v1/runs")).json()["items"]
    assert [r["id"] for r in runs] == [answers[0].json()["run_id"]]
