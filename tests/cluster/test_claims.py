"""The Celery worker's executor on both databases, with its publish seam collecting wake-ups
(the broker is only the carrier; tests/cluster/test_cluster.py runs the real ones): what a commit
announces, which wake-ups claim, and what the sweep announces again."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from batonflow.apps.demo import registry as demo_registry
from batonflow.cluster.executor import ClusterExecutor
from batonflow.cluster.routes import Routes
from batonflow.settings import Settings
from batonflow.store import wakes as wake_store
from batonflow.store.db import reading
from batonflow.store.tables import Attempt, Step
from batonflow.store.tenants import ensure_tenant
from batonflow.workflows.attempts import Wake
from tests.conftest import now, start

LINEAR = """
id: linear
version: 1
steps:
  - {id: one, kind: agent, capability: demo.sleep, args: {value: a}}
  - {id: two, kind: agent, capability: quote.price, needs: [one], args: {symbol: "b"}}
outputs: {price: "{{ state.two.price }}"}
"""


class Wakes(list[Wake]):
    """The publish seam: keeps what would go to the broker."""

    def __call__(self, wakes: list[Wake]) -> None:
        self.extend(wakes)


@asynccontextmanager
async def _serving(
    engine: AsyncEngine, settings: Settings, serves: list[str]
) -> AsyncIterator[tuple[ClusterExecutor, Wakes]]:
    sent = Wakes()
    routes = Routes({"demo-market": "agents.finance"}, "batonflow", demo_registry())
    settings = settings.model_copy(update={"republish_seconds": 60.0})
    executor = ClusterExecutor(
        engine,
        demo_registry(),
        settings,
        route=routes,
        publish=sent,
        serves=serves,
        rand=lambda: 0.5,
    )
    stop = asyncio.Event()
    serving = asyncio.create_task(executor.serve(stop))
    yield executor, sent
    stop.set()
    await serving
    executor.close()


@pytest.fixture
async def cluster(
    engine: AsyncEngine, settings: Settings
) -> AsyncIterator[tuple[ClusterExecutor, Wakes]]:
    """An executor that serves no queue: every step it makes ready is published."""
    async with _serving(engine, settings, []) as served:
        yield served


@pytest.fixture
async def serving(
    engine: AsyncEngine, settings: Settings
) -> AsyncIterator[tuple[ClusterExecutor, Wakes]]:
    """An executor serving the default queue, `batonflow` (not `agents.finance`)."""
    async with _serving(engine, settings, ["batonflow"]) as served:
        yield served


async def _next(sent: Wakes, count: int) -> list[Wake]:
    for _ in range(400):
        if len(sent) >= count:
            return list(sent)
        await asyncio.sleep(0.01)
    raise AssertionError(f"only {len(sent)} wake-ups were sent: {sent}")


async def _announced(engine: AsyncEngine, run_id: str) -> dict[str, tuple[str, str | None]]:
    async with reading(engine) as conn:
        rows = await conn.execute(
            select(Step.key, Step.status, Step.queue).where(Step.run_id == run_id)
        )
        return {row.key: (row.status, row.queue) for row in rows}


async def test_a_run_moves_only_by_the_wake_ups_its_commits_announce(
    engine: AsyncEngine, tenant: str, cluster: tuple[ClusterExecutor, Wakes]
) -> None:
    executor, sent = cluster
    run = await start(engine, tenant, LINEAR)
    first = await _next(sent, 1)  # the poll started the run; its first step is announced
    assert first == [Wake(tenant, run.id, "one", 1, "batonflow")]
    assert await _announced(engine, run.id) == {
        "one": ("ready", "batonflow"),
        "two": ("pending", None),
    }
    assert await executor.execute(first[0]) == "ran"
    assert sent[1:] == [Wake(tenant, run.id, "two", 1, "agents.finance")]
    assert await executor.execute(first[0]) == "ignored"  # a duplicate: already done
    assert await executor.execute(sent[1]) == "ran"
    async with reading(engine) as conn:
        status = await conn.scalar(select(Step.status).where(Step.key == "two"))
    assert status == "succeeded"


async def test_a_wake_up_for_another_dispatch_or_tenant_claims_nothing(
    engine: AsyncEngine, tenant: str, cluster: tuple[ClusterExecutor, Wakes]
) -> None:
    executor, sent = cluster
    async with engine.begin() as conn:
        other = await ensure_tenant(conn, "other", now())
    run = await start(engine, tenant, LINEAR)
    (wake,) = await _next(sent, 1)
    wrong = [
        Wake(tenant, run.id, "one", 0, wake.queue),  # stale
        Wake(tenant, run.id, "one", 2, wake.queue),  # not yet
        Wake(other, run.id, "one", 1, wake.queue),  # another tenant's
        Wake(tenant, run.id, "two", 1, wake.queue),  # not ready
    ]
    assert [await executor.execute(w) for w in wrong] == ["ignored"] * 4
    assert await _announced(engine, run.id) == {
        "one": ("ready", "batonflow"),
        "two": ("pending", None),
    }


async def test_the_sweep_announces_again_a_wake_up_left_unclaimed(
    engine: AsyncEngine, tenant: str, cluster: tuple[ClusterExecutor, Wakes]
) -> None:
    executor, sent = cluster
    run = await start(engine, tenant, LINEAR)
    (wake,) = await _next(sent, 1)
    assert await executor.sweep() == []  # announced a moment ago: not lost yet
    async with engine.begin() as conn:  # as if it was sent two minutes ago and lost
        sent_at = now() - timedelta(minutes=2)
        await conn.execute(
            update(Step)
            .where(Step.run_id == run.id, Step.key == "one")
            .values(published_at=sent_at)
        )
        assert await wake_store.oldest_unclaimed(conn) == {"batonflow": sent_at}
    # The poll loop sweeps too: whichever sweep comes first sends it, once.
    swept = await executor.sweep()
    assert await _next(sent, 2) == [wake, wake]
    assert swept in ([wake], [])
    assert await executor.sweep() == []
    assert sent == [wake, wake]


TWO_BRANCHES = """
id: branches
version: 1
steps:
  - {id: left, kind: agent, capability: demo.sleep, args: {value: a}}
  - {id: right, kind: agent, capability: quote.price, args: {symbol: "b"}}
  - {id: join, kind: agent, capability: demo.noop, needs: [left, right]}
