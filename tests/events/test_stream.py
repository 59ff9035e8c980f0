"""Following events on both databases: a run's tail and a tenant's tail join the backlog to the
live part without duplicates or gaps, resume after a cursor, stay inside their tenant, pass
`llm.delta` through, survive out-of-order commits on PostgreSQL, and unsubscribe when closed."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any, TypedDict

import pytest
from dirty_equals import IsStr
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from batonflow.agents.registry import Registry
from batonflow.apps.demo import registry as demo_registry
from batonflow.events.bus import EventBus
from batonflow.events.contracts import StoredEvent
from batonflow.events.stream import KEEPALIVE, Delivered, StreamItem
from batonflow.events.tails import RunFeeds, events_t, run_events, tenant_events
from batonflow.settings import Settings
from batonflow.store import runs as run_store
from batonflow.store.db import Database, reading
from batonflow.store.tenants import ensure_tenant
from batonflow.workflows.checkpoint import SpecCache
from batonflow.workflows.executor import Executor
from batonflow_testkit.scripted import ScriptedModel
from tests.conftest import now, start
from tests.workflows.test_llm_steps import Models, gateway_for

THREE = """
id: three
version: 1
steps:
  - id: one
    kind: agent
    capability: demo.sleep
    args: {value: a, ms: 20}
  - id: two
    kind: agent
    capability: demo.sleep
    needs: [one]
    args: {value: b, ms: 20}
  - id: three
    kind: agent
    capability: demo.sleep
    needs: [two]
    args: {value: c, ms: 20}
"""

THREE_EVENTS = [
    (1, "run.queued", None),
    (2, "run.started", None),
    (3, "step.started", "one"),
    (4, "step.completed", "one"),
    (5, "step.started", "two"),
    (6, "step.completed", "two"),
    (7, "step.started", "three"),
    (8, "step.completed", "three"),
    (9, "run.succeeded", None),
]


class Timing(TypedDict):
    poll_seconds: float
    heartbeat_seconds: float


FAST: Timing = {"poll_seconds": 0.02, "heartbeat_seconds": 60.0}


@pytest.fixture
def db(engine: AsyncEngine) -> Iterator[Database]:
    """What the tails read through, as the API's: the database thread on SQLite."""
    database = Database(engine)
    yield database
    database.close()


def _rows(items: list[StreamItem]) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    for item in items:
        assert isinstance(item, Delivered)
        out.append((item.cursor, item.event.type, item.event.step_key))
    return out


async def _collect(stream: AsyncIterator[StreamItem]) -> list[StreamItem]:
    return [item async for item in stream]


async def _next(stream: AsyncIterator[StreamItem]) -> StreamItem:
    return await asyncio.wait_for(anext(stream), 10)


async def _stored(engine: AsyncEngine, tenant: str, run_id: str) -> list[StoredEvent]:
    async with reading(engine) as conn:
        return await run_store.list_events(conn, tenant, run_id)


async def test_a_run_tail_joins_backlog_and_live_without_duplicates_or_gaps(
    engine: AsyncEngine, db: Database, tenant: str, executor: Executor
) -> None:
    run = await start(engine, tenant, THREE)
    early = run_events(db, executor.bus, tenant, run.id, **FAST)
    assert _rows([await _next(early)]) == [(1, "run.queued", None)]  # subscribed from here on
    silent = EventBus()  # as if another process ran the work: only polling finds the events
    tails = [
        asyncio.create_task(_collect(early)),
        asyncio.create_task(_collect(run_events(db, silent, tenant, run.id, **FAST))),
    ]

    async def join_midway() -> list[StreamItem]:
        async with executor.bus.subscribe() as queue:
            while (await queue.get()).type != "step.completed":
                pass
        return await _collect(run_events(db, executor.bus, tenant, run.id, **FAST))

    tails.append(asyncio.create_task(join_midway()))
    assert await executor.drain([run.id]) == {run.id: "succeeded"}
    early_rest, polled, midway = await asyncio.wait_for(asyncio.gather(*tails), 10)

    assert _rows(early_rest) == THREE_EVENTS[1:]
    assert _rows(polled) == THREE_EVENTS
    assert _rows(midway) == THREE_EVENTS
    stored = await _stored(engine, tenant, run.id)
    assert [item.event for item in polled if isinstance(item, Delivered)] == stored
    assert executor.bus._queues == set()


