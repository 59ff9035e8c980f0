"""What one process reports through: its metrics, its tracer, and its attempts' telemetry, built
by the entry points (`build_telemetry`) and handed down. `Telemetry()` alone is the quiet
default: metrics that nobody scrapes and no tracing.
"""

from __future__ import annotations

from collections.abc import Coroutine, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from opentelemetry.trace import Tracer

from batonflow.events.bus import EventBus
from batonflow.settings import Settings
from batonflow.store import metrics as metric_store
from batonflow.store.metrics import QueueStats, RunLabels
from batonflow.telemetry import traces
from batonflow.telemetry.attempts import AttemptLines, AttemptSeen
from batonflow.telemetry.metrics import LabelSource, Metrics

if TYPE_CHECKING:
    from batonflow.agents.registry import Registry
    from batonflow.auth.ratelimit import RateLimiter
    from batonflow.llm.gateway import Gateway
    from batonflow.store.db import Database
    from batonflow.workflows.attempts import Claim
    from batonflow.workflows.checkpoint import SpecCache


@dataclass
class Telemetry:
    """Metrics, tracing and the attempts' lines of one process."""

    metrics: Metrics = field(default_factory=Metrics)
    tracing: traces.Tracing = field(default_factory=traces.Tracing)
    specs: SpecCache | None = None  # the executor's, to label a run's metrics without a read
    lines: AttemptLines = field(default_factory=AttemptLines)

    @property
    def tracer(self) -> Tracer:
        return self.tracing.tracer

    def attempt(self, claim: Claim) -> AttemptSeen:
        """`with telemetry.attempt(claim) as seen:` around one attempt, in its own task: its log
        context (tenant, run, step, attempt) and its span, a child of the run's trace wherever
        the run was started; `seen.ended(outcome, spec)` ends the span. A block left by an
        exception ends it, with the exception recorded."""
        return AttemptSeen(self.tracing.tracer, self.metrics, self.lines, self.specs, claim)

    def watch(
        self,
        db: Database,
        *,
        bus: EventBus,
        registry: Registry,
        gateway: Gateway,
        limiter: RateLimiter | None = None,
        specs: SpecCache | None = None,
    ) -> Coroutine[Any, Any, None]:
        """Observe a process's parts: spans for the engine's statements, the queue, breakers
        and rate limits read at scrape time (and the executor's `specs`, which name a run's
        workflow and step kinds). Returns the task that counts the bus's events and writes the
        attempts' lines from them."""
        self.tracing.instrument_engine(db.engine)
        self.specs = specs

        async def queue() -> QueueStats:
            return await db.read(lambda conn: metric_store.queue_stats(conn, datetime.now(UTC)))

        async def labels(run_ids: Sequence[str]) -> dict[str, RunLabels]:
            return await db.read(lambda conn: metric_store.run_labels(conn, run_ids))

        def breakers() -> Iterator[tuple[str, str, str]]:
            for breaker in registry.breakers():
                yield "capability", breaker.name, breaker.state.value
            for breaker in gateway.breakers():
                yield "model", breaker.name, breaker.state.value

        self.metrics.watch_queue(queue)
        self.metrics.watch_breakers(breakers)
        if limiter is not None:
            rejections = limiter.rejections
            self.metrics.watch_rejections(lambda: rejections)
        return self._follow(bus, labels)

    async def _follow(self, bus: EventBus, labels: LabelSource) -> None:
        try:
            async with bus.observing(self.lines.observe):
                await self.metrics.follow(bus, labels)
        finally:
            self.lines.flush()

    def close(self) -> None:
        self.tracing.shutdown()


def build_telemetry(
    settings: Settings, *, span_exporter: Any = None, batch: bool = False, lean: bool = True
) -> Telemetry:
    """Metrics always; tracing when `settings.otlp_endpoint` is set (or `span_exporter` given,
    see `traces.build_tracing`)."""
    tracing = traces.build_tracing(settings, exporter=span_exporter, batch=batch, lean=lean)
    tracing.instrument_http_clients()
    return Telemetry(Metrics(), tracing)
