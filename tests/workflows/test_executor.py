"""The executor end to end on both databases: runs go from queued to their end state."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from batonflow.store import runs as run_store
from batonflow.store.db import reading
from batonflow.workflows.executor import Executor
from tests.conftest import start

LINEAR = """
id: linear
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
    args: {value: "{{ state.one.value | upper }}"}
outputs:
  shout: "{{ state.two.value }}"
"""


async def test_linear_run_succeeds_with_outputs(engine: AsyncEngine, tenant: str, executor: Executor) -> None:
    run = await start(engine, tenant, LINEAR, {"word": "baton"})
    statuses = await executor.drain([run.id])
    assert statuses == {run.id: "succeeded"}
    async with reading(engine) as conn:
        stored = await run_store.get_run(conn, tenant, run.id)
        events = await run_store.list_events(conn, tenant, run.id)
    assert stored.outputs == {"shout": "BATON"}
    assert [(e.seq, e.type, e.step_key) for e in events] == [
        (1, "run.queued", None),
        (2, "run.started", None),
        (3, "step.started", "one"),
        (4, "step.completed", "one"),
        (5, "step.started", "two"),
        (6, "step.completed", "two"),
        (7, "run.succeeded", None),
    ]
