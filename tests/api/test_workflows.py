"""Workflows through the HTTP API: store versions, validation errors with places, reads."""

from __future__ import annotations

from typing import Any

from dirty_equals import IsStr
from fastapi import FastAPI

from tests.api.conftest import Signup, client_for
from tests.api.flows import OUTREACH, QUICK, store
from tests.api.test_admin import member

BROKEN = """
id: broken
version: "1"
steps:
  - id: valuation
    kind: agent
    capability: demo.sleep
  - id: report
    kind: agent
    capability: demo.nothing
    needs: [valuate]
"""


async def test_a_version_is_stored_once_and_read_back(signup: Signup) -> None:
    admin = await signup()
    first = await admin.client.post("/api/v1/workflows", json={"source": OUTREACH})
    assert first.status_code == 201
    body = first.json()
    assert body == {
        "id": IsStr(),
        "workflow_id": "outreach",
        "version": "1",
        "content_hash": IsStr(regex=r"sha256:[0-9a-f]{64}"),
        "description": "Score a lead, draft an email, have a person approve it, send it once.",
        "created_at": IsStr(),
        "steps": [
            {"id": "score", "kind": "agent", "needs": []},
            {"id": "draft", "kind": "agent", "needs": ["score"]},
            {"id": "approve", "kind": "review", "needs": ["draft"]},
            {"id": "send", "kind": "tool", "needs": ["approve"]},
        ],
        "inputs_schema": {
            "type": "object",
            "properties": {
                "name": {"type": "string", "description": "Contact name"},
                "email": {"type": "string", "description": "Contact address"},
                "company": {"type": "string"},
                "employees": {"type": "integer", "default": 120},
                "budget": {"type": "number", "default": 40000},
            },
            "required": ["company", "email", "name"],
            "additionalProperties": False,
        },
        "spec": body["spec"],
        "source": OUTREACH,
    }
    again = await admin.client.post("/api/v1/workflows", json={"source": OUTREACH})
    assert again.status_code == 200
    assert again.json() == body

    newest = await admin.client.get("/api/v1/workflows/outreach")
    assert newest.json() == body
    pinned = await admin.client.get("/api/v1/workflows/outreach/versions/1")
    assert pinned.json() == body
    listing = await admin.client.get("/api/v1/workflows")
    assert listing.json() == {
        "items": [
            {
                k: body[k]
                for k in (
                    "id",
                    "workflow_id",
                    "version",
                    "content_hash",
                    "description",
                    "created_at",
                    "steps",
                )
            }
        ]
    }


async def test_changed_content_under_a_stored_version_is_a_conflict(signup: Signup) -> None:
    admin = await signup()
    await store(admin.client, QUICK)
    changed = QUICK.replace("echoed:", "said:")
    response = await admin.client.post("/api/v1/workflows", json={"source": changed})
    assert response.status_code == 409
    assert response.json() == {
        "error": {
            "code": "conflict",
            "message": "workflow 'quick' version 1 already exists with other content; "
            "versions are immutable, so give the changed workflow a new version",
            "details": {"stored_hash": IsStr(), "new_hash": IsStr()},
        }
    }


