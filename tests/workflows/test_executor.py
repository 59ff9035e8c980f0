"""The executor end to end on both databases: runs go from queued to their end state."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from batonflow.agents.registry import Registry
from batonflow.apps.demo import registry as demo_registry
from batonflow.errors import NotFound
from batonflow.runs.service import cancel_run
from batonflow.settings import Settings
from batonflow.store import runs as run_store
from batonflow.store.db import reading
from batonflow.store.effects import apply_effect, list_effects
from batonflow.store.tenants import ensure_tenant
from batonflow.store.workflows import save_version
from batonflow.workflows.attempts import Outcome
from batonflow.workflows.checkpoint import Checkpointer, SpecCache
from batonflow.workflows.executor import Executor
from batonflow.workflows.validation import load_spec
from tests.conftest import ACTOR, now, start

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


async def test_linear_run_succeeds_with_outputs(
    engine: AsyncEngine, tenant: str, executor: Executor
) -> None:
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


def _steps(rows: list[dict[str, Any]]) -> dict[str, tuple[str, int]]:
    return {row["key"]: (row["status"], row["attempt"]) for row in rows}


async def _load(engine: AsyncEngine, tenant: str, run_id: str) -> dict[str, Any]:
    async with reading(engine) as conn:
        return {
            "run": await run_store.get_run(conn, tenant, run_id),
            "steps": await run_store.list_steps(conn, tenant, run_id),
            "attempts": await run_store.list_attempts(conn, tenant, run_id),
            "events": await run_store.list_events(conn, tenant, run_id),
        }


PARALLEL = """
id: parallel
version: 1
steps:
  - {id: left, kind: agent, capability: demo.sleep, args: {ms: 200, value: L}}
  - {id: right, kind: agent, capability: demo.sleep, args: {ms: 200, value: R}}
  - id: join
    kind: agent
    capability: demo.sleep
    needs: [left, right]
    args: {value: "{{ state.left.value ~ state.right.value }}"}
outputs: {joined: "{{ state.join.value }}"}
"""


async def test_independent_steps_overlap_and_the_join_waits_for_both(
    engine: AsyncEngine, tenant: str, executor: Executor
) -> None:
    run = await start(engine, tenant, PARALLEL)
    assert await executor.drain([run.id]) == {run.id: "succeeded"}
    data = await _load(engine, tenant, run.id)
    assert data["run"].outputs == {"joined": "LR"}
    spans = {a["step_key"]: (a["started_at"], a["finished_at"]) for a in data["attempts"]}
    assert spans["left"][0] < spans["right"][1]
    assert spans["right"][0] < spans["left"][1]
    assert spans["join"][0] >= max(spans["left"][1], spans["right"][1])


MAP = """
id: mapper
version: 1
inputs:
  symbols: {type: array, default: [a, b, c, d, e]}
steps:
  - id: quotes
    kind: map
    over: "{{ inputs.symbols }}"
    concurrency: 2
    step: {kind: agent, capability: quote.price, args: {symbol: "{{ item }}"}}
  - id: total
    kind: agent
    capability: report.summarize
    needs: [quotes]
    args: {quotes: "{{ state.quotes }}"}
outputs: {count: "{{ state.total.count }}", first: "{{ state.quotes[0].symbol }}"}
"""


async def test_map_runs_its_step_per_item_and_checkpoints_each_item(
    engine: AsyncEngine, tenant: str, executor: Executor
) -> None:
    run = await start(engine, tenant, MAP)
    assert await executor.drain([run.id]) == {run.id: "succeeded"}
    data = await _load(engine, tenant, run.id)
    assert data["run"].outputs == {"count": 5, "first": "A"}
    items = sorted((row["item_index"], row["status"]) for row in data["steps"] if row["parent_key"])
    assert items == [(i, "succeeded") for i in range(5)]
    quotes = next(row for row in data["steps"] if row["key"] == "quotes")["result"]
    assert [q["symbol"] for q in quotes] == ["A", "B", "C", "D", "E"]


MAP_ITEMS_DIE = """
id: items-die
version: 1
steps:
  - id: calls
    kind: map
    over: "{{ [1, 2, 3] }}"
    step:
      kind: agent
      capability: demo.fail
      args: {message: "provider down", retryable: "{{ item != 1 }}"}
      retry: {max_attempts: 2, backoff: {initial: 0.01, jitter: 0}}
