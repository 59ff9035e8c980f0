"""Per-queue metrics of Celery execution, refreshed every few seconds in the worker's loop:

batonflow_broker_queue_depth{queue}               messages waiting on the broker (Redis: the
                                                  list's length; RabbitMQ: a passive declare's
                                                  message count)
batonflow_broker_queue_oldest_age_seconds{queue}  how long the oldest wake-up sent to the queue
                                                  has gone unclaimed, from the database (the
                                                  step's `published_at`): a broker cannot be
                                                  asked the age of its oldest message without
                                                  taking it, and a lost message has no age there
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from celery import Celery
from prometheus_client.core import GaugeMetricFamily

from batonflow.store import wakes as wake_store
from batonflow.store.db import Database
from batonflow.telemetry.metrics import Metrics

log = logging.getLogger("batonflow.cluster")


def broker_depths(app: Celery, queues: list[str]) -> dict[str, int]:
    """Messages waiting in each queue (0 for a queue the broker does not have yet)."""
    depths: dict[str, int] = {}
    with app.connection_for_read() as conn:
        for queue in queues:
            channel = conn.channel()
            try:
                depths[queue] = int(channel.queue_declare(queue=queue, passive=True).message_count)
            except Exception:
                depths[queue] = 0  # never declared: nothing was ever sent to it
            finally:
                with contextlib.suppress(Exception):
                    channel.close()
    return depths


class QueueGauges:
    def __init__(self, app: Celery, db: Database, queues: list[str], every: float = 5.0) -> None:
        self.app = app
        self.db = db
        self.queues = queues
        self.every = every
        self.depths: dict[str, int] = {}
        self.ages: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None

    def register(self, metrics: Metrics) -> None:
        metrics.watch("broker", self.families)
        self._task = asyncio.create_task(self._refresh_forever(), name="batonflow-queue-gauges")

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def refresh(self) -> None:
        self.depths = await asyncio.to_thread(broker_depths, self.app, self.queues)
        oldest = await self.db.read(wake_store.oldest_unclaimed)
        now = datetime.now(UTC)
        self.ages = {q: max(0.0, (now - at).total_seconds()) for q, at in oldest.items()}

    async def _refresh_forever(self) -> None:
        while True:
            try:
                await self.refresh()
            except Exception:
                log.warning("could not read the queues", exc_info=True)
            await asyncio.sleep(self.every)

    def families(self) -> Iterator[Any]:
        depth = GaugeMetricFamily(
            "batonflow_broker_queue_depth", "Messages waiting on the broker", labels=["queue"]
        )
        age = GaugeMetricFamily(
            "batonflow_broker_queue_oldest_age_seconds",
            "How long the oldest wake-up sent to the queue has gone unclaimed",
            labels=["queue"],
        )
        for queue in sorted({*self.queues, *self.depths, *self.ages}):
            depth.add_metric([queue], float(self.depths.get(queue, 0)))
            age.add_metric([queue], self.ages.get(queue, 0.0))
        yield depth
        yield age
