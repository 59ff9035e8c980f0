"""The tails: a run's (`run_events`: its stored events after a `seq`, then those stored later,
with its live `llm.delta` events in between; followers of one run in one process share one
reader, `RunFeeds`) and a tenant's (`tenant_events`: every stored event of the tenant's runs the
reader may see, after an id, then those stored later). What a tail yields and how it waits is
`events/stream.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import AsyncGenerator, AsyncIterator

from sqlalchemy import func, select

from batonflow.events.bus import EventBus
from batonflow.events.contracts import StoredEvent
from batonflow.events.stream import KEEPALIVE, LIVE_ONLY, PAGE, Delivered, Doorbell, StreamItem
from batonflow.store.db import Conn, Database
from batonflow.store.tables import Event, of_visible_runs, table

TERMINAL = frozenset({"run.succeeded", "run.failed", "run.dead", "run.cancelled"})

events_t = table(Event)


async def read_run_events(
    conn: Conn, tenant_id: str, run_id: str, *, after_seq: int, limit: int
) -> list[StoredEvent]:
    """One page of a run's stored events after `after_seq`, in `seq` order."""
    rows = await conn.execute(
        select(events_t)
        .where(
            events_t.c.tenant_id == tenant_id,
            events_t.c.run_id == run_id,
            events_t.c.seq > after_seq,
        )
        .order_by(events_t.c.seq)
        .limit(limit)
    )
    return [StoredEvent(**row._asdict()) for row in rows]


async def event_type_at(conn: Conn, tenant_id: str, run_id: str, seq: int) -> str | None:
    """The type of a run's event number `seq`, if it has one."""
    value = await conn.scalar(
        select(events_t.c.type).where(
            events_t.c.tenant_id == tenant_id, events_t.c.run_id == run_id, events_t.c.seq == seq
        )
    )
    return None if value is None else str(value)


FeedItem = list[StoredEvent] | StoredEvent  # a page read from the table, or a live delta


class _Feed:
    """The shared reader of one run: reads the table once per wake-up or poll and hands each
    page (and each live delta) to every follower's inbox."""

    def __init__(self, db: Database, tenant_id: str, run_id: str, last: int) -> None:
        self.db = db
        self.tenant_id = tenant_id
        self.run_id = run_id
        self.last = last  # the highest seq read; followers behind it catch up themselves
        self.inboxes: set[asyncio.Queue[FeedItem]] = set()
        self.task: asyncio.Task[None] | None = None

    def send(self, item: FeedItem) -> None:
        for inbox in self.inboxes:
            inbox.put_nowait(item)

    async def read(self) -> None:
        while True:
            page = await self.db.read(
                functools.partial(
                    read_run_events,
                    tenant_id=self.tenant_id,
                    run_id=self.run_id,
                    after_seq=self.last,
                    limit=PAGE,
                )
            )
            if page:
                self.last = page[-1].seq
                self.send(page)
            if len(page) < PAGE:
                return

    async def run(self, queue: asyncio.Queue[StoredEvent], poll_seconds: float) -> None:
        bell = Doorbell(queue, poll_seconds, float("inf"))
        while True:
            arrived = await bell.wait()
            if not arrived:  # a poll: other processes store events this one never hears of
                await self.read()
                continue
            for item in arrived:
                if item.tenant_id != self.tenant_id or item.run_id != self.run_id:
                    continue
                if item.type in LIVE_ONLY:
                    self.send(item)
                elif item.seq > self.last:
                    # Read before passing on what came after this event, so deltas follow
                    # the stored event (the step's start) that preceded them.
                    await self.read()


