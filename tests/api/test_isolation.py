"""Tenant isolation through the HTTP API, on both databases.

Tenant A (acme) owns one of every object a route names by id: workflow, runs (waiting, dead,
with model calls), review, prompt, user, API key and invitation. Tenant B (globex), an admin so
that scopes are never the reason, calls every route with a path parameter on A's objects. Each
answer must be the 404 an id that does not exist gets, body for body, and A's objects must read
back exactly as before. B's lists must hold nothing of A's.

`ROUTES` is checked against `app.routes`: a route with a path parameter that is not in it fails
this suite until it gets its probe.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from dirty_equals import AnyThing, IsStr
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

from batonflow.settings import Settings
from batonflow_testkit.fakeserver import FakeProvider
from tests.api.conftest import PASSWORD, Account, Signup, client_for, with_provider
from tests.api.flows import FAILING, LEAD, OUTREACH, PRICED, settled, start, store

STREAM_SECONDS = 5  # an SSE answer that does not end by then is a stream, not a 404


@dataclass(frozen=True)
class Probe:
    """How tenant B calls one route: which of A's objects fill the path, and with what."""

    targets: tuple[dict[str, str], ...]  # path parameter -> name of one of A's objects
    json: dict[str, Any] | None = None
    params: dict[str, Any] = field(default_factory=dict)
    stream: bool = False


RUNS = tuple({"run_id": name} for name in ("outreach_run", "dead_run", "priced_run"))
# A's document through A's knowledge base, and through B's own (the document id alone must not
# reach across tenants).
KB_DOCUMENT = (
    {"kb": "kb", "document_id": "document"},
    {"kb": "own:kb", "document_id": "document"},
)
ROUTES: dict[tuple[str, str], Probe] = {
    ("GET", "/api/v1/workflows/{workflow_id}"): Probe(({"workflow_id": "workflow"},)),
    ("GET", "/api/v1/workflows/{workflow_id}/versions"): Probe(({"workflow_id": "workflow"},)),
    ("GET", "/api/v1/workflows/{workflow_id}/versions/{version}"): Probe(
        ({"workflow_id": "workflow", "version": "version"},)
    ),
    ("GET", "/api/v1/runs/{run_id}"): Probe(RUNS),
    ("GET", "/api/v1/runs/{run_id}/attempts"): Probe(RUNS),
    ("GET", "/api/v1/runs/{run_id}/llm-calls"): Probe(RUNS),
    ("GET", "/api/v1/runs/{run_id}/events"): Probe(RUNS, stream=True),
    ("GET", "/api/v1/runs/{run_id}/events/history"): Probe(RUNS),
    ("POST", "/api/v1/runs/{run_id}/cancel"): Probe(
        ({"run_id": "outreach_run"}, {"run_id": "priced_run"}), json={"reason": "not yours"}
    ),
    ("POST", "/api/v1/runs/{run_id}/retry"): Probe(({"run_id": "dead_run"},)),
    ("POST", "/api/v1/runs/{run_id}/dismiss"): Probe(
        ({"run_id": "dead_run"},), json={"reason": "not yours"}
    ),
    ("POST", "/api/v1/runs/{run_id}/steps/{step_key}/override"): Probe(
        ({"run_id": "outreach_run", "step_key": "review_step"},),
        json={"output": {"approved": True}, "reason": "not yours"},
    ),
    ("GET", "/api/v1/reviews/{review_id}"): Probe(({"review_id": "review"},)),
    ("POST", "/api/v1/reviews/{review_id}/decision"): Probe(
        ({"review_id": "review"},), json={"decision": "approve", "comment": "not yours"}
    ),
    ("GET", "/api/v1/prompts/{key}"): Probe(({"key": "prompt"},)),
    ("GET", "/api/v1/prompts/{key}/versions"): Probe(({"key": "prompt"},)),
    ("GET", "/api/v1/prompts/{key}/diff"): Probe(({"key": "prompt"},), params={"from": 1}),
    ("GET", "/api/v1/users/{user_id}"): Probe(({"user_id": "user"},)),
    ("PATCH", "/api/v1/users/{user_id}"): Probe(
        ({"user_id": "user"},), json={"role": "viewer", "active": False}
    ),
    ("DELETE", "/api/v1/api-keys/{key_id}"): Probe(({"key_id": "api_key"},)),
    ("DELETE", "/api/v1/invitations/{invitation_id}"): Probe(({"invitation_id": "invitation"},)),
    ("GET", "/api/v1/knowledge-bases/{kb}"): Probe(({"kb": "kb"},)),
    ("DELETE", "/api/v1/knowledge-bases/{kb}"): Probe(({"kb": "kb"},)),
    ("GET", "/api/v1/knowledge-bases/{kb}/documents"): Probe(({"kb": "kb"},)),
    ("POST", "/api/v1/knowledge-bases/{kb}/documents"): Probe(
        ({"kb": "kb"},), json={"text": "not yours"}, params={"source": "theirs.txt"}
    ),
    ("GET", "/api/v1/knowledge-bases/{kb}/documents/{document_id}"): Probe(KB_DOCUMENT),
    ("DELETE", "/api/v1/knowledge-bases/{kb}/documents/{document_id}"): Probe(KB_DOCUMENT),
    ("POST", "/api/v1/knowledge-bases/{kb}/search"): Probe(
        ({"kb": "kb"},), json={"query": "refunds", "mode": "keyword"}
    ),
    ("GET", "/api/v1/schedules/{schedule_id}"): Probe(({"schedule_id": "schedule"},)),
    ("POST", "/api/v1/schedules/{schedule_id}/pause"): Probe(({"schedule_id": "schedule"},)),
    ("POST", "/api/v1/schedules/{schedule_id}/resume"): Probe(({"schedule_id": "paused"},)),
    ("DELETE", "/api/v1/schedules/{schedule_id}"): Probe(({"schedule_id": "schedule"},)),
    ("POST", "/api/v1/hooks/{hook_id}/rotate"): Probe(({"hook_id": "hook"},)),
    ("DELETE", "/api/v1/hooks/{hook_id}"): Probe(({"hook_id": "hook"},)),
    ("POST", "/api/v1/hooks/{hook_id}"): Probe(({"hook_id": "hook"},), json=LEAD),
}
# Deliveries need no login but a signature: B's unsigned call on A's hook gets the 401 an
# unknown hook gets, never a 404 that would tell the two apart.
SIGNED = {("POST", "/api/v1/hooks/{hook_id}")}
# The event stream routes are still landing: probed once they are mounted.
LANDING = {
    ("GET", "/api/v1/runs/{run_id}/events"),
    ("GET", "/api/v1/runs/{run_id}/events/history"),
}
# Parameters that qualify an object rather than name one: the unknown-id call keeps them.
QUALIFIERS = {"version", "step_key"}


