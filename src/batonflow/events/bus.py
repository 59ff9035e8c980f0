"""In-process fan-out of committed events to live subscribers (CLI progress, later the API)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from batonflow.events.contracts import StoredEvent


class EventBus:
    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[StoredEvent]] = set()

    def publish(self, events: Sequence[StoredEvent]) -> None:
        for queue in self._queues:
            for item in events:
                queue.put_nowait(item)

    @asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[StoredEvent]]:
        queue: asyncio.Queue[StoredEvent] = asyncio.Queue()
        self._queues.add(queue)
        try:
            yield queue
        finally:
            self._queues.discard(queue)