class RunFeeds:
    """One `_Feed` per followed run in this process, shared by all of that run's followers:
    200 browsers watching one run cost one query per new event, not 200. A feed starts with
    its first follower (subscribing to the bus before that follower reads its backlog) and
    stops with its last."""

    def __init__(self, db: Database, bus: EventBus, *, poll_seconds: float = 1.0) -> None:
        self.db = db
        self.bus = bus
        self.poll_seconds = poll_seconds
        self._feeds: dict[tuple[str, str], _Feed] = {}
        self._stacks: dict[tuple[str, str], contextlib.AsyncExitStack] = {}

    @contextlib.asynccontextmanager
    async def join(
        self, tenant_id: str, run_id: str, after_seq: int
    ) -> AsyncIterator[tuple[_Feed, asyncio.Queue[FeedItem]]]:
        key = (tenant_id, run_id)
        feed = self._feeds.get(key)
        if feed is None:
            feed = self._feeds[key] = _Feed(self.db, tenant_id, run_id, after_seq)
            stack = self._stacks[key] = contextlib.AsyncExitStack()
            queue = await stack.enter_async_context(self.bus.subscribe())
            feed.task = asyncio.create_task(
                feed.run(queue, self.poll_seconds), name=f"batonflow-feed-{run_id}"
            )
        inbox: asyncio.Queue[FeedItem] = asyncio.Queue()
        feed.inboxes.add(inbox)
        try:
            yield feed, inbox
        finally:
            feed.inboxes.discard(inbox)
            if not feed.inboxes and self._feeds.get(key) is feed:
                del self._feeds[key]
                assert feed.task is not None
                feed.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await feed.task
                await self._stacks.pop(key).aclose()


async def run_events(
    db: Database,
    bus: EventBus,
    tenant_id: str,
    run_id: str,
    after_seq: int = 0,
    *,
    follow: bool = True,
    until_done: bool = True,
    poll_seconds: float = 1.0,
    heartbeat_seconds: float = 15.0,
    feeds: RunFeeds | None = None,
) -> AsyncGenerator[StreamItem, None]:
    """The stored events of one run after `after_seq`, then (with `follow`) those stored later,
    with the run's live `llm.delta` events in between; followers in one process share reads
    through `feeds`. Stored events come exactly once, in `seq` order, without gaps: a run's events
    commit under its row lock with consecutive numbers, and a follower that sees a page start
    past `last + 1` reads the missing ones itself. With `until_done` the tail ends once caught up
    at the run's terminal event (not one in the backlog: a retried run goes on); without
    `follow`, after the backlog. The caller checks that the run exists in the tenant."""
    state = _Tail(after_seq)
    if not follow:
        async for item in state.catch_up(db, tenant_id, run_id):
            yield item
        return
    feeds = feeds or RunFeeds(db, bus, poll_seconds=poll_seconds)
    async with feeds.join(tenant_id, run_id, after_seq) as (feed, inbox):
        if after_seq > 0 and until_done:
            at = await db.read(
                functools.partial(event_type_at, tenant_id=tenant_id, run_id=run_id, seq=after_seq)
            )
            state.ended = at in TERMINAL
        spoke = time.monotonic()
        async for item in state.catch_up(db, tenant_id, run_id):
            spoke = time.monotonic()
            yield item
        if feed.inboxes == {inbox}:
            # Alone on the feed: it need not read again what this follower just read. With
            # others on it, it must: one of them may be waiting for the feed to read an event
            # whose notification is still on its way, and nobody else will.
            feed.last = max(feed.last, state.last)
        while not (state.ended and until_done):
            silence = spoke + heartbeat_seconds - time.monotonic()
            try:
                async with asyncio.timeout(max(silence, 0)):
                    arrived = await inbox.get()
            except TimeoutError:
                spoke = time.monotonic()
                yield KEEPALIVE
                continue
            spoke = time.monotonic()
            if isinstance(arrived, StoredEvent):
                yield Delivered(arrived, None)
                continue
            if arrived[0].seq > state.last + 1:
                async for item in state.catch_up(db, tenant_id, run_id):
                    yield item
            for event in arrived:
                if event.seq > state.last:
                    state.saw(event)
                    yield Delivered(event, event.seq)