async def test_an_invalid_workflow_gets_every_issue_with_its_place(signup: Signup) -> None:
    admin = await signup()
    response = await admin.client.post(
        "/api/v1/workflows", json={"source": BROKEN, "name": "broken.yaml"}
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "spec_invalid"
    assert error["details"] == {
        "issues": [
            "steps[1].needs: unknown step 'valuate' (did you mean 'valuation'?)",
            "steps[1].capability: unknown capability 'demo.nothing' (did you mean 'demo.noop'?)",
        ]
    }
    checked = await admin.client.post("/api/v1/workflows/validate", json={"source": BROKEN})
    assert checked.status_code == 200
    assert checked.json() == {
        "valid": False,
        "issues": [
            "steps[1].needs: unknown step 'valuate' (did you mean 'valuation'?)",
            "steps[1].capability: unknown capability 'demo.nothing' (did you mean 'demo.noop'?)",
        ],
        "workflow_id": None,
        "version": None,
        "content_hash": None,
    }
    fine = await admin.client.post("/api/v1/workflows/validate", json={"source": QUICK})
    assert fine.json() == {
        "valid": True,
        "issues": [],
        "workflow_id": "quick",
        "version": "1",
        "content_hash": IsStr(),
    }
    assert (await admin.client.get("/api/v1/workflows")).json() == {"items": []}


async def test_a_spec_can_be_sent_as_an_object(signup: Signup) -> None:
    admin = await signup()
    spec = {
        "id": "tiny",
        "version": "2",
        "steps": [{"id": "nap", "kind": "agent", "capability": "demo.sleep"}],
    }
    response = await admin.client.post("/api/v1/workflows", json={"spec": spec})
    assert response.status_code == 201
    assert response.json()["steps"] == [{"id": "nap", "kind": "agent", "needs": []}]
    both = await admin.client.post("/api/v1/workflows", json={"spec": spec, "source": QUICK})
    assert both.status_code == 422
    assert both.json()["error"]["code"] == "request_invalid"


async def test_unknown_workflows_are_not_found(signup: Signup) -> None:
    admin = await signup()
    response = await admin.client.get("/api/v1/workflows/nope")
    assert response.status_code == 404
    assert response.json() == {
        "error": {"code": "not_found", "message": "no workflow 'nope'", "details": {}}
    }


def _summary(body: dict[str, Any]) -> dict[str, Any]:
    return {k: body[k] for k in ("workflow_id", "version", "description", "steps")}


async def test_versions_of_one_workflow_and_the_newest_of_each(signup: Signup) -> None:
    admin = await signup()
    first = await store(admin.client, QUICK)
    second = await store(admin.client, QUICK.replace('version: "1"', 'version: "2"'))
    outreach = await store(admin.client, OUTREACH)

    versions = await admin.client.get("/api/v1/workflows/quick/versions")
    assert versions.status_code == 200
    assert [item["id"] for item in versions.json()["items"]] == [first["id"], second["id"]]
    assert [_summary(item) for item in versions.json()["items"]] == [
        {
            "workflow_id": "quick",
            "version": "1",
            "description": "",
            "steps": [{"id": "echo", "kind": "agent", "needs": []}],
        },
        {
            "workflow_id": "quick",
            "version": "2",
            "description": "",
            "steps": [{"id": "echo", "kind": "agent", "needs": []}],
        },
    ]
    latest = await admin.client.get("/api/v1/workflows", params={"latest": "true"})
    assert [item["id"] for item in latest.json()["items"]] == [outreach["id"], second["id"]]
    one = await admin.client.get("/api/v1/workflows", params={"workflow_id": "quick"})
    assert [item["id"] for item in one.json()["items"]] == [first["id"], second["id"]]

    unknown = await admin.client.get("/api/v1/workflows/nope/versions")
    assert unknown.status_code == 404
    assert unknown.json() == {
        "error": {"code": "not_found", "message": "no workflow 'nope'", "details": {}}
    }


async def test_a_viewer_reads_and_validates_but_may_not_store(signup: Signup, app: FastAPI) -> None:
    admin = await signup()
    await store(admin.client, QUICK)
    vera = await member(admin, app, "vera@acme.example", "viewer")
    async with client_for(app, vera["access_token"]) as viewer:
        listed = await viewer.get("/api/v1/workflows", params={"latest": "true"})
        assert [item["workflow_id"] for item in listed.json()["items"]] == ["quick"]
        versions = await viewer.get("/api/v1/workflows/quick/versions")
        assert versions.status_code == 200
        checked = await viewer.post("/api/v1/workflows/validate", json={"source": BROKEN})
        assert checked.json()["valid"] is False
        changed = QUICK.replace('version: "1"', 'version: "2"')
        refused = await viewer.post("/api/v1/workflows", json={"source": changed})
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "forbidden"
    after = await admin.client.get("/api/v1/workflows/quick/versions")
    assert [item["version"] for item in after.json()["items"]] == ["1"]


async def test_bad_yaml_is_a_clear_issue_with_its_line(signup: Signup) -> None:
    admin = await signup()
    checked = await admin.client.post(
        "/api/v1/workflows/validate", json={"source": "id: x\nsteps: [\n", "name": "x.yaml"}
    )
    assert checked.json() == {
        "valid": False,
        "issues": [IsStr(regex=r"line 3 column 1: .+")],
        "workflow_id": None,
        "version": None,
        "content_hash": None,
    }