"""


async def test_a_map_whose_items_run_out_of_retries_is_dead_with_every_item_named(
    engine: AsyncEngine, tenant: str, executor: Executor
) -> None:
    """Every item runs to its end, and the step's error names each failed one: item 0's
    failure is final at once, items 1 and 2 used both attempts on a retryable error, so a
    retry may get through: dead, not failed."""
    run = await start(engine, tenant, MAP_ITEMS_DIE)
    assert await executor.drain([run.id]) == {run.id: "dead"}
    data = await _load(engine, tenant, run.id)
    down = {"code": "step_failed", "message": "provider down", "details": {}}
    assert data["run"].error == {
        "code": "step_failed",
        "message": "3 of 3 map items failed; item 0 (1): step_failed: provider down "
        "(and 2 more; see the error's details)",
        "details": {
            "failed_items": [
                {"index": 0, "item": 1, "attempts": 1, "error": down},
                {"index": 1, "item": 2, "attempts": 2, "error": down},
                {"index": 2, "item": 3, "attempts": 2, "error": down},
            ],
            "items": 3,
        },
        "step": "calls",
    }


DEAD = """
id: dies
version: 1
steps:
  - id: ok
    kind: agent
    capability: demo.noop
  - id: boom
    kind: agent
    capability: demo.fail
    needs: [ok]
    args: {message: "provider down"}
    retry: {max_attempts: 3, backoff: {initial: 0.01, jitter: 0}}
"""


async def test_exhausted_retries_make_the_run_dead(
    engine: AsyncEngine, tenant: str, executor: Executor
) -> None:
    run = await start(engine, tenant, DEAD)
    assert await executor.drain([run.id]) == {run.id: "dead"}
    data = await _load(engine, tenant, run.id)
    assert data["run"].error == {
        "code": "step_failed",
        "message": "provider down",
        "details": {},
        "step": "boom",
    }
    boom = [
        (a["attempt"], a["status"], a["idempotency_key"])
        for a in data["attempts"]
        if a["step_key"] == "boom"
    ]
    assert boom == [(n, "failed", f"{run.id}:boom:{n}") for n in (1, 2, 3)]
    failed = [
        (e.data["attempt"], e.data["retry_in"], e.data["exhausted"])
        for e in data["events"]
        if e.type == "step.failed"
    ]
    assert failed == [(1, 0.01, False), (2, 0.02, False), (3, None, True)]
    assert data["events"][-1].type == "run.dead"


NOT_RETRYABLE = """
id: fails
version: 1
steps:
  - id: boom
    kind: agent
    capability: demo.fail
    args: {message: "bad request", retryable: false}
    retry: {max_attempts: 5}
"""


async def test_a_non_retryable_error_fails_the_run_at_once(
    engine: AsyncEngine, tenant: str, executor: Executor
) -> None:
    run = await start(engine, tenant, NOT_RETRYABLE)
    assert await executor.drain([run.id]) == {run.id: "failed"}
    data = await _load(engine, tenant, run.id)
    assert _steps(data["steps"]) == {"boom": ("failed", 1)}


FLAKY = """
id: flaky
version: 1
steps:
  - id: wobble
    kind: agent
    capability: demo.flaky
    args: {fail_times: 2, value: 7}
    retry: {max_attempts: 3, backoff: {initial: 0.01}}
