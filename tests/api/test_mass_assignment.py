"""Fields a caller may not set (the tenant, an owner, a status, a role through the wrong door)
are refused with 422 on every write route, naming the field, and nothing is stored."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel

from tests.api.conftest import Signup
from tests.api.flows import QUICK, settled, start, store

WRITES: list[tuple[str, str, dict[str, Any], str]] = [
    ("POST", "/api/v1/runs", {"workflow_id": "quick", "inputs": {"text": "x"}}, "tenant_id"),
    ("POST", "/api/v1/runs", {"workflow_id": "quick", "inputs": {"text": "x"}}, "status"),
    ("POST", "/api/v1/runs/{run}/cancel", {"reason": "no"}, "actor"),
    ("POST", "/api/v1/runs/{run}/dismiss", {"reason": "no"}, "status"),
    ("POST", "/api/v1/runs/{run}/steps/echo/override", {"output": {}, "reason": "r"}, "by"),
    ("POST", "/api/v1/workflows", {"source": QUICK.replace("quick", "other")}, "tenant_id"),
    ("POST", "/api/v1/workflows/validate", {"source": QUICK}, "created_by"),
    ("POST", "/api/v1/prompts", {"key": "greet", "template": "Hi"}, "version"),
    ("POST", "/api/v1/reviews/{review}/decision", {"decision": "approve"}, "decided_by"),
    ("PATCH", "/api/v1/users/{user}", {"active": True}, "tenant_id"),
    ("POST", "/api/v1/api-keys", {"name": "ci", "scopes": ["runs:read"]}, "role"),
    ("POST", "/api/v1/invitations", {"email": "b@acme.example", "role": "viewer"}, "tenant_id"),
    ("POST", "/api/v1/knowledge-bases", {"name": "handbook"}, "tenant_id"),
    ("POST", "/api/v1/knowledge-bases/{kb}/search", {"query": "refunds"}, "tenant_id"),
]


@pytest.mark.parametrize(("method", "path", "body", "extra"), WRITES)
async def test_a_field_the_caller_may_not_set_is_refused(
    signup: Signup, method: str, path: str, body: dict[str, Any], extra: str
) -> None:
    admin = await signup()
    await store(admin.client, QUICK)
    run = await start(admin.client, "quick", {"text": "x"})
    await settled(admin.client, run["id"], ("succeeded",))
    me = (await admin.client.get("/api/v1/me")).json()
    kb = await admin.client.post("/api/v1/knowledge-bases", json={"name": "notes"})
    assert kb.status_code == 201, kb.text
    url = path.format(
        run=run["id"], review="01-not-a-review", user=me["user"]["id"], kb=kb.json()["id"]
    )
    before = (await admin.client.get("/api/v1/runs")).json()["items"]
    answer = await admin.client.request(method, url, json={**body, extra: "injected"})
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["code"] == "request_invalid"
    assert any(
        extra in issue and "Extra inputs are not permitted" in issue
        for issue in error["details"]["issues"]
    )
    assert (await admin.client.get("/api/v1/runs")).json()["items"] == before


def test_every_json_request_body_refuses_unknown_fields(app: FastAPI) -> None:
    """A route added later cannot forget: each JSON body model forbids extra fields."""
    lax, checked = [], 0
    for route in iter_route_contexts(app.routes):
        body = getattr(route, "body_field", None)
        model = body.field_info.annotation if body else None
        if isinstance(model, type) and issubclass(model, BaseModel):
            checked += 1
            if model.model_config.get("extra") != "forbid":
                lax.append(f"{sorted(route.methods or ())} {route.path}: {model.__name__}")
    assert lax == []
    assert checked >= 10  # the walk found the bodies
