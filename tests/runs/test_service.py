"""Operator actions on runs: start, retry, override, cancel, and what they refuse."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from batonflow.agents.registry import Registry
from batonflow.errors import Conflict, InvalidInput, NotFound
from batonflow.runs.service import cancel_run, override_step, retry_run, start_run
from batonflow.store import runs as run_store
from batonflow.store.db import reading
from batonflow.store.workflows import save_version
from batonflow.workflows.checkpoint import SpecCache
from batonflow.workflows.executor import Executor
from batonflow.workflows.validation import load_spec
from tests.conftest import ACTOR, now, start

TYPED = """
id: typed
version: 1
inputs:
  name: {type: string}
  seats: {type: integer, default: 3, minimum: 1}
steps:
  - {id: echo, kind: agent, capability: demo.sleep, args: {value: "{{ inputs.name }} x{{ inputs.seats }}"}}
"""


async def test_start_applies_defaults_and_rejects_bad_inputs(
    engine: AsyncEngine, tenant: str, registry: Registry
) -> None:
    run = await start(engine, tenant, TYPED, {"name": "Ada"})
    assert (run.status, run.inputs) == ("queued", {"name": "Ada", "seats": 3})
    with pytest.raises(InvalidInput) as info:
        await start(engine, tenant, TYPED, {"seats": "many", "extra": 1})
    assert info.value.details == {
        "issues": [
            "inputs.seats: 'many' is not of type 'integer'",
            "inputs: 'name' is a required property",
            "inputs: Additional properties are not allowed ('extra' was unexpected)",
        ]
    }


async def test_workflow_versions_are_immutable(
    engine: AsyncEngine, tenant: str, registry: Registry
) -> None:
    spec = load_spec(TYPED, "typed.yaml", registry)
    changed = load_spec(TYPED.replace("x{{", "times {{"), "typed.yaml", registry)
    async with engine.begin() as conn:
        first, created = await save_version(conn, tenant, spec, TYPED, now())
        again, created_again = await save_version(conn, tenant, spec, TYPED, now())
        assert (created, created_again, again.id) == (True, False, first.id)
        with pytest.raises(Conflict, match="version 1 already exists with other content"):
            await save_version(conn, tenant, changed, TYPED, now())


FLAKY_THEN_FINE = """
id: recover
version: 1
steps:
  - {id: first, kind: agent, capability: demo.sleep, args: {value: 1}}
  - id: second
    kind: agent
    capability: demo.flaky
    needs: [first]
    args: {fail_times: 2, value: ok}
    retry: {max_attempts: 2, backoff: {initial: 0.01}}
outputs: {value: "{{ state.second.value }}", attempt: "{{ state.second.attempt }}"}
"""


async def test_retrying_a_dead_run_reruns_only_the_failed_step(
    engine: AsyncEngine, tenant: str, executor: Executor, specs: SpecCache
) -> None:
    run = await start(engine, tenant, FLAKY_THEN_FINE)
    assert await executor.drain([run.id]) == {run.id: "dead"}
    async with reading(engine) as conn:
        assert [r.id for r in await run_store.list_runs(conn, tenant, status=["dead"])] == [run.id]
    async with engine.begin() as conn:
        await retry_run(conn, specs, tenant_id=tenant, run_id=run.id, actor=ACTOR, now=now())
    assert await executor.drain([run.id]) == {run.id: "succeeded"}
    async with reading(engine) as conn:
        stored = await run_store.get_run(conn, tenant, run.id)
        attempts = await run_store.list_attempts(conn, tenant, run.id)
        events = await run_store.list_events(conn, tenant, run.id)
    assert stored.outputs == {"value": "ok", "attempt": 3}
    assert [(a["step_key"], a["attempt"], a["status"]) for a in attempts] == [
        ("first", 1, "succeeded"),
        ("second", 1, "failed"),
        ("second", 2, "failed"),
        ("second", 3, "succeeded"),
    ]
    retried = next(e for e in events if e.type == "run.retried")
    assert retried.data == {"by": "tester", "steps": ["second"]}
    with pytest.raises(Conflict, match="only failed or dead runs can be retried"):
        async with engine.begin() as conn:
            await retry_run(conn, specs, tenant_id=tenant, run_id=run.id, actor=ACTOR, now=now())


ALWAYS_FAILS = """
id: stuck
version: 1
steps:
  - {id: fetch, kind: agent, capability: demo.fail, args: {message: upstream gone}}
  - {id: use, kind: agent, capability: demo.sleep, needs: [fetch], args: {value: "{{ state.fetch.price }}"}}