@pytest.fixture
def api_settings(api_settings: Settings, provider: FakeProvider) -> Settings:
    return with_provider(api_settings, provider)


def mounted_routes(app: FastAPI) -> dict[tuple[str, str], bool]:
    """(method, path) of every route, walking into included routers, and whether the path takes
    a parameter."""
    found = {}
    for route in iter_route_contexts(app.routes):
        for method in route.methods or ():
            found[(method, route.path)] = bool(route.param_convertors)
    return found


def id_routes(app: FastAPI) -> set[tuple[str, str]]:
    return {key for key, has_parameter in mounted_routes(app).items() if has_parameter}


@dataclass
class Tenant:
    """Tenant A's objects, by the names `Probe.targets` use."""

    admin: Account
    key: str  # the API key itself, to prove it still works
    ids: dict[str, str]


async def populate(app: FastAPI, admin: Account) -> Tenant:
    client = admin.client
    workflow = await store(client, OUTREACH, "outreach.yaml")
    await store(client, FAILING, "failing.yaml")
    await store(client, PRICED, "priced.yaml")
    outreach_run = await start(client, "outreach", LEAD)
    dead_run = await start(client, "failing")
    priced_run = await start(client, "priced", {"company": "Analytical"})
    waiting = await settled(client, outreach_run["id"], ("waiting",))
    await settled(client, dead_run["id"], ("dead", "failed"))
    await settled(client, priced_run["id"], ("waiting",))
    prompt = await client.post(
        "/api/v1/prompts",
        json={"key": "greeting", "template": "Hello {{ name }}", "variables": ["name"]},
    )
    assert prompt.status_code == 201, prompt.text
    key = await client.post(
        "/api/v1/api-keys", json={"name": "ci", "scopes": ["runs:read", "workflows:read"]}
    )
    assert key.status_code == 201, key.text
    joined = await client.post(
        "/api/v1/invitations", json={"email": "bo@acme.example", "role": "operator"}
    )
    assert joined.status_code == 201, joined.text
    async with client_for(app) as anonymous:
        registered = await anonymous.post(
            "/api/v1/auth/register",
            json={
                "invitation": joined.json()["token"],
                "email": "bo@acme.example",
                "password": PASSWORD,
                "name": "Bo",
            },
        )
    assert registered.status_code == 201, registered.text
    pending = await client.post(
        "/api/v1/invitations", json={"email": "cy@acme.example", "role": "reviewer"}
    )
    assert pending.status_code == 201, pending.text
    kb, document = await knowledge_base(client)
    schedule, paused, hook = await triggers(client)
    return Tenant(
        admin=admin,
        key=key.json()["key"],
        ids={
            "workflow": workflow["workflow_id"],
            "version": workflow["version"],
            "outreach_run": outreach_run["id"],
            "dead_run": dead_run["id"],
            "priced_run": priced_run["id"],
            "review": waiting["reviews"][0]["id"],
            "review_step": waiting["reviews"][0]["step_key"],
            "prompt": prompt.json()["key"],
            "user": registered.json()["user"]["id"],
            "api_key": key.json()["id"],
            "invitation": pending.json()["id"],
            "kb": kb,
            "document": document,
            "schedule": schedule,
            "paused": paused,
            "hook": hook,
        },
    )


