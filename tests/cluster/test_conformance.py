"""Engine conformance over every way of executing: the in-process executor, a polling
`batonflow worker`, and a Celery `batonflow worker --queues` on Redis and on RabbitMQ, each on
SQLite and PostgreSQL. One set of workflows, started at once; every execution must end each
run in the same state, with the same outputs, step states, attempts and events."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from batonflow.apps.demo import registry as demo_registry
from batonflow.settings import Settings
from batonflow.store import runs as run_store
from batonflow.store.db import reading
from batonflow.store.tenants import ensure_tenant
from batonflow.store.workflows import save_version
from batonflow.workflows.executor import Executor
from batonflow.workflows.validation import load_spec
from tests.cluster.conftest import TENANT, Queues, Workers, settled
from tests.conftest import now, start

pytestmark = pytest.mark.slow

LINEAR = """
id: linear
version: 1
inputs:
  word: {type: string}
steps:
  - {id: one, kind: agent, capability: demo.sleep, args: {value: "{{ inputs.word }}"}}
  - id: two
    kind: agent
    capability: demo.sleep
    needs: [one]
    args: {value: "{{ state.one.value | upper }}"}
outputs: {shout: "{{ state.two.value }}"}
"""
PARALLEL = """
id: parallel
version: 1
steps:
  - {id: left, kind: agent, capability: demo.sleep, args: {ms: 100, value: L}}
  - {id: right, kind: agent, capability: demo.sleep, args: {ms: 100, value: R}}
  - id: join
    kind: agent
    capability: demo.sleep
    needs: [left, right]
    args: {value: "{{ state.left.value ~ state.right.value }}"}
outputs: {joined: "{{ state.join.value }}"}
"""
MAP = """
id: mapper
version: 1
steps:
  - id: quotes
    kind: map
    over: "{{ ['a', 'b', 'c'] }}"
    concurrency: 2
    step: {kind: agent, capability: quote.price, args: {symbol: "{{ item }}"}}
  - {id: total, kind: agent, capability: report.summarize, needs: [quotes],
     args: {quotes: "{{ state.quotes }}"}}
outputs: {count: "{{ state.total.count }}", first: "{{ state.quotes[0].symbol }}"}
"""
FLAKY = """
id: flaky
version: 1
steps:
  - id: wobble
    kind: agent
    capability: demo.flaky
    args: {fail_times: 2, value: 7}
    retry: {max_attempts: 3, backoff: {initial: 0.05}}
outputs: {value: "{{ state.wobble.value }}", attempt: "{{ state.wobble.attempt }}"}
"""
DEAD = """
id: dies
version: 1
steps:
  - {id: ok, kind: agent, capability: demo.noop}
  - id: boom
    kind: agent
    capability: demo.fail
    needs: [ok]
    args: {message: "provider down"}
    retry: {max_attempts: 2, backoff: {initial: 0.05, jitter: 0}}
"""
BRANCHES = """
id: branches
version: 1
steps:
  - {id: small, kind: agent, capability: demo.sleep, when: "true", args: {value: small}}
  - {id: big, kind: agent, capability: demo.sleep, when: "false", args: {value: big}}
  - {id: after_big, kind: agent, capability: demo.noop, needs: [big]}
outputs: {path: "{{ state.small.value }}"}
"""
CHILD = """
id: child
version: 2
inputs:
  word: {type: string}
steps:
  - {id: echo, kind: agent, capability: demo.sleep, args: {value: "{{ inputs.word | upper }}"}}
outputs: {loud: "{{ state.echo.value }}"}
"""
PARENT = """
id: parent
version: 1
steps:
  - {id: sub, kind: workflow, workflow: child, version: 2, args: {word: hello}}
  - {id: after, kind: agent, capability: demo.sleep, needs: [sub],
     args: {value: "{{ state.sub.loud }}!"}}