outputs: {value: "{{ state.wobble.value }}", attempt: "{{ state.wobble.attempt }}"}
"""


async def test_a_flaky_step_succeeds_on_a_later_attempt(
    engine: AsyncEngine, tenant: str, executor: Executor
) -> None:
    run = await start(engine, tenant, FLAKY)
    assert await executor.drain([run.id]) == {run.id: "succeeded"}
    data = await _load(engine, tenant, run.id)
    assert data["run"].outputs == {"value": 7, "attempt": 3}
    assert [a["status"] for a in data["attempts"]] == ["failed", "failed", "succeeded"]


CONDITIONS = """
id: branches
version: 1
inputs:
  big: {type: boolean}
steps:
  - {id: small_path, kind: agent, capability: demo.sleep, when: "not inputs.big", args: {value: small}}
  - {id: big_path, kind: agent, capability: demo.sleep, when: "inputs.big", args: {value: big}}
  - {id: after_big, kind: agent, capability: demo.noop, needs: [big_path]}
  - id: join
    kind: agent
    capability: demo.sleep
    needs: [small_path, big_path]
    when: "true"
    args: {value: "{{ state.small_path.value if state.small_path else state.big_path.value }}"}
outputs: {path: "{{ state.join.value }}"}
"""


async def test_when_skips_a_step_and_its_dependents_unless_they_decide_themselves(
    engine: AsyncEngine, tenant: str, executor: Executor
) -> None:
    run = await start(engine, tenant, CONDITIONS, {"big": False})
    assert await executor.drain([run.id]) == {run.id: "succeeded"}
    data = await _load(engine, tenant, run.id)
    assert data["run"].outputs == {"path": "small"}
    assert {k: s for k, (s, _) in _steps(data["steps"]).items()} == {
        "small_path": "succeeded",
        "big_path": "skipped",
        "after_big": "skipped",
        "join": "succeeded",
    }


TIMEOUT = """
id: slow
version: 1
steps:
  - id: nap
    kind: agent
    capability: demo.sleep
    args: {ms: 5000}
    timeout: 0.1
"""


async def test_a_step_past_its_timeout_fails_with_step_timeout(
    engine: AsyncEngine, tenant: str, executor: Executor
) -> None:
    run = await start(engine, tenant, TIMEOUT)
    assert await executor.drain([run.id]) == {run.id: "dead"}
    data = await _load(engine, tenant, run.id)
    assert data["run"].error == {
        "code": "step_timeout",
        "message": "'demo.sleep' passed its timeout of 0.1s",
        "details": {},
        "step": "nap",
    }


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
  - id: sub
    kind: workflow
    workflow: child
    version: 2
    args: {word: hello}
  - id: after
    kind: agent
    capability: demo.sleep
    needs: [sub]
    args: {value: "{{ state.sub.loud }}!"}
outputs: {result: "{{ state.after.value }}"}
"""


async def test_a_workflow_step_runs_a_pinned_sub_workflow(
    engine: AsyncEngine, tenant: str, executor: Executor, registry: Registry
) -> None:
    child_spec = load_spec(CHILD, "child.yaml", registry)
    async with engine.begin() as conn:
        await save_version(conn, tenant, child_spec, CHILD, now())
    run = await start(engine, tenant, PARENT)
    assert await executor.drain([run.id]) == {run.id: "succeeded"}
    data = await _load(engine, tenant, run.id)
    assert data["run"].outputs == {"result": "HELLO!"}
    async with reading(engine) as conn:
        runs = await run_store.list_runs(conn, tenant)
    child = next(r for r in runs if r.parent_run_id == run.id)
    assert (child.workflow_id, child.workflow_version, child.status) == ("child", "2", "succeeded")
    assert child.outputs == {"loud": "HELLO"}