"""


async def test_a_commit_announces_only_the_steps_it_made_ready(
    engine: AsyncEngine, tenant: str, cluster: tuple[ClusterExecutor, Wakes]
) -> None:
    executor, sent = cluster
    run = await start(engine, tenant, TWO_BRANCHES)
    first = await _next(sent, 2)
    assert sorted(first, key=lambda w: w.key) == [
        Wake(tenant, run.id, "left", 1, "batonflow"),
        Wake(tenant, run.id, "right", 1, "agents.finance"),
    ]
    left = next(w for w in first if w.key == "left")
    assert await executor.execute(left) == "ran"
    assert sent[2:] == []  # `right` is still waiting for its first wake-up: none sent again
    right = next(w for w in first if w.key == "right")
    assert await executor.execute(right) == "ran"
    assert sent[2:] == [Wake(tenant, run.id, "join", 1, "batonflow")]


HANDED = """
id: handed
version: 1
steps:
  - {id: one, kind: agent, capability: demo.sleep, args: {value: a, ms: 50}}
  - {id: two, kind: agent, capability: demo.noop, needs: [one]}
  - {id: three, kind: agent, capability: quote.price, needs: [two], args: {symbol: "b"}}
"""


async def _attempts(engine: AsyncEngine, run_id: str) -> list[tuple[str, int, str, str]]:
    async with reading(engine) as conn:
        rows = await conn.execute(
            select(Attempt.step_key, Attempt.dispatch, Attempt.status, Attempt.worker).where(
                Attempt.run_id == run_id
            )
        )
        return sorted((r.step_key, r.dispatch, r.status, r.worker) for r in rows)


async def test_a_commit_claims_the_next_step_on_a_served_queue_and_publishes_none_for_it(
    engine: AsyncEngine, tenant: str, serving: tuple[ClusterExecutor, Wakes]
) -> None:
    executor, sent = serving
    run = await start(engine, tenant, HANDED)
    (first,) = await _next(sent, 1)
    assert first == Wake(tenant, run.id, "one", 1, "batonflow")
    # The wake-up's slot runs `one`, then `two`, which `one`'s commit claimed here; `three` is
    # routed to a queue this worker does not serve, so its wake-up is published.
    assert await executor.execute(first) == "ran"
    assert sent == [first, Wake(tenant, run.id, "three", 1, "agents.finance")]
    assert executor.handed_over == 1
    assert await _announced(engine, run.id) == {
        "one": ("succeeded", "batonflow"),
        "two": ("succeeded", "batonflow"),  # its route; no wake-up was ever sent for it
        "three": ("ready", "agents.finance"),
    }
    assert await _attempts(engine, run.id) == [
        ("one", 1, "succeeded", "test-worker"),
        ("two", 1, "succeeded", "test-worker"),
    ]
    # A stale or duplicated wake-up for the step handed over still claims nothing.
    assert await executor.execute(Wake(tenant, run.id, "two", 1, "batonflow")) == "ignored"
    assert await executor.execute(first) == "ignored"
    assert await executor.sweep() == []  # nothing ready is left without a wake-up


async def test_a_worker_that_begins_to_stop_hands_nothing_over(
    engine: AsyncEngine, tenant: str, serving: tuple[ClusterExecutor, Wakes]
) -> None:
    executor, sent = serving
    run = await start(engine, tenant, HANDED.replace("ms: 50", "ms: 1500"))
    (first,) = await _next(sent, 1)
    running = asyncio.create_task(executor.execute(first))
    for _ in range(500):
        if (await _announced(engine, run.id))["one"][0] == "running":
            break
        await asyncio.sleep(0.005)
    assert (await _announced(engine, run.id))["one"][0] == "running"
    executor.closing = True  # SIGTERM: the attempt in flight finishes, nothing new is claimed
    assert await running == "ran"
    assert sent == [first, Wake(tenant, run.id, "two", 1, "batonflow")]
    assert executor.handed_over == 0
    assert await _announced(engine, run.id) == {
        "one": ("succeeded", "batonflow"),
        "two": ("ready", "batonflow"),
        "three": ("pending", None),
    }