outputs: {result: "{{ state.after.value }}"}
"""
STARTED, DONE = "step.started", "step.completed"

# name -> (spec, inputs, run status, outputs, {step: (status, attempt)}, event types or None)
SCENARIOS: dict[str, tuple[str, dict[str, Any], str, Any, dict[str, tuple[str, int]], Any]] = {
    "linear": (
        LINEAR,
        {"word": "baton"},
        "succeeded",
        {"shout": "BATON"},
        {"one": ("succeeded", 1), "two": ("succeeded", 1)},
        ["run.queued", "run.started", STARTED, DONE, STARTED, DONE, "run.succeeded"],
    ),
    "parallel": (
        PARALLEL,
        {},
        "succeeded",
        {"joined": "LR"},
        {"left": ("succeeded", 1), "right": ("succeeded", 1), "join": ("succeeded", 1)},
        None,
    ),
    "map": (
        MAP,
        {},
        "succeeded",
        {"count": 3, "first": "A"},
        {
            "quotes": ("succeeded", 1),
            "quotes[0]": ("succeeded", 1),
            "quotes[1]": ("succeeded", 1),
            "quotes[2]": ("succeeded", 1),
            "total": ("succeeded", 1),
        },
        None,
    ),
    "flaky": (
        FLAKY,
        {},
        "succeeded",
        {"value": 7, "attempt": 3},
        {"wobble": ("succeeded", 3)},
        ["run.queued", "run.started"]
        + [STARTED, "step.failed"] * 2
        + [STARTED, DONE, "run.succeeded"],
    ),
    "dead": (
        DEAD,
        {},
        "dead",
        None,
        {"ok": ("succeeded", 1), "boom": ("failed", 2)},
        ["run.queued", "run.started", STARTED, DONE] + [STARTED, "step.failed"] * 2 + ["run.dead"],
    ),
    "branches": (
        BRANCHES,
        {},
        "succeeded",
        {"path": "small"},
        {"small": ("succeeded", 1), "big": ("skipped", 1), "after_big": ("skipped", 0)},
        None,
    ),
    "subworkflow": (
        PARENT,
        {},
        "succeeded",
        {"result": "HELLO!"},
        {"sub": ("succeeded", 1), "after": ("succeeded", 1)},
        None,
    ),
}


async def start_scenarios(engine: AsyncEngine) -> tuple[str, dict[str, str]]:
    """Store the workflows and queue one run of each scenario: (tenant id, name -> run id)."""
    async with engine.begin() as conn:
        tenant_id = await ensure_tenant(conn, TENANT, now())
        child = load_spec(CHILD, "child.yaml", demo_registry())
        await save_version(conn, tenant_id, child, CHILD, now())
    runs = {}
    for name, (spec, inputs, *_) in SCENARIOS.items():
        runs[name] = (await start(engine, tenant_id, spec, inputs)).id
    return tenant_id, runs


async def check(engine: AsyncEngine, tenant_id: str, runs: dict[str, str]) -> None:
    got: dict[str, Any] = {}
    want: dict[str, Any] = {}
    for name, (_, _, status, outputs, steps, events) in SCENARIOS.items():
        async with reading(engine) as conn:
            run = await run_store.get_run(conn, tenant_id, runs[name])
            rows = await run_store.list_steps(conn, tenant_id, run.id)
            stored = await run_store.list_events(conn, tenant_id, run.id)
        got[name] = (
            run.status,
            run.outputs,
            {row["key"]: (row["status"], row["attempt"]) for row in rows},
            [e.type for e in stored] if events is not None else None,
        )
        want[name] = (status, outputs, steps, events)
    assert got == want


async def test_conformance_in_process(engine: AsyncEngine, settings: Settings) -> None:
    tenant_id, runs = await start_scenarios(engine)
    executor = Executor(engine, demo_registry(), settings)
    try:
        await executor.drain(runs.values())
    finally:
        executor.close()
    await check(engine, tenant_id, runs)


async def test_conformance_polling_worker(store: tuple[str, AsyncEngine], workers: Workers) -> None:
    engine = store[1]
    tenant_id, runs = await start_scenarios(engine)
    workers.spawn()
    await settled(engine, list(runs.values()), workers)
    await check(engine, tenant_id, runs)


async def test_conformance_celery_worker(
    store: tuple[str, AsyncEngine], workers: Workers, queues: Queues
) -> None:
    engine = store[1]
    tenant_id, runs = await start_scenarios(engine)
    default = queues("batonflow")
    workers.celery(queues, [default], default_queue=default)
    await settled(engine, list(runs.values()), workers)
    await check(engine, tenant_id, runs)
    assert queues.depth(default) == 0