async def test_a_stale_workers_late_write_is_rejected(
    engine: AsyncEngine, tenant: str, specs: SpecCache
) -> None:
    run = await start(engine, tenant, LINEAR, {"word": "x"})
    ghost = Checkpointer(specs, worker="ghost", lease_seconds=0.05)
    async with engine.begin() as conn:
        claimed = await ghost.commit(conn, now(), start_runs=[run.id], capacity=1)
    (claim,) = claimed.claims
    # The ghost stalls; its lease runs out and the reaper hands the step to someone else.
    await asyncio.sleep(0.1)
    async with engine.begin() as conn:
        expired = await run_store.expired_leases(conn, now())
        reaped = await ghost.reap(conn, now(), expired)
    assert [e.type for e in reaped.events] == ["step.lease_expired"]
    other = Checkpointer(specs, worker="other", lease_seconds=30)
    async with engine.begin() as conn:
        again = await other.commit(conn, now(), claim=[(run.id, "one")], capacity=1)
    assert [(c.key, c.attempt, c.dispatch) for c in again.claims] == [("one", 1, 2)]
    late = Outcome(run.id, "one", claim.dispatch, "ghost", "succeeded", result={"value": "late"})
    async with engine.begin() as conn:
        result = await ghost.commit(conn, now(), [late])
    assert result.rejected == [late]
    data = await _load(engine, tenant, run.id)
    assert _steps(data["steps"])["one"] == ("running", 1)
    assert [(a["dispatch"], a["status"], a["worker"]) for a in data["attempts"]] == [
        (1, "lost", "ghost")
    ]


SEND = """
id: send
version: 1
steps:
  - id: mail
    kind: tool
    tool: email.send
    args: {to: a@example.com, subject: hi, body: hello}
outputs: {id: "{{ state.mail.message_id }}", fresh: "{{ state.mail.sent_now }}"}
"""


async def test_a_repeated_attempt_applies_its_side_effect_once(
    engine: AsyncEngine, tenant: str, executor: Executor, specs: SpecCache
) -> None:
    run = await start(engine, tenant, SEND)
    # A worker claims the send, applies the effect, and dies before committing.
    ghost = Checkpointer(specs, worker="ghost", lease_seconds=0.05)
    async with engine.begin() as conn:
        (claim,) = (await ghost.commit(conn, now(), start_runs=[run.id], capacity=1)).claims
    key = f"{run.id}:mail:{claim.attempt}"
    async with engine.begin() as conn:
        _, applied = await apply_effect(
            conn, tenant, key, "email", {"to": "a@example.com"}, run.id, now()
        )
    assert applied is True
    await asyncio.sleep(0.1)
    # The live executor reaps the lease and repeats the same attempt under the same key.
    assert await executor.drain([run.id]) == {run.id: "succeeded"}
    data = await _load(engine, tenant, run.id)
    assert data["run"].outputs == {"id": key, "fresh": False}
    async with reading(engine) as conn:
        assert len(await list_effects(conn, tenant, run.id)) == 1
    assert [(a["attempt"], a["dispatch"], a["status"]) for a in data["attempts"]] == [
        (1, 1, "lost"),
        (1, 2, "succeeded"),
    ]


LONG = """
id: long
version: 1
steps:
  - {id: nap, kind: agent, capability: demo.sleep, args: {ms: 20000}}
"""


async def test_cancelling_a_running_run_stops_its_attempt(
    engine: AsyncEngine, tenant: str, executor: Executor, specs: SpecCache
) -> None:
    run = await start(engine, tenant, LONG)
    draining = asyncio.create_task(executor.drain([run.id]))
    while True:
        data = await _load(engine, tenant, run.id)
        if _steps(data["steps"])["nap"][0] == "running":
            break
        await asyncio.sleep(0.02)
    async with engine.begin() as conn:
        await cancel_run(
            conn,
            tenant_id=tenant,
            run_id=run.id,
            actor=ACTOR,
            reason="no longer needed",
            now=now(),
        )
    executor.wake()
    assert await asyncio.wait_for(draining, 10) == {run.id: "cancelled"}
    data = await _load(engine, tenant, run.id)
    assert _steps(data["steps"]) == {"nap": ("cancelled", 1)}
    assert data["events"][-1].data == {"by": "tester", "reason": "no longer needed"}


