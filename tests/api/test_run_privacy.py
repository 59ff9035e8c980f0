"""Runs private to one user (`runs.private_to`, what an app such as scoping sets) through the
generic run API, on both databases: another member of the same tenant finds no such run on any
route that names one (the 404 an unknown id gets, body for body), and its lists, pages, reviews,
dead letters and the tenant's event stream leave it out; the run's owner and the tenant's admins
see it; a sub-workflow run is as private as its parent; other runs stay the tenant's."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from batonflow.api.deps import ApiState
from batonflow.runs import service as run_service
from batonflow.runs.service import Actor
from batonflow.store import workflows as workflow_store
from batonflow.store.db import Conn
from tests.api.conftest import Signup, client_for
from tests.api.flows import FAILING, QUICK, settled, start, store, streamed_runs
from tests.api.test_admin import member

APPROVAL = """
id: approval
version: "1"
steps:
  - id: approve
    kind: review
    subject: "ship it?"
    reviewers: [operator, admin]
outputs: {}
"""

PARENT = """
id: parent
version: "1"
inputs:
  text: {type: string}
steps:
  - {id: call, kind: workflow, workflow: quick, version: "1", args: {text: "{{ inputs.text }}"}}
outputs: {}
"""

RUN_ROUTES = [
    ("GET", "/api/v1/runs/{id}", None),
    ("GET", "/api/v1/runs/{id}/attempts", None),
    ("GET", "/api/v1/runs/{id}/llm-calls", None),
    ("GET", "/api/v1/runs/{id}/events?follow=false", None),
    ("GET", "/api/v1/runs/{id}/events/history", None),
    ("POST", "/api/v1/runs/{id}/cancel", {"reason": "not mine"}),
    ("POST", "/api/v1/runs/{id}/retry", None),
    ("POST", "/api/v1/runs/{id}/dismiss", {"reason": "not mine"}),
    ("POST", "/api/v1/runs/{id}/steps/approve/override", {"output": 1, "reason": "not mine"}),
]
REVIEW_ROUTES = [
    ("GET", "/api/v1/reviews/{id}", None),
    ("POST", "/api/v1/reviews/{id}/decision", {"decision": "approve"}),
]


@dataclass
class Tenant:
    admin: httpx.AsyncClient
    ada: httpx.AsyncClient  # owns the private runs
    bob: httpx.AsyncClient  # another operator of the tenant
    rita: httpx.AsyncClient  # a reviewer of the tenant
    runs: dict[str, str]  # name -> run id
    review: str  # the pending review of ada's `waiting` run

    async def close(self) -> None:
        for client in (self.ada, self.bob, self.rita):
            await client.aclose()


async def _private_run(
    state: ApiState, tenant_id: str, workflow_id: str, owner: str, inputs: dict[str, Any]
) -> str:
    """Start a run private to `owner` the way an app does: through the run service."""

    async def work(conn: Conn) -> str:
        version = await workflow_store.get_version(conn, tenant_id, workflow_id)
        run = await run_service.start_run(
            conn,
            tenant_id=tenant_id,
            version=version,
            inputs=inputs,
            actor=Actor("ada@acme.example", frozenset()),
            now=state.now(),
            private_to=owner,
        )
        return run.id

    run_id: str = await state.transact(work)
    state.committed([])
    return run_id


async def _populate(app: FastAPI, signup: Signup) -> Tenant:
    admin = await signup("acme")
    ada = await member(admin, app, "ada@acme.example", "operator")
    bob = await member(admin, app, "bob@acme.example", "operator")
    rita = await member(admin, app, "rita@acme.example", "reviewer")
    for source in (QUICK, FAILING, APPROVAL, PARENT):
        await store(admin.client, source)
    tenant_id = (await admin.client.get("/api/v1/me")).json()["tenant"]["id"]
    state: ApiState = app.state.batonflow
    runs = {"older": (await start(admin.client, "quick", {"text": "public"}))["id"]}
    for name, workflow_id, inputs in [
        ("done", "quick", {"text": "ada's secret"}),
        ("waiting", "approval", {}),
        ("dead", "failing", {}),
        ("parent", "parent", {"text": "ada's other secret"}),
    ]:
        runs[name] = await _private_run(state, tenant_id, workflow_id, ada["id"], inputs)
    for name, status in [
        ("older", "succeeded"),
        ("done", "succeeded"),
        ("waiting", "waiting"),
        ("dead", "dead"),
        ("parent", "succeeded"),
    ]:
        await settled(admin.client, runs[name], (status,))
    runs["newer"] = (await start(admin.client, "quick", {"text": "public too"}))["id"]
    await settled(admin.client, runs["newer"], ("succeeded",))
    listed = (await admin.client.get("/api/v1/runs", params={"workflow_id": "quick"})).json()
    (child,) = [r["id"] for r in listed["items"] if r["parent_run_id"] == runs["parent"]]
    runs["child"] = child
    reviews = (await admin.client.get("/api/v1/reviews", params={"run_id": runs["waiting"]})).json()
    return Tenant(
        admin.client,
        client_for(app, ada["access_token"]),
        client_for(app, bob["access_token"]),
        client_for(app, rita["access_token"]),
        runs,
        reviews["items"][0]["id"],
    )


@pytest.fixture
async def tenant(app: FastAPI, signup: Signup) -> AsyncIterator[Tenant]:
    """The tenant `_populate` fills, its clients closed afterwards."""
    populated = await _populate(app, signup)
    yield populated
    await populated.close()


def _without(value: str, response: httpx.Response) -> tuple[int, Any]:
    return response.status_code, json.loads(response.text.replace(value, "<id>"))


async def _call(client: httpx.AsyncClient, method: str, path: str, body: Any) -> httpx.Response:
    async with asyncio.timeout(10):  # a stream that does not end is no 404
        return await client.request(method, path, json=body)


async def _listed(client: httpx.AsyncClient, path: str, **params: Any) -> list[str]:
    body = (await client.get(path, params=params)).json()
    return [item.get("id", item.get("run_id")) for item in body["items"]]


async def test_another_member_finds_no_private_run_on_any_route(
    tenant: Tenant,
) -> None:
    bob, runs = tenant.bob, tenant.runs
    before = (await tenant.admin.get(f"/api/v1/runs/{runs['waiting']}")).json()
    private = ("done", "waiting", "dead", "parent", "child")
    for name in private:
        for method, template, body in RUN_ROUTES:
            theirs = await _call(bob, method, template.format(id=runs[name]), body)
            unknown_id = str(uuid.uuid4())
            missing = await _call(bob, method, template.format(id=unknown_id), body)
            label = (name, method, template)
            assert theirs.status_code == 404, (label, theirs.text)
            assert _without(runs[name], theirs) == _without(unknown_id, missing), label
    # A reviewer (who may decide reviews naming `operator`) finds no such review either.
    for method, template, body in REVIEW_ROUTES:
        theirs = await _call(tenant.rita, method, template.format(id=tenant.review), body)
        unknown_id = str(uuid.uuid4())
        missing = await _call(tenant.rita, method, template.format(id=unknown_id), body)
        assert theirs.status_code == 404, (template, theirs.text)
        assert _without(tenant.review, theirs) == _without(unknown_id, missing), template
    assert await _listed(tenant.rita, "/api/v1/reviews") == []

    # Nothing changed: the run still waits on its review, the dead run is still dead.
    assert (await tenant.admin.get(f"/api/v1/runs/{runs['waiting']}")).json() == before
    dead = (await tenant.admin.get(f"/api/v1/runs/{runs['dead']}")).json()
    assert dead["status"] == "dead"
    review = (await tenant.admin.get(f"/api/v1/reviews/{tenant.review}")).json()
    assert review["status"] == "pending"


async def test_lists_pages_and_streams_leave_out_what_the_reader_may_not_see(
    tenant: Tenant,
) -> None:
    runs = tenant.runs
    public = [runs["newer"], runs["older"]]
    everything = [
        runs["newer"],
        runs["child"],
        runs["parent"],
        runs["dead"],
        runs["waiting"],
        runs["done"],
        runs["older"],
    ]
    assert await _listed(tenant.bob, "/api/v1/runs") == public
    # One run a page: the private runs between the two public ones are skipped, not lost.
    first = (await tenant.bob.get("/api/v1/runs", params={"limit": 1})).json()
    assert [r["id"] for r in first["items"]] == [runs["newer"]]
    second = (
        await tenant.bob.get("/api/v1/runs", params={"limit": 1, "cursor": first["next_cursor"]})
    ).json()
    assert ([r["id"] for r in second["items"]], second["next_cursor"]) == (
        [runs["older"]],
        None,
    )
    assert await _listed(tenant.bob, "/api/v1/runs", q="secret") == []
    assert await _listed(tenant.bob, "/api/v1/runs", id=runs["done"][-8:]) == []
    assert await _listed(tenant.bob, "/api/v1/reviews") == []
    assert await _listed(tenant.bob, "/api/v1/dead-letters") == []

    for reader in (tenant.ada, tenant.admin):
        assert await _listed(reader, "/api/v1/runs") == everything
        # The child run was given its parent's text.
        assert await _listed(reader, "/api/v1/runs", q="secret") == [
            runs["child"],
            runs["parent"],
            runs["done"],
        ]
        assert await _listed(reader, "/api/v1/dead-letters") == [runs["dead"]]
        assert await _listed(reader, "/api/v1/reviews") == [tenant.review]
        for name in ("done", "child"):
            response = await reader.get(f"/api/v1/runs/{runs[name]}")
            assert response.status_code == 200, response.text
        history = await reader.get(f"/api/v1/runs/{runs['done']}/events/history")
        assert [e["type"] for e in history.json()["items"]][-1] == "run.succeeded"

    assert await streamed_runs(tenant.bob) == set(public)
    assert await streamed_runs(tenant.ada) == set(everything)
    assert await streamed_runs(tenant.admin) == set(everything)


async def test_the_owner_acts_on_a_private_run_and_another_member_on_a_public_one(
    tenant: Tenant,
) -> None:
    runs = tenant.runs
    # The tenant's admin decides the review of ada's run (an operator may not decide).
    decided = await tenant.admin.post(
        f"/api/v1/reviews/{tenant.review}/decision", json={"decision": "approve"}
    )
    assert (decided.status_code, decided.json()["status"]) == (200, "approved")
    await settled(tenant.ada, runs["waiting"], ("succeeded",))
    dismissed = await tenant.ada.post(
        f"/api/v1/runs/{runs['dead']}/dismiss", json={"reason": "mine to drop"}
    )
    assert (dismissed.status_code, dismissed.json()["status"]) == (200, "cancelled")

    await store(tenant.admin, APPROVAL.replace('"1"', '"2"'))
    public = await start(tenant.admin, "approval")
    await settled(tenant.bob, public["id"], ("waiting",))
    cancelled = await tenant.bob.post(
        f"/api/v1/runs/{public['id']}/cancel", json={"reason": "not needed"}
    )
    assert (cancelled.status_code, cancelled.json()["status"]) == (200, "cancelled")