class _Tail:
    """Where one follower of a run is: the last `seq` delivered, and whether it was the end."""

    def __init__(self, last: int) -> None:
        self.last = last
        self.ended = False

    def saw(self, event: StoredEvent) -> None:
        self.last = event.seq
        self.ended = event.type in TERMINAL

    async def catch_up(
        self, db: Database, tenant_id: str, run_id: str
    ) -> AsyncGenerator[Delivered, None]:
        while True:
            page = await db.read(
                functools.partial(
                    read_run_events,
                    tenant_id=tenant_id,
                    run_id=run_id,
                    after_seq=self.last,
                    limit=PAGE,
                )
            )
            for event in page:
                self.saw(event)
                yield Delivered(event, event.seq)
            if len(page) < PAGE:
                return


async def read_tenant_events(
    conn: Conn, tenant_id: str, *, after_id: int, limit: int, viewer: str | None = None
) -> list[StoredEvent]:
    """One page of a tenant's stored events after `after_id`, in `id` order: those of the runs
    `viewer` may see (`store.tables.visible`)."""
    query = select(events_t).where(events_t.c.tenant_id == tenant_id, events_t.c.id > after_id)
    query = of_visible_runs(query, events_t, tenant_id, viewer)
    rows = await conn.execute(query.order_by(events_t.c.id).limit(limit))
    return [StoredEvent(**row._asdict()) for row in rows]


async def last_event_id(conn: Conn, tenant_id: str) -> int:
    """The tenant's highest stored event id (0 when it has none)."""
    value = await conn.scalar(
        select(func.max(events_t.c.id)).where(events_t.c.tenant_id == tenant_id)
    )
    return int(value or 0)


async def tenant_events(
    db: Database,
    bus: EventBus,
    tenant_id: str,
    after_id: int | None = None,
    *,
    viewer: str | None = None,
    follow: bool = True,
    poll_seconds: float = 1.0,
    heartbeat_seconds: float = 15.0,
    settle_seconds: float = 10.0,
) -> AsyncGenerator[StreamItem, None]:
    """Every stored event of a tenant's runs `viewer` may see after `after_id` (from now on when
    `None`), then (with `follow`) those stored later; each exactly once, in `id` order except
    that one committed after a higher id was delivered comes as soon as it is seen.

    On PostgreSQL two transactions can take ids 10 and 11 and commit 11 first, so this tail
    re-reads a look-back window: ids above a floor that trails the delivered ones by
    `settle_seconds`, passing on those not delivered yet (Batonflow's transactions take
    milliseconds; SQLite commits in id order). Each item's `cursor` is the highest id delivered
    so far, so a client resuming after it gets no repeats."""
    async with bus.subscribe() as queue:
        bell = Doorbell(queue, poll_seconds, heartbeat_seconds)
        if after_id is None:
            after_id = await db.read(functools.partial(last_event_id, tenant_id=tenant_id))
        floor = after_id  # every id at or below it is delivered or given up on
        high = after_id
        seen: dict[int, float] = {}  # ids above `floor` delivered, with when
        stale = True
        while True:
            if stale:
                cursor = floor
                while True:
                    page = await db.read(
                        functools.partial(
                            read_tenant_events,
                            tenant_id=tenant_id,
                            after_id=cursor,
                            limit=PAGE,
                            viewer=viewer,
                        )
                    )
                    for item in page:
                        assert item.id is not None
                        cursor = item.id
                        if item.id in seen:
                            continue
                        seen[item.id] = time.monotonic()
                        high = max(high, item.id)
                        bell.spoke()
                        yield Delivered(item, high)
                    if len(page) < PAGE:
                        break
                settled = time.monotonic() - settle_seconds
                floor = max([floor, *(i for i, at in seen.items() if at <= settled)])
                seen = {i: at for i, at in seen.items() if i > floor}
                stale = False
                if not follow:
                    return
            arrived = await bell.wait()
            if arrived is None:
                bell.spoke()
                yield KEEPALIVE
                stale = True
            elif not arrived or any(
                item.tenant_id == tenant_id and item.type not in LIVE_ONLY for item in arrived
            ):
                stale = True