async def test_followers_of_one_run_share_one_reader(
    engine: AsyncEngine, db: Database, tenant: str, executor: Executor
) -> None:
    run = await start(engine, tenant, THREE)
    feeds = RunFeeds(db, executor.bus, poll_seconds=0.02)
    tails = [run_events(db, executor.bus, tenant, run.id, feeds=feeds, **FAST) for _ in range(50)]
    firsts = [await _next(tail) for tail in tails]
    assert {_rows([first])[0] for first in firsts} == {(1, "run.queued", None)}
    # Fifty followers, one feed and one bus subscription between them.
    assert list(feeds._feeds) == [(tenant, run.id)]
    assert len(executor.bus._queues) == 1
    rests = [asyncio.create_task(_collect(tail)) for tail in tails]
    late = asyncio.create_task(
        _collect(run_events(db, executor.bus, tenant, run.id, feeds=feeds, **FAST))
    )
    assert await executor.drain([run.id]) == {run.id: "succeeded"}
    done = await asyncio.wait_for(asyncio.gather(*rests, late), 10)
    assert [_rows(items) for items in done[:-1]] == [THREE_EVENTS[1:]] * 50
    assert _rows(done[-1]) == THREE_EVENTS
    assert feeds._feeds == {}
    assert executor.bus._queues == set()


async def test_a_follower_that_read_ahead_does_not_hold_back_one_waiting_on_the_feed(
    engine: AsyncEngine, db: Database, tenant: str
) -> None:
    # A follower that joins reads the backlog itself. If it reads an event whose notification
    # is still on its way, the feed must still read that event for the followers waiting on it
    # (the poll is an hour away here, so nothing else would deliver it).
    run = await start(engine, tenant, THREE)
    bus = EventBus()
    feeds = RunFeeds(db, bus, poll_seconds=3600)
    slow: Timing = {"poll_seconds": 3600, "heartbeat_seconds": 3600}
    waiting = run_events(db, bus, tenant, run.id, feeds=feeds, until_done=False, **slow)
    assert _rows([await _next(waiting)]) == [(1, "run.queued", None)]
    pending = asyncio.create_task(_next(waiting))  # now waits on the feed
    await asyncio.sleep(0.05)
    async with engine.begin() as conn:
        await _insert_event(conn, tenant, run.id, 2)
    ahead = run_events(db, bus, tenant, run.id, feeds=feeds, until_done=False, **slow)
    assert _rows([await _next(ahead), await _next(ahead)]) == [
        (1, "run.queued", None),
        (2, "step.skipped", "late"),
    ]
    beyond = asyncio.create_task(_next(ahead))  # past its backlog, waiting on the feed too
    await asyncio.sleep(0.05)
    bus.publish([(await _stored(engine, tenant, run.id))[-1]])  # the notification arrives
    assert _rows([await asyncio.wait_for(pending, 5)]) == [(2, "step.skipped", "late")]
    assert not beyond.done()  # and the follower that read it already gets it once only
    beyond.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await beyond
    await waiting.aclose()
    await ahead.aclose()


async def test_a_run_tail_resumes_after_a_seq_and_ends_after_the_backlog_unless_following(
    engine: AsyncEngine, db: Database, tenant: str, executor: Executor
) -> None:
    run = await start(engine, tenant, THREE)
    bus = EventBus()
    backlog = await _collect(run_events(db, bus, tenant, run.id, follow=False, **FAST))
    assert _rows(backlog) == [(1, "run.queued", None)]
    assert await executor.drain([run.id]) == {run.id: "succeeded"}

    resumed = await _collect(run_events(db, bus, tenant, run.id, 6, follow=False, **FAST))
    assert _rows(resumed) == THREE_EVENTS[6:]
    finished = await _collect(run_events(db, bus, tenant, run.id, 6, **FAST))
    assert _rows(finished) == THREE_EVENTS[6:]  # ended by the terminal event
    nothing = await _collect(run_events(db, bus, tenant, run.id, 9, **FAST))
    assert nothing == []


