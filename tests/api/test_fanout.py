"""Caps on fan-out: a `map` past its item limit, sub-workflows nested too deep, and a tree of
runs past its size fail the step with `fanout_exceeded`, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from batonflow.api.app import create_app
from batonflow.settings import Settings
from tests.api.conftest import PASSWORD, client_for, core_apps
from tests.api.flows import settled, start, store

MAPPED = """
id: mapped
version: "1"
inputs:
  items: {type: array}
steps:
  - id: each
    kind: map
    over: "{{ inputs.items }}"
    step: {kind: agent, capability: demo.noop}
outputs: {}
"""
LEAF = """
id: leaf
version: "1"
steps:
  - {id: work, kind: agent, capability: demo.noop}
outputs: {}
"""


def calling(name: str, callee: str, times: int = 1) -> str:
    steps = "\n".join(
        f"  - {{id: call{n}, kind: workflow, workflow: {callee}, version: '1'}}"
        for n in range(times)
    )
    return f'id: {name}\nversion: "1"\nsteps:\n{steps}\noutputs: {{}}\n'


@pytest.fixture
async def capped(api_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    settings = api_settings.model_copy(
        update={"max_map_items": 3, "max_workflow_depth": 1, "max_runs_per_root": 3}
    )
    app: FastAPI = create_app(settings, apps=core_apps())
    async with app.router.lifespan_context(app), client_for(app) as anonymous:
        registered = await anonymous.post(
            "/api/v1/auth/register",
            json={"tenant": "acme", "email": "a@acme.example", "password": PASSWORD, "name": "A"},
        )
        async with client_for(app, registered.json()["access_token"]) as admin:
            yield admin


async def failure(client: httpx.AsyncClient, workflow: str, inputs: Any = None) -> Any:
    run = await start(client, workflow, inputs)
    body = await settled(client, run["id"], ("succeeded", "failed", "dead"))
    return body["status"], body["error"]


async def test_a_map_past_its_item_limit_fails_without_running_an_item(
    capped: httpx.AsyncClient,
) -> None:
    await store(capped, MAPPED)
    assert await failure(capped, "mapped", {"items": [1, 2, 3]}) == ("succeeded", None)
    assert await failure(capped, "mapped", {"items": [1, 2, 3, 4]}) == (
        "failed",
        {
            "step": "each",
            "code": "fanout_exceeded",
            "message": "the map has 4 items, over the limit of 3 (BATONFLOW_MAX_MAP_ITEMS); "
            "split the list or raise the limit",
            "details": {"items": 4, "limit": 3},
        },
    )


async def test_sub_workflows_nested_past_the_depth_limit_fail(capped: httpx.AsyncClient) -> None:
    await store(capped, LEAF)
    await store(capped, calling("middle", "leaf"))
    await store(capped, calling("top", "middle"))
    assert await failure(capped, "middle") == ("succeeded", None)
    status, error = await failure(capped, "top")
    assert (status, error["code"]) == ("failed", "subworkflow_failed")  # the middle run failed
    assert error["details"]["child_error"] == {
        "step": "call0",
        "code": "fanout_exceeded",
        "message": "sub-workflows would nest 2 deep, over the limit of 1 "
        "(BATONFLOW_MAX_WORKFLOW_DEPTH)",
        "details": {"depth": 2, "limit": 1},
    }


async def test_a_tree_of_runs_past_its_size_fails(capped: httpx.AsyncClient) -> None:
    await store(capped, LEAF)
    await store(capped, calling("two", "leaf", times=2))
    await store(capped, calling("three", "leaf", times=3))
    assert await failure(capped, "two") == ("succeeded", None)
    status, error = await failure(capped, "three")
    assert (status, error["code"], error["details"]) == (
        "failed",
        "fanout_exceeded",
        {"runs": 3, "limit": 3},
    )
