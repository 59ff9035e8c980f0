"""Announcing without serving a queue: the API process with `BATONFLOW_EXECUTOR=celery`.

It claims nothing. Its executor starts the runs the API queues and announces the steps its
commits make ready (an operator's retry, a review decision), publishing each wake-up right after
the commit; and when a run is cancelled (or fails, cancelling its other steps) it asks every
worker to check its leases, so the attempt stops at once instead of at its next heartbeat.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from batonflow.cluster.broker import Publisher, celery_app
from batonflow.cluster.executor import ClusterExecutor
from batonflow.cluster.routes import Routes
from batonflow.events.contracts import StoredEvent

if TYPE_CHECKING:
    from batonflow.platform import Platform

STOPPING = frozenset({"run.cancelled", "run.failed", "run.dead"})


def stopping_runs(publisher: Publisher) -> Callable[[Sequence[StoredEvent]], None]:
    """A bus observer: a batch that ends a run asks the workers to check their leases."""

    def observe(events: Sequence[StoredEvent]) -> None:
        if any(event.type in STOPPING for event in events):
            publisher.check_leases()

    return observe


@asynccontextmanager
async def announcing(platform: Platform) -> AsyncIterator[ClusterExecutor]:
    """Run an announcing executor on `platform` while the block runs."""
    settings = platform.settings
    publisher = Publisher(celery_app(settings))
    routes = Routes(settings.queue_routes, settings.default_queue, platform.registry)
    executor = platform.executor(
        kind=ClusterExecutor, route=routes, publish=publisher, claims=False
    )
    assert isinstance(executor, ClusterExecutor)
    stop = asyncio.Event()
    serving = asyncio.create_task(executor.serve(stop), name="batonflow-announce")
    try:
        async with platform.bus.observing(stopping_runs(publisher)):
            yield executor
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await serving
        publisher.close()
