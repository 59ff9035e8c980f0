"""Every attempt keeps the arguments its step's templates resolved to, on both databases: what
the step was actually given, beside the templates of its spec."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from batonflow.store import runs as run_store
from batonflow.store.db import reading
from batonflow.workflows.executor import Executor
from tests.conftest import start

CHAIN = """
id: chain
version: 1
inputs:
  word: {type: string}
steps:
  - id: one
    kind: agent
    capability: demo.sleep
    args: {value: "{{ inputs.word }}"}
  - id: two
    kind: agent
    capability: demo.sleep
    needs: [one]
    args: {value: "{{ state.one.value | upper }}", ms: 1}
"""


async def test_each_attempt_records_its_resolved_args(
    engine: AsyncEngine, tenant: str, executor: Executor
) -> None:
    run = await start(engine, tenant, CHAIN, {"word": "baton"})
    assert await executor.drain([run.id]) == {run.id: "succeeded"}
    async with reading(engine) as conn:
        attempts = await run_store.list_attempts(conn, tenant, run.id)
    assert [(a["step_key"], a["attempt"], a["status"], a["args"]) for a in attempts] == [
        ("one", 1, "succeeded", {"value": "baton"}),
        ("two", 1, "succeeded", {"value": "BATON", "ms": 1}),
    ]


BAD_ITEM = """
id: bad-item
version: 1
inputs:
  symbols: {type: array}
steps:
  - id: quotes
    kind: map
    over: "{{ inputs.symbols }}"
    concurrency: 1
    step: {kind: agent, capability: quote.price, args: {symbol: "{{ item }}"}}
"""


async def test_a_map_records_its_list_and_each_item_its_args_even_when_refused(
    engine: AsyncEngine, tenant: str, executor: Executor, caplog: pytest.LogCaptureFixture
) -> None:
    run = await start(engine, tenant, BAD_ITEM, {"symbols": ["ACME", ""]})
    with caplog.at_level(logging.WARNING):
        assert await executor.drain([run.id]) == {run.id: "failed"}
    # A refused input is the caller's mistake, reported on the run: nothing is logged as an error.
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    async with reading(engine) as conn:
        attempts = await run_store.list_attempts(conn, tenant, run.id)
    found = sorted(
        (a["step_key"], a["status"], a["args"], (a["error"] or {}).get("code")) for a in attempts
    )
    assert found == [
        ("quotes", "failed", {"over": ["ACME", ""]}, "step_failed"),
        ("quotes[0]", "succeeded", {"symbol": "ACME"}, None),
        ("quotes[1]", "failed", {"symbol": ""}, "invalid_args"),
    ]


UNRESOLVED = """
id: unresolved
version: 1
inputs:
  n: {type: integer}
steps:
  - id: one
    kind: agent
    capability: demo.sleep
    args: {value: "{{ 10 // inputs.n }}"}
"""


async def test_an_attempt_whose_templates_fail_records_no_args(
    engine: AsyncEngine, tenant: str, executor: Executor
) -> None:
    run = await start(engine, tenant, UNRESOLVED, {"n": 0})
    statuses = await executor.drain([run.id])
    async with reading(engine) as conn:
        attempts = await run_store.list_attempts(conn, tenant, run.id)
    assert statuses == {run.id: "failed"}
    assert [(a["step_key"], a["args"], a["error"]["code"]) for a in attempts] == [
        ("one", None, "template_error")
    ]
