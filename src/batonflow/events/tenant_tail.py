"""A tenant's tail (`tenant_events`): every stored event of the tenant after an id, then those
stored later. What a tail yields and how it waits is `events/stream.py`.
"""

from __future__ import annotations

import functools
import time
from collections.abc import AsyncGenerator

from sqlalchemy import func, select

from batonflow.events.bus import EventBus
from batonflow.events.contracts import StoredEvent
from batonflow.events.stream import KEEPALIVE, LIVE_ONLY, PAGE, Delivered, Doorbell, StreamItem
from batonflow.store.db import Conn, Database
from batonflow.store.tables import Event, table

events_t = table(Event)


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
    `follow`) those stored later; each exactly once, in `id` order except that one committed
    after a higher id was delivered comes as soon as it is seen.

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
