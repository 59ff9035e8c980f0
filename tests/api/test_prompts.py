"""Prompts through the HTTP API: versions, identical saves, diffs, undeclared variables."""

from __future__ import annotations

from dirty_equals import IsStr

from tests.api.conftest import Signup


async def test_versions_are_numbered_and_diffed(signup: Signup) -> None:
    admin = await signup()
    body = {"key": "rate-lead", "template": "Rate {{ company }}.", "variables": ["company"]}
    first = await admin.client.post("/api/v1/prompts", json=body)
    assert first.status_code == 201
    assert first.json() == {
        "id": IsStr(),
        "key": "rate-lead",
        "version": 1,
        "template": "Rate {{ company }}.",
        "system": None,
        "variables": ["company"],
        "description": "",
        "content_hash": IsStr(regex="sha256:.*"),
        "created_by": admin.email,
        "created_at": IsStr(),
    }
    same = await admin.client.post("/api/v1/prompts", json=body)
    assert same.status_code == 200
    assert same.json() == first.json()
    second = await admin.client.post(
        "/api/v1/prompts", json=body | {"template": "Rate {{ company }} from A to C."}
    )
    assert second.status_code == 201
    assert second.json()["version"] == 2

    listing = (await admin.client.get("/api/v1/prompts")).json()["items"]
    assert [(p["key"], p["version"]) for p in listing] == [("rate-lead", 2)]
    versions = (await admin.client.get("/api/v1/prompts/rate-lead/versions")).json()["items"]
    assert [p["version"] for p in versions] == [1, 2]
    one = (await admin.client.get("/api/v1/prompts/rate-lead", params={"version": 1})).json()
    assert one == first.json()
    diff = (await admin.client.get("/api/v1/prompts/rate-lead/diff", params={"from": 1})).json()
    assert diff == {
        "key": "rate-lead",
        "from_version": 1,
        "to_version": 2,
        "diff": "--- rate-lead v1\n+++ rate-lead v2\n@@ -1,2 +1,2 @@\n [template]\n"
        "-Rate {{ company }}.\n+Rate {{ company }} from A to C.\n",
    }


async def test_an_undeclared_variable_is_refused(signup: Signup) -> None:
    admin = await signup()
    response = await admin.client.post(
        "/api/v1/prompts", json={"key": "oops", "template": "Hi {{ name }}", "variables": []}
    )
    assert response.status_code == 422
    assert response.json()["error"] == {
        "code": "input_invalid",
        "message": "prompt 'oops' is invalid: template: reads 'name', which is not a declared "
        "variable (add 'name' to the prompt's variables)",
        "details": {
            "issues": [
                "template: reads 'name', which is not a declared variable (add 'name' to the prompt's variables)"
            ]
        },
    }
    missing = await admin.client.get("/api/v1/prompts/oops")
    assert missing.status_code == 404
    assert (await admin.client.get("/api/v1/prompts/oops/versions")).status_code == 404