outputs: {price: "{{ state.use.value }}"}
"""


async def test_a_manual_override_sets_the_output_and_the_run_continues(
    engine: AsyncEngine, tenant: str, executor: Executor, specs: SpecCache
) -> None:
    run = await start(engine, tenant, ALWAYS_FAILS)
    assert await executor.drain([run.id]) == {run.id: "dead"}
    with pytest.raises(InvalidInput, match="needs a reason"):
        async with engine.begin() as conn:
            await override_step(
                conn,
                specs,
                tenant_id=tenant,
                run_id=run.id,
                step_key="fetch",
                output={"price": 1},
                reason=" ",
                actor=ACTOR,
                now=now(),
            )
    async with engine.begin() as conn:
        await override_step(
            conn,
            specs,
            tenant_id=tenant,
            run_id=run.id,
            step_key="fetch",
            output={"price": 42},
            reason="price confirmed by phone",
            actor=ACTOR,
            now=now(),
        )
    assert await executor.drain([run.id]) == {run.id: "succeeded"}
    async with reading(engine) as conn:
        stored = await run_store.get_run(conn, tenant, run.id)
        steps = {s["key"]: s for s in await run_store.list_steps(conn, tenant, run.id)}
    assert stored.outputs == {"price": 42}
    assert (steps["fetch"]["overridden_by"], steps["fetch"]["override_reason"]) == (
        "tester",
        "price confirmed by phone",
    )
    with pytest.raises(Conflict, match="can no longer be overridden"):
        async with engine.begin() as conn:
            await override_step(
                conn,
                specs,
                tenant_id=tenant,
                run_id=run.id,
                step_key="use",
                output={},
                reason="again",
                actor=ACTOR,
                now=now(),
            )


async def test_finished_runs_cannot_be_cancelled_and_unknown_runs_are_not_found(
    engine: AsyncEngine, tenant: str, executor: Executor, specs: SpecCache
) -> None:
    run = await start(engine, tenant, TYPED, {"name": "Ada"})
    await executor.drain([run.id])
    with pytest.raises(Conflict, match="already succeeded"):
        async with engine.begin() as conn:
            await cancel_run(
                conn, tenant_id=tenant, run_id=run.id, actor=ACTOR, reason="", now=now()
            )
    with pytest.raises(NotFound):
        async with engine.begin() as conn:
            await cancel_run(
                conn, tenant_id=tenant, run_id="nope", actor=ACTOR, reason="", now=now()
            )


async def test_a_queued_run_can_be_cancelled_before_any_worker_sees_it(
    engine: AsyncEngine, tenant: str, executor: Executor, specs: SpecCache
) -> None:
    run = await start(engine, tenant, TYPED, {"name": "Ada"})
    async with engine.begin() as conn:
        await cancel_run(
            conn, tenant_id=tenant, run_id=run.id, actor=ACTOR, reason="typo", now=now()
        )
    assert await executor.drain([run.id]) == {run.id: "cancelled"}
    async with reading(engine) as conn:
        steps = await run_store.list_steps(conn, tenant, run.id)
    assert [(s["key"], s["status"]) for s in steps] == [("echo", "cancelled")]


async def test_runs_page_newest_first_with_a_keyset_cursor(
    engine: AsyncEngine, tenant: str, registry: Registry
) -> None:
    spec = load_spec(TYPED, "typed.yaml", registry)
    async with engine.begin() as conn:
        version, _ = await save_version(conn, tenant, spec, TYPED, now())
        ids = [
            (
                await start_run(
                    conn,
                    tenant_id=tenant,
                    version=version,
                    inputs={"name": f"n{i}"},
                    actor=ACTOR,
                    now=now(),
                )
            ).id
            for i in range(5)
        ]
    pages: list[str] = []
    cursor = None
    async with reading(engine) as conn:
        while True:
            page = await run_store.list_runs(conn, tenant, limit=2, before=cursor)
            if not page:
                break
            pages += [r.id for r in page]
            last = page[-1].id
            cursor = (await run_store.run_created_at(conn, tenant, last), last)
    assert pages == list(reversed(ids))