async def test_a_run_tail_without_until_done_keeps_following_and_sends_keepalives(
    engine: AsyncEngine, db: Database, tenant: str, executor: Executor
) -> None:
    run = await start(engine, tenant, THREE)
    assert await executor.drain([run.id]) == {run.id: "succeeded"}
    bus = EventBus()
    tail = run_events(
        db, bus, tenant, run.id, 8, until_done=False, poll_seconds=0.01, heartbeat_seconds=0.05
    )
    assert _rows([await _next(tail)]) == [(9, "run.succeeded", None)]
    assert await _next(tail) is KEEPALIVE
    assert await _next(tail) is KEEPALIVE
    await tail.aclose()
    assert bus._queues == set()


async def test_tails_stay_inside_their_tenant(
    engine: AsyncEngine, db: Database, tenant: str, executor: Executor
) -> None:
    async with engine.begin() as conn:
        other = await ensure_tenant(conn, "globex", now())
    ours = await start(engine, tenant, THREE)
    theirs = await start(engine, other, THREE)
    assert await executor.drain([ours.id, theirs.id]) == {
        ours.id: "succeeded",
        theirs.id: "succeeded",
    }
    bus = EventBus()
    peek = await _collect(run_events(db, bus, other, ours.id, follow=False, **FAST))
    assert peek == []

    tail = tenant_events(db, bus, other, 0, **FAST)
    items = [await _next(tail) for _ in THREE_EVENTS]
    await tail.aclose()
    assert [(i.event.run_id, i.event.seq) for i in items if isinstance(i, Delivered)] == [
        (theirs.id, seq) for seq, _, _ in THREE_EVENTS
    ]
    stored = await _stored(engine, other, theirs.id)
    assert [(i.cursor, i.event) for i in items if isinstance(i, Delivered)] == [
        (event.id, event) for event in stored
    ]


async def test_a_tenant_tail_from_now_skips_history_and_resumes_after_an_id(
    engine: AsyncEngine, db: Database, tenant: str, executor: Executor
) -> None:
    first = await start(engine, tenant, THREE)
    assert await executor.drain([first.id]) == {first.id: "succeeded"}
    history = await _stored(engine, tenant, first.id)

    live = tenant_events(db, executor.bus, tenant, **FAST)
    waiting = asyncio.create_task(_next(live))
    while not executor.bus._queues:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.2)  # it has read where "now" is
    second = await start(engine, tenant, THREE)
    queued = await waiting
    assert isinstance(queued, Delivered)
    assert (queued.event.run_id, queued.event.type) == (second.id, "run.queued")
    await live.aclose()

    resumed = tenant_events(db, EventBus(), tenant, history[4].id, **FAST)
    items = [await _next(resumed) for _ in range(5)]
    await resumed.aclose()
    assert [(i.cursor, i.event.run_id, i.event.seq) for i in items if isinstance(i, Delivered)] == [
        *[(e.id, first.id, e.seq) for e in history[5:]],
        (queued.event.id, second.id, 1),
    ]


async def _insert_event(conn: Any, tenant: str, run_id: str, seq: int) -> int:
    value = await conn.scalar(
        insert(events_t)
        .values(
            tenant_id=tenant,
            run_id=run_id,
            seq=seq,
            type="step.skipped",
            version=1,
            step_key="late",
            data={"reason": f"seq {seq}"},
            created_at=now(),
        )
        .returning(events_t.c.id)
    )
    return int(value)