async def triggers(client: httpx.AsyncClient) -> tuple[str, str, str]:
    """An hourly schedule, a paused one and a hook, all on the outreach workflow: their ids."""
    ids = []
    for name, paused in (("hourly", False), ("paused", True)):
        created = await client.post(
            "/api/v1/schedules",
            json={
                "name": name,
                "workflow_id": "outreach",
                "kind": "interval",
                "interval_seconds": 3600,
                "inputs": LEAD,
                "paused": paused,
            },
        )
        assert created.status_code == 201, created.text
        ids.append(created.json()["id"])
    hook = await client.post("/api/v1/hooks", json={"name": "crm", "workflow_id": "outreach"})
    assert hook.status_code == 201, hook.text
    return ids[0], ids[1], hook.json()["id"]


async def knowledge_base(client: httpx.AsyncClient) -> tuple[str, str]:
    """A knowledge base named "handbook" with one indexed document: (its id, the document's)."""
    created = await client.post("/api/v1/knowledge-bases", json={"name": "handbook"})
    assert created.status_code == 201, created.text
    kb = created.json()["id"]
    uploaded = await client.post(
        f"/api/v1/knowledge-bases/{kb}/documents",
        params={"source": "refunds.md"},
        content=b"# Refunds\n\nRefunds are paid within 14 days of a return.\n",
        headers={"content-type": "text/markdown"},
    )
    assert uploaded.status_code == 202, uploaded.text
    path = f"/api/v1/knowledge-bases/{kb}/documents/{uploaded.json()['id']}"
    async with asyncio.timeout(60):
        while (document := (await client.get(path)).json())["status"] in ("pending", "ingesting"):
            await asyncio.sleep(0.05)
    assert document["status"] == "ready", document
    return kb, document["id"]


async def snapshot(app: FastAPI, a: Tenant, usage_range: dict[str, str]) -> dict[str, Any]:
    """Everything A can read about its objects, whole."""
    ids = a.ids
    async with client_for(app, a.key) as machine:
        me = await machine.get("/api/v1/me")  # first, so the key list shows this use
    paths = [
        f"/api/v1/workflows/{ids['workflow']}",
        f"/api/v1/workflows/{ids['workflow']}/versions/{ids['version']}",
        f"/api/v1/workflows/{ids['workflow']}/versions",
        "/api/v1/workflows",
        "/api/v1/workflows?latest=true",
        *(f"/api/v1/runs/{ids[run]}" for run in ("outreach_run", "dead_run", "priced_run")),
        *(f"/api/v1/runs/{ids[run]}/attempts" for run in ("outreach_run", "dead_run")),
        f"/api/v1/runs/{ids['priced_run']}/llm-calls",
        "/api/v1/runs",
        f"/api/v1/reviews/{ids['review']}",
        "/api/v1/reviews",
        f"/api/v1/prompts/{ids['prompt']}",
        f"/api/v1/prompts/{ids['prompt']}/versions",
        "/api/v1/prompts",
        f"/api/v1/users/{ids['user']}",
        "/api/v1/users",
        "/api/v1/api-keys",
        "/api/v1/invitations",
        "/api/v1/audit",  # B's refused probes leave nothing in A's log
        "/api/v1/knowledge-bases",
        f"/api/v1/knowledge-bases/{ids['kb']}",
        f"/api/v1/knowledge-bases/{ids['kb']}/documents",
        f"/api/v1/knowledge-bases/{ids['kb']}/documents/{ids['document']}",
        "/api/v1/schedules",
        f"/api/v1/schedules/{ids['schedule']}",
        f"/api/v1/schedules/{ids['paused']}",
        "/api/v1/hooks",
    ]
    seen: dict[str, Any] = {"me (API key)": (me.status_code, me.json())}
    for path in paths:
        response = await a.admin.client.get(path)
        seen[path] = (response.status_code, response.json())
    usage = await a.admin.client.get("/api/v1/usage", params=usage_range)
    seen["/api/v1/usage"] = (usage.status_code, usage.json())
    return seen


