"""Following events as they are stored: one run's (`run_events`) or a whole tenant's
(`tenant_events`). The SSE routes format what these yield; nothing here knows about HTTP.

Both tails read the `events` table, which is the truth, and use the in-process `EventBus` only as
a doorbell: they subscribe first, then read the backlog, then read again on every bus wake-up
and every `poll_seconds` (other processes, `batonflow worker`, store events this process never
hears about). So an event is never missed between the backlog and the live part, and a lost or
late wake-up only delays it. `llm.delta` events are live only (never stored): a run's tail passes
them through from the bus as they come.

A tail yields `Delivered` items (a stored event with the cursor a client resumes from, or a live
one without) and `KEEPALIVE` after `heartbeat_seconds` without anything to say. Closing the
iterator (or cancelling the task that drives it) unsubscribes from the bus.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass

from sqlalchemy import func, select

from batonflow.events.bus import EventBus
from batonflow.events.contracts import StoredEvent
from batonflow.store.db import Conn, Database
from batonflow.store.tables import Event, table

TERMINAL = frozenset({"run.succeeded", "run.failed", "run.dead", "run.cancelled"})
LIVE_ONLY = frozenset({"llm.delta"})
PAGE = 500

events_t = table(Event)


@dataclass(frozen=True, slots=True)
class Delivered:
    """An event for the client. `cursor` is what it resumes after (the SSE `id`): the run's
    `seq` on a run's tail, the highest event id delivered so far on a tenant's tail; `None` for
    a live-only event, which cannot be resumed."""

    event: StoredEvent
    cursor: int | None


@dataclass(frozen=True, slots=True)
class Keepalive:
    """Nothing happened for `heartbeat_seconds`; lets proxies and clients see the line is up."""


KEEPALIVE = Keepalive()
StreamItem = Delivered | Keepalive


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
            events_t.c.tenant_id == tenant_id,
            events_t.c.run_id == run_id,
            events_t.c.seq == seq,
        )
    )
    return None if value is None else str(value)


async def read_tenant_events(
    conn: Conn, tenant_id: str, *, after_id: int, limit: int
) -> list[StoredEvent]:
    """One page of a tenant's stored events after `after_id`, in `id` order."""
    rows = await conn.execute(
        select(events_t)
        .where(events_t.c.tenant_id == tenant_id, events_t.c.id > after_id)
        .order_by(events_t.c.id)
        .limit(limit)
    )
    return [StoredEvent(**row._asdict()) for row in rows]


async def last_event_id(conn: Conn, tenant_id: str) -> int:
    """The tenant's highest stored event id (0 when it has none)."""
    value = await conn.scalar(
        select(func.max(events_t.c.id)).where(events_t.c.tenant_id == tenant_id)
    )
    return int(value or 0)


class _Doorbell:
    """Waits on a bus subscription for the next wake-up, a poll, or a heartbeat."""

    def __init__(
        self, queue: asyncio.Queue[StoredEvent], poll_seconds: float, heartbeat_seconds: float
    ) -> None:
        self.queue = queue
        self.poll_seconds = poll_seconds
        self.heartbeat_seconds = heartbeat_seconds
        self.spoke_at = time.monotonic()

    def spoke(self) -> None:
        self.spoke_at = time.monotonic()

    def silence_left(self) -> float:
        return self.spoke_at + self.heartbeat_seconds - time.monotonic()

    async def wait(self) -> list[StoredEvent] | None:
        """What arrived on the bus (possibly nothing, on a poll), or `None` when it is time for
        a keepalive."""
        silence = self.silence_left()
        if silence <= 0:
            return None
        try:
            async with asyncio.timeout(min(self.poll_seconds, silence)):
                first = await self.queue.get()
        except TimeoutError:
            return None if self.silence_left() <= 0 else []
        arrived = [first]
        while not self.queue.empty():
            arrived.append(self.queue.get_nowait())
        return arrived


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
        bell = _Doorbell(queue, poll_seconds, float("inf"))
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
    with the run's live `llm.delta` events in between as the bus delivers them. Followers of
    one run in one process share its reads through `feeds` (a private one when not given).

    Guarantee: stored events come exactly once, in `seq` order, without gaps. That holds across
    processes because a run's events are written under its row lock with consecutive sequence
    numbers, so they commit in `seq` order, and `seq > last` can never skip one. A follower that
    sees a page starting past `last + 1` (it joined a feed that had read further) reads the
    missing events itself. A client that resumes after the last `seq` it saw loses nothing.
    Live `llm.delta` events are best effort: only those published in this process while the
    tail is open.

    With `until_done`, the tail ends once it has caught up and the last event delivered is the
    run's terminal one (`run.succeeded`, `run.failed`, `run.dead`, `run.cancelled`); a run
    retried after it ended has later events, so ending at a terminal event in the backlog
    would be wrong. Without `follow`, it ends after the backlog. The caller checks that the run
    exists in the tenant; an unknown run simply has no events.
    """
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


async def tenant_events(
    db: Database,
    bus: EventBus,
    tenant_id: str,
    after_id: int | None = None,
    *,
    follow: bool = True,
    poll_seconds: float = 1.0,
    heartbeat_seconds: float = 15.0,
    settle_seconds: float = 10.0,
) -> AsyncGenerator[StreamItem, None]:
    """Every stored event of a tenant after `after_id` (from now on when `None`), then (with
    `follow`) those stored later.

    Event ids come from one counter, but on PostgreSQL two transactions can take ids 10 and 11
    and commit 11 first: a tail that only asks for `id > 11` once it has seen 11 would never
    see 10. This tail re-reads a look-back window instead: it asks for ids above a floor that
    trails the ids it delivered by `settle_seconds`, and passes on the ones it has not
    delivered yet.

    Guarantee, within one tail: every event is delivered exactly once; in `id` order, except
    that an event which commits after a higher id has been delivered comes as soon as it is
    seen (after the higher ids). Such a late event is delivered if it commits within
    `settle_seconds` of the first delivery of a higher id; Batonflow's transactions take
    milliseconds. (SQLite commits one writer at a time, in id order, so nothing is late there.)

    Each item's `cursor` is the highest id delivered so far: for an in-order event its own id,
    for a late one the id already reached. A client that resumes after its last cursor gets
    no repeats; what it can miss is only an event still uncommitted when it disconnected with
    an id below that cursor.
    """
    async with bus.subscribe() as queue:
        bell = _Doorbell(queue, poll_seconds, heartbeat_seconds)
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
                            read_tenant_events, tenant_id=tenant_id, after_id=cursor, limit=PAGE
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