async def test_a_tenant_tail_delivers_an_event_that_commits_after_a_higher_id(
    engine: AsyncEngine, db: Database, tenant: str
) -> None:
    if engine.dialect.name == "sqlite":
        pytest.skip("SQLite commits one writer at a time, so ids commit in order")
    run = await start(engine, tenant, THREE)
    tail = tenant_events(db, EventBus(), tenant, 0, **FAST)
    queued = await _next(tail)
    assert isinstance(queued, Delivered)

    async with engine.connect() as slow:
        transaction = await slow.begin()
        late_id = await _insert_event(slow, tenant, run.id, 100)
        async with engine.begin() as quick:
            early_id = await _insert_event(quick, tenant, run.id, 101)
        assert early_id > late_id
        early = await _next(tail)
        assert isinstance(early, Delivered)
        assert (early.cursor, early.event.id, early.event.seq) == (early_id, early_id, 101)
        await transaction.commit()
    late = await _next(tail)
    assert isinstance(late, Delivered)
    # Delivered once, late; its cursor stays at the highest id reached, so resuming after it
    # repeats nothing.
    assert (late.cursor, late.event.id, late.event.seq) == (early_id, late_id, 100)
    async with engine.begin() as conn:
        after_id = await _insert_event(conn, tenant, run.id, 102)
    following = await _next(tail)
    assert isinstance(following, Delivered)
    assert (following.cursor, following.event.seq) == (after_id, 102)
    await tail.aclose()


@pytest.fixture
def writer_executor(
    engine: AsyncEngine, settings: Settings, specs: SpecCache
) -> Iterator[tuple[Executor, Registry]]:
    models = Models(writer=ScriptedModel(lambda request: "Acme looks promising", name="writer"))
    db = Database(engine)
    gateway = gateway_for(db, models)
    registry = demo_registry(models=gateway)
    executor = Executor(engine, registry, settings, specs=specs, gateway=gateway)
    yield executor, registry
    executor.close()
    db.close()


BRIEF = """
id: brief
version: 1
steps:
  - id: brief
    kind: agent
    capability: brief.write
    args: {company: Acme, fit: good, reason: budget approved, model: "scripted:writer"}
"""


async def test_a_run_tail_passes_its_runs_llm_deltas_through_in_place(
    engine: AsyncEngine, db: Database, tenant: str, writer_executor: tuple[Executor, Registry]
) -> None:
    executor, registry = writer_executor
    run = await start(engine, tenant, BRIEF, {}, registry)
    other = await start(engine, tenant, BRIEF, {}, registry)
    tail = run_events(db, executor.bus, tenant, run.id, **FAST)
    assert _rows([await _next(tail)]) == [(1, "run.queued", None)]
    rest = asyncio.create_task(_collect(tail))
    assert await executor.drain([run.id, other.id]) == {run.id: "succeeded", other.id: "succeeded"}
    items = await asyncio.wait_for(rest, 10)

    assert [
        (i.cursor, i.event.type, i.event.run_id, i.event.step_key)
        for i in items
        if isinstance(i, Delivered)
    ] == [
        (2, "run.started", run.id, None),
        (3, "step.started", run.id, "brief"),
        (None, "llm.delta", run.id, "brief"),
        (None, "llm.delta", run.id, "brief"),
        (None, "llm.delta", run.id, "brief"),
        (4, "llm.call", run.id, "brief"),
        (5, "step.completed", run.id, "brief"),
        (6, "run.succeeded", run.id, None),
    ]
    deltas = [i.event.data for i in items if isinstance(i, Delivered) and i.cursor is None]
    assert deltas == [
        {"call_id": IsStr(), "model": "scripted:writer", "retry": 0, "index": n, "text": text}
        for n, text in enumerate(["Acme ", "looks ", "promising"])
    ]


async def test_cancelling_a_follower_unsubscribes_it(
    engine: AsyncEngine, db: Database, tenant: str
) -> None:
    run = await start(engine, tenant, THREE)
    bus = EventBus()
    seen: list[StreamItem] = []

    async def follow(stream: AsyncIterator[StreamItem]) -> None:
        async for item in stream:
            seen.append(item)

    tasks = [
        asyncio.create_task(follow(run_events(db, bus, tenant, run.id, **FAST))),
        asyncio.create_task(follow(tenant_events(db, bus, tenant, 0, **FAST))),
    ]
    while len(seen) < 2:
        await asyncio.sleep(0.01)
    assert len(bus._queues) == 2
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert bus._queues == set()
    assert [i.event.type for i in seen if isinstance(i, Delivered)] == ["run.queued"] * 2