BREAKER = """
id: breaker
version: 1
steps:
  - id: boom
    kind: agent
    capability: demo.fail
    retry: {max_attempts: 4, backoff: {initial: 0.01, jitter: 0}}
"""


async def test_the_circuit_opens_after_repeated_failures_and_fails_fast(
    engine: AsyncEngine, tenant: str, settings: Settings, specs: SpecCache
) -> None:
    registry = demo_registry(breaker_failures=2, breaker_reset_seconds=60)
    executor = Executor(engine, registry, settings, specs=specs, rand=lambda: 0.5)
    run = await start(engine, tenant, BREAKER)
    try:
        assert await executor.drain([run.id]) == {run.id: "dead"}
    finally:
        executor.close()
    data = await _load(engine, tenant, run.id)
    codes = [a["error"]["code"] for a in data["attempts"]]
    assert codes == ["step_failed", "step_failed", "circuit_open", "circuit_open"]


async def test_another_tenant_sees_none_of_a_tenants_runs(
    engine: AsyncEngine, tenant: str, executor: Executor
) -> None:
    run = await start(engine, tenant, LINEAR, {"word": "secret"})
    await executor.drain([run.id])
    async with engine.begin() as conn:
        other = await ensure_tenant(conn, "globex", now())
    async with reading(engine) as conn:
        with pytest.raises(NotFound):
            await run_store.get_run(conn, other, run.id)
        assert await run_store.list_runs(conn, other) == []
        assert await run_store.list_steps(conn, other, run.id) == []
        assert await run_store.list_events(conn, other, run.id) == []
        assert await run_store.list_attempts(conn, other, run.id) == []


WIDE = """
id: wide
version: 1
steps:
  - {id: a, kind: agent, capability: demo.sleep, args: {ms: 5, value: a}}
  - {id: b, kind: agent, capability: demo.sleep, args: {ms: 5, value: b}}
  - {id: c, kind: agent, capability: demo.sleep, args: {ms: 5, value: c}}
  - {id: d, kind: agent, capability: demo.sleep, args: {ms: 5, value: d}}
  - id: join
    kind: agent
    capability: demo.sleep
    needs: [a, b, c, d]
    args: {value: "{{ state.a.value ~ state.b.value ~ state.c.value ~ state.d.value }}"}
outputs: {joined: "{{ state.join.value }}"}
"""


async def test_two_workers_share_runs_without_running_a_step_twice(
    engine: AsyncEngine, tenant: str, registry: Registry, settings: Settings
) -> None:
    runs = [await start(engine, tenant, WIDE) for _ in range(12)]
    ids = [run.id for run in runs]
    workers = [
        Executor(
            engine,
            registry,
            settings.model_copy(update={"worker_id": f"w{n}", "concurrency": 3}),
            specs=SpecCache(),
        )
        for n in range(2)
    ]
    try:
        results = await asyncio.gather(*(worker.drain(ids) for worker in workers))
    finally:
        for worker in workers:
            worker.close()
    assert results == [dict.fromkeys(ids, "succeeded")] * 2
    async with reading(engine) as conn:
        for run_id in ids:
            run = await run_store.get_run(conn, tenant, run_id)
            attempts = await run_store.list_attempts(conn, tenant, run_id)
            events = await run_store.list_events(conn, tenant, run_id)
            assert run.outputs == {"joined": "abcd"}
            done = sorted(a["step_key"] for a in attempts if a["status"] == "succeeded")
            assert done == ["a", "b", "c", "d", "join"]
            assert [e.seq for e in events] == list(range(1, len(events) + 1))
    workers_used = {a["worker"] for run_id in ids for a in await _attempts(engine, tenant, run_id)}
    assert workers_used == {"w0", "w1"}


async def _attempts(engine: AsyncEngine, tenant: str, run_id: str) -> list[dict[str, Any]]:
    async with reading(engine) as conn:
        return await run_store.list_attempts(conn, tenant, run_id)
