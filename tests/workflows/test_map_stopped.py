"""A map step whose run ends while its items are in flight stops quietly: an item's refused
commit (the run failed, the lease is gone) ends the map attempt as stopped, not as a crash."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from batonflow.store import runs as run_store
from batonflow.store.db import reading
from batonflow.workflows.executor import Executor
from tests.conftest import start

SIBLING_FAILS = """
id: sibling-fails
version: 1
steps:
  - id: boom
    kind: agent
    capability: demo.fail
    args: {message: "provider down", retryable: false}
  - id: naps
    kind: map
    over: "{{ [1, 2, 3] }}"
    concurrency: 3
    step: {kind: agent, capability: demo.sleep, args: {ms: 300, value: "{{ item }}"}}
"""


async def test_a_map_stops_quietly_when_its_run_fails_under_it(
    engine: AsyncEngine, tenant: str, executor: Executor, caplog: pytest.LogCaptureFixture
) -> None:
    run = await start(engine, tenant, SIBLING_FAILS)
    with caplog.at_level(logging.ERROR):
        assert await executor.drain([run.id]) == {run.id: "failed"}
        await executor.drain([])  # the map's attempt ends after the run did
    crashes = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert crashes == []
    async with reading(engine) as conn:
        stored = await run_store.get_run(conn, tenant, run.id)
    assert stored.error == {
        "code": "step_failed",
        "message": "provider down",
        "details": {},
        "step": "boom",
    }
