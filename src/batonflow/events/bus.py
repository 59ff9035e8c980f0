"""In-process fan-out of committed events to live subscribers (CLI progress, the API's streams)
and to observers (the metrics), which see every published batch as it is published."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager

from batonflow.events.contracts import StoredEvent

Observer = Callable[[Sequence[StoredEvent]], None]


class EventBus:
    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[StoredEvent]] = set()
        self._observers: list[Observer] = []

    def publish(self, events: Sequence[StoredEvent]) -> None:
        for observe in self._observers:
            observe(events)
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

    @asynccontextmanager
    async def observing(self, observer: Observer) -> AsyncIterator[None]:
        """Call `observer` with every batch published while the block runs; it must not block."""
        self._observers.append(observer)
        try:
            yield
        finally:
            self._observers.remove(observer)
