"""Following events as they are stored (docs/api.md, Events): what a tail yields, and how it
waits. The tails (one run's and a whole tenant's) are `events/tails.py`; nothing here knows HTTP.

The `events` table is the truth and the `EventBus` only a doorbell: a tail subscribes first,
then reads the backlog, then reads again on every wake-up and every `poll_seconds` (for other
processes' events), so nothing is missed and a lost wake-up only delays an event.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from batonflow.events.contracts import StoredEvent

LIVE_ONLY = frozenset({"llm.delta"})
PAGE = 500


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


class Doorbell:
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