async def call(client: httpx.AsyncClient, method: str, path: str, probe: Probe) -> httpx.Response:
    async with asyncio.timeout(STREAM_SECONDS):
        return await client.request(method, path, json=probe.json, params=probe.params)


def without(values: list[str], response: httpx.Response) -> tuple[int, str | None, Any]:
    """The answer with `values` (the ids in the path) replaced, to compare across ids."""
    text = response.text
    for value in values:
        text = text.replace(value, "<id>")
    return response.status_code, response.headers.get("content-type"), json.loads(text)


async def test_another_tenant_gets_404_for_every_id_and_changes_nothing(
    app: FastAPI, signup: Signup
) -> None:
    a = await populate(app, await signup("acme"))
    b = await signup("globex")
    own = await b.client.post("/api/v1/knowledge-bases", json={"name": "handbook"})
    assert own.status_code == 201, own.text
    b_ids = {"own:kb": own.json()["id"]}
    now = datetime.now(UTC)
    usage_range = {
        "since": (now - timedelta(days=1)).isoformat(),
        "until": (now + timedelta(days=1)).isoformat(),
    }
    before = await snapshot(app, a, usage_range)
    assert before["/api/v1/usage"][1]["total"]["calls"] == 1  # A has usage for B not to see
    assert before[f"/api/v1/runs/{a.ids['priced_run']}/llm-calls"][1]["tokens"] == 15

    mounted = id_routes(app)
    assert mounted - ROUTES.keys() == set(), "routes with a path parameter need a probe"
    probed = 0
    for (method, template), probe in ROUTES.items():
        if (method, template) not in mounted:
            continue  # not mounted in this build (a route still landing)
        for target in probe.targets:
            values = {param: b_ids.get(name) or a.ids[name] for param, name in target.items()}
            # A's ids give way to ids nobody has; qualifiers and B's own ids stay.
            named = [
                param
                for param, name in target.items()
                if param not in QUALIFIERS and name not in b_ids
            ]
            unknown = {
                param: str(uuid.uuid4()) if param in named else value
                for param, value in values.items()
            }
            theirs = await call(b.client, method, template.format(**values), probe)
            missing = await call(b.client, method, template.format(**unknown), probe)
            label = f"{method} {template} on {target}"
            status, code = (
                (401, "unauthenticated") if (method, template) in SIGNED else (404, "not_found")
            )
            assert theirs.status_code == status, (label, theirs.text)
            assert without([values[p] for p in named], theirs) == without(
                [unknown[p] for p in named], missing
            ), label
            assert theirs.json() == {"error": {"code": code, "message": IsStr(), "details": {}}}, (
                label
            )
            probed += 1
    assert ROUTES.keys() - LANDING <= mounted, "a probed route is gone; update ROUTES"
    assert probed >= 40

    after = await snapshot(app, a, usage_range)
    assert after == before
    assert after[f"/api/v1/reviews/{a.ids['review']}"][1]["status"] == "pending"
    assert after[f"/api/v1/runs/{a.ids['outreach_run']}"][1]["status"] == "waiting"
    assert after[f"/api/v1/runs/{a.ids['dead_run']}"][1]["status"] == "dead"
    assert after[f"/api/v1/prompts/{a.ids['prompt']}"][1]["version"] == 1
    assert after["me (API key)"][0] == 200
    assert [i["status"] for i in after["/api/v1/invitations"][1]["items"]] == [
        "accepted",
        "pending",
    ]
    assert after[f"/api/v1/users/{a.ids['user']}"][1]["role"] == "operator"


