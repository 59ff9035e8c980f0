"""What an attacker found, refused: costly templates, text no encoding can store, JSON nested
past any use, and claims of the wrong type. Each gets a clear 4xx (or a failed step), and
what is already stored stays readable."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
from dirty_equals import IsStr
from fastapi import FastAPI
from sqlalchemy import text

from batonflow.api.app import create_app
from batonflow.settings import Settings
from batonflow.store.db import create_engine
from tests.api.conftest import PASSWORD, Signup, client_for, core_apps
from tests.api.flows import QUICK, settled, start, store

COSTLY = """
id: costly
version: "1"
inputs:
  n: {type: integer}
steps:
  - id: guarded
    kind: agent
    capability: demo.noop
    when: "9 ** inputs.n > 1"
outputs: {}
"""


def nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = [value]
    return value


async def test_a_costly_when_is_refused_at_run_time_without_computing_it(signup: Signup) -> None:
    admin = await signup()
    checked = await admin.client.post(
        "/api/v1/workflows/validate", json={"source": COSTLY.replace("inputs.n", "(9 ** 7)")}
    )
    assert checked.status_code == 200  # nothing is folded (computed) when a spec is compiled
    await store(admin.client, COSTLY)
    run = await start(admin.client, "costly", {"n": 10_000_000})
    failed = await settled(admin.client, run["id"], ("failed", "dead"))
    assert failed["error"] == {
        "step": "guarded",
        "code": "template_error",
        "message": "cannot evaluate '9 ** inputs.n > 1': 9 ** 10000000 has more than 4096 "
        "bits; templates are limited to keep every render cheap",
        "details": {},
    }


@pytest.mark.parametrize(
    ("template", "reason"),
    [
        ("{{ 10 ** 5000 }}", "10 ** 5000 has more than 4096 bits"),
        ("{{ 'a' * 10 ** 8 }}", "repeating 1 items 100000000 times is over 1,000,000"),
        ("{{ 'a' | center(10 ** 9) }}", "the filter 'center' was given 1000000000, over 1,000,000"),
        (
            "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}",
            "ranges of one render give more than 200,000 numbers",
        ),
    ],
)
async def test_templates_that_would_make_huge_values_fail_the_step(
    signup: Signup, template: str, reason: str
) -> None:
    admin = await signup()
    source = QUICK.replace('"{{ inputs.text }}"', repr(template))
    await store(admin.client, source)
    run = await start(admin.client, "quick", {"text": "x"})
    failed = await settled(admin.client, run["id"], ("failed", "dead"))
    assert failed["error"]["code"] == "template_error"
    assert failed["error"]["message"].endswith(
        f"{reason}; templates are limited to keep every render cheap"
    )


async def test_text_no_encoding_can_store_is_refused_before_anything_is_stored(
    signup: Signup,
) -> None:
    admin = await signup()
    await store(admin.client, QUICK)
    body = b'{"workflow_id": "quick", "inputs": {"text": "x\\ud800"}}'
    refused = await admin.client.post(
        "/api/v1/runs", content=body, headers={"content-type": "application/json"}
    )
    assert (refused.status_code, refused.json()) == (
        422,
        {
            "error": {
                "code": "request_invalid",
                "message": "the body has a string with a lone surrogate (such as \\ud800), which "
                "is not text; send UTF-8 text",
                "details": {},
            }
        },
    )
    paired = b'{"workflow_id": "quick", "inputs": {"text": "\\ud83d\\ude00"}}'
    accepted = await admin.client.post(
        "/api/v1/runs", content=paired, headers={"content-type": "application/json"}
    )
    assert accepted.status_code == 201  # a pair of surrogates is one character: fine
    page = (await admin.client.get("/api/v1/runs")).json()
    assert [item["id"] for item in page["items"]] == [accepted.json()["id"]]


@pytest.mark.parametrize("where", ["inputs", "ctx"])
async def test_json_nested_past_any_use_is_refused(signup: Signup, where: str) -> None:
    admin = await signup()
    await store(admin.client, QUICK)
    body: dict[str, Any] = {"workflow_id": "quick", "inputs": {"text": "x"}}
    body[where] = {"deep": nested(300)}
    refused = await admin.client.post("/api/v1/runs", json=body)
    assert (refused.status_code, refused.json()["error"]) == (
        422,
        {
            "code": "request_invalid",
            "message": "the body nests lists and objects more than 64 deep",
            "details": {},
        },
    )
    shallow = await admin.client.post("/api/v1/workflows/validate", json={"spec": nested(40)})
    assert shallow.status_code == 422  # not a spec, but read and answered
    assert shallow.json()["error"]["code"] == "request_invalid"


async def test_what_was_stored_before_the_edge_refused_it_stays_readable(
    signup: Signup, api_db_url: str
) -> None:
    admin = await signup()
    await store(admin.client, QUICK)
    run = await start(admin.client, "quick", {"text": "fine"})
    await settled(admin.client, run["id"], ("succeeded",))
    engine = create_engine(api_db_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text("UPDATE runs SET inputs = :inputs WHERE id = :id"),
                {"inputs": '{"text": "x\\ud800"}', "id": run["id"]},
            )
            await conn.execute(
                text("UPDATE events SET data = :data WHERE run_id = :id AND type = 'run.started'"),
                {"data": '{"inputs": {"text": "x\\ud800"}}', "id": run["id"]},
            )
    finally:
        await engine.dispose()
    detail = await admin.client.get(f"/api/v1/runs/{run['id']}")
    assert (detail.status_code, detail.json()["inputs"]) == (200, {"text": "x\ufffd"})
    page = await admin.client.get("/api/v1/runs")
    assert page.status_code == 200
    assert [item["id"] for item in page.json()["items"]] == [run["id"]]
    history = await admin.client.get(f"/api/v1/runs/{run['id']}/events/history")
    assert history.status_code == 200
    started = [e for e in history.json()["items"] if e["type"] == "run.started"]
    assert [e["data"] for e in started] == [{"inputs": {"text": "x\ufffd"}}]


@pytest.mark.parametrize("expiry", ["soon", "9999999999", 1e300, True])
async def test_an_access_token_with_a_malformed_expiry_is_401(
    app: FastAPI, signup: Signup, api_settings: Any, expiry: Any
) -> None:
    admin = await signup()
    claims = jwt.decode(admin.access_token, options={"verify_signature": False})
    forged = jwt.encode(
        {**claims, "exp": expiry, "iat": int(time.time())},
        api_settings.secret_key.get_secret_value(),
        algorithm="HS256",
    )
    async with client_for(app, forged) as client:
        answer = await client.get("/api/v1/runs")
    assert (answer.status_code, answer.json()["error"]) == (
        401,
        {"code": "unauthenticated", "message": IsStr(), "details": {}},
    )


async def test_by_default_any_reuse_of_a_refresh_token_revokes_its_sign_in(
    api_settings: Settings,
) -> None:
    settings = api_settings.model_copy(update={"refresh_reuse_grace_seconds": 0.0})
    app = create_app(settings, apps=core_apps())
    async with app.router.lifespan_context(app), client_for(app) as anonymous:
        registered = await anonymous.post(
            "/api/v1/auth/register",
            json={"tenant": "acme", "email": "a@acme.example", "password": PASSWORD, "name": "A"},
        )
        old = registered.json()["refresh_token"]
        first = await anonymous.post("/api/v1/auth/refresh", json={"refresh_token": old})
        assert first.status_code == 200
        again = await anonymous.post("/api/v1/auth/refresh", json={"refresh_token": old})
        assert (again.status_code, again.json()["error"]["message"]) == (
            401,
            "the refresh token was already used; every token of this sign-in is now revoked, "
            "sign in again",
        )
        newest = first.json()["refresh_token"]
        revoked = await anonymous.post("/api/v1/auth/refresh", json={"refresh_token": newest})
        assert (revoked.status_code, revoked.json()["error"]["message"]) == (
            401,
            "the refresh token was revoked; sign in again",
        )