async def test_another_tenants_lists_hold_nothing_of_its_objects(
    app: FastAPI, signup: Signup
) -> None:
    a = await populate(app, await signup("acme"))
    b = await signup("globex")
    empty = {"items": []}
    lists: dict[str, tuple[dict[str, Any], Any]] = {
        "/api/v1/runs": ({}, {"items": [], "next_cursor": None}),
        "/api/v1/workflows": ({}, empty),
        "/api/v1/knowledge-bases": ({}, empty),
        "/api/v1/schedules": ({}, empty),
        "/api/v1/hooks": ({}, empty),
        "/api/v1/prompts": ({}, empty),
        "/api/v1/api-keys": ({}, {"items": [], "next_cursor": None}),
        "/api/v1/invitations": ({}, {"items": [], "next_cursor": None}),
        "/api/v1/users": (
            {},
            {
                "items": [
                    {
                        "id": IsStr(),
                        "email": "admin@globex.example",
                        "name": "Admin",
                        "role": "admin",
                        "active": True,
                        "created_at": IsStr(),
                        "last_login_at": AnyThing(),
                    }
                ],
                "next_cursor": None,
            },
        ),
    }
    # B's audit log holds B's registration alone, whatever A did.
    lists["/api/v1/audit"] = (
        {},
        {
            "items": [
                {
                    "id": IsStr(),
                    "created_at": IsStr(),
                    "actor_kind": "user",
                    "actor_id": IsStr(),
                    "actor": "admin@globex.example",
                    "action": "auth.register",
                    "target_kind": "user",
                    "target_id": IsStr(),
                    "client_address": "127.0.0.1",
                    "details": {"role": "admin", "tenant_created": True},
                }
            ],
            "next_cursor": None,
        },
    )
    for action in ("invitation.create", "api_key.create", "run.retry", "review.decide"):
        lists[f"/api/v1/audit?action={action}"] = ({}, {"items": [], "next_cursor": None})
    for status in ("pending", "approved", "edited", "rejected", "submitted", "cancelled"):
        lists[f"/api/v1/reviews?status={status}"] = ({}, empty)
    for run in ("outreach_run", "dead_run", "priced_run"):
        lists[f"/api/v1/reviews?run_id={a.ids[run]}"] = ({}, empty)
    for status in ("queued", "running", "waiting", "succeeded", "failed", "dead", "cancelled"):
        lists[f"/api/v1/runs?status={status}"] = ({}, {"items": [], "next_cursor": None})
    lists["/api/v1/runs?workflow_id=outreach"] = ({}, {"items": [], "next_cursor": None})
    lists["/api/v1/workflows?workflow_id=outreach"] = ({}, empty)
    lists["/api/v1/workflows?latest=true"] = ({}, empty)
    nothing = {
        "calls": 0,
        "input_tokens": 0,
        "output_tokens": 0,
        "cached_input_tokens": 0,
        "cache_write_tokens": 0,
        "reasoning_tokens": 0,
        "cost_usd": "0",
        "unpriced_calls": 0,
    }
    for grouping in ("day", "model", "workflow", "agent"):
        lists[f"/api/v1/usage?group_by={grouping}"] = (
            {},
            {
                "group_by": grouping,
                "since": IsStr(),
                "until": IsStr(),
                "items": [],
                "total": {"key": "total", **nothing},
            },
        )
    for path, (params, expected) in lists.items():
        response = await b.client.get(path, params=params or None)
        assert (response.status_code, response.json()) == (200, expected), path
        for value in a.ids.values():
            if len(value) > 8:  # ids, not words like "outreach" that B may also use
                assert value not in response.text, (path, value)

    exported = await b.client.get("/api/v1/audit/export", params={"format": "jsonl"})
    assert exported.status_code == 200, exported.text
    assert [json.loads(line)["action"] for line in exported.text.splitlines()] == [
        "auth.register",
        "audit.export",
    ]
    assert "acme" not in exported.text

    if ("GET", "/api/v1/events") in mounted_routes(app):
        async with asyncio.timeout(STREAM_SECONDS):
            backlog = await b.client.get("/api/v1/events", params={"follow": "false", "after": 0})
        assert backlog.status_code == 200, backlog.text
        for value in a.ids.values():
            if len(value) > 8:
                assert value not in backlog.text, value
        assert "acme" not in backlog.text

    # A still sees its own, so the empty lists above are isolation, not emptiness.
    own_log = (await a.admin.client.get("/api/v1/audit", params={"limit": 200})).json()
    assert {"invitation.create", "api_key.create", "auth.register"} <= {
        item["action"] for item in own_log["items"]
    }
    own = (await a.admin.client.get("/api/v1/runs")).json()
    assert len(own["items"]) == 4  # three started, one indexing the knowledge base's document
