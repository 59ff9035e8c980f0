"""What one process reports through: its metrics, its tracer, and the context of an attempt.

`build_telemetry(settings)` is called by the entry points (`create_app`, the CLI's context) and
handed down: to the executor (attempt spans and log context), the agent registry and the LLM
gateway (their spans), and the API (requests). `Telemetry()` alone is the quiet default:
metrics that nobody scrapes and no tracing.
"""

from __future__ import annotations

import time
from collections.abc import Coroutine, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import structlog
from opentelemetry.trace import Status, StatusCode, Tracer

from batonflow.settings import Settings
from batonflow.store import metrics as metric_store
from batonflow.store.db import reading
from batonflow.store.metrics import QueueStats, RunLabels
from batonflow.telemetry import traces
from batonflow.telemetry.logs import get_logger
from batonflow.telemetry.metrics import Metrics

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from batonflow.agents.registry import Registry
    from batonflow.auth.ratelimit import RateLimiter
    from batonflow.events.bus import EventBus
    from batonflow.llm.gateway import Gateway
    from batonflow.workflows.checkpoint import Claim, Outcome, SpecCache
    from batonflow.workflows.spec import WorkflowSpec

log = get_logger("batonflow.executor")


@dataclass
class AttemptSeen:
    """Handed to the executor for one attempt; `ended` reports how it went."""

    span: Any
    claim: Claim
    named: bool = False  # the span has the workflow's id and version already
    started: float = field(default_factory=time.perf_counter)

    def ended(self, outcome: Outcome, spec: WorkflowSpec | None) -> None:
        duration_ms = round((time.perf_counter() - self.started) * 1000, 3)
        error = outcome.error or {}
        if self.span.is_recording():
            self.span.set_attribute("batonflow.step.status", outcome.status)
            if spec is not None and not self.named:
                self.span.set_attributes(
                    {"batonflow.workflow.id": spec.id, "batonflow.workflow.version": spec.version}
                )
            if error:
                self.span.set_attribute("batonflow.error.code", error.get("code", ""))
            if outcome.status == "failed":
                self.span.set_status(Status(StatusCode.ERROR, error.get("message")))
        fields: dict[str, Any] = {
            "status": outcome.status,
            "duration_ms": duration_ms,
            "kind": self.claim.kind,
        }
        if error:
            fields["error_code"] = error.get("code")
            fields["error"] = error.get("message")
        # INFO even when it failed: retries are the policy working; the run's end is reported,
        # and an exception nobody expected is logged at ERROR where it is caught.
        log.info("step.attempt", **fields)


@dataclass
class Telemetry:
    metrics: Metrics = field(default_factory=Metrics)
    tracing: traces.Tracing = field(default_factory=traces.Tracing)
    specs: SpecCache | None = None  # the executor's, to label a run's metrics without a read

    @property
    def tracer(self) -> Tracer:
        return self.tracing.tracer

    @contextmanager
    def attempt(self, claim: Claim) -> Iterator[AttemptSeen]:
        """Around one attempt, in its own task: its log context (tenant, run, step, attempt)
        and its span, a child of the run's trace wherever the run was started."""
        spec = self.specs.cached(claim.workflow_version_pk) if self.specs is not None else None
        if spec is not None:
            self.metrics.learn(claim.run_id, claim.tenant_id, spec)
        structlog.contextvars.bind_contextvars(
            tenant_id=claim.tenant_id,
            run_id=claim.run_id,
            step_id=claim.key,
            attempt=claim.attempt,
        )
        if not self.tracing.enabled:
            with self.tracer.start_as_current_span("step") as span:
                yield AttemptSeen(span, claim)
            return
        attributes: dict[str, Any] = {
            "batonflow.tenant_id": claim.tenant_id,
            "batonflow.run_id": claim.run_id,
            "batonflow.step.key": claim.key,
            "batonflow.step.kind": claim.kind,
            "batonflow.step.attempt": claim.attempt,
        }
        if spec is not None:
            attributes["batonflow.workflow.id"] = spec.id
            attributes["batonflow.workflow.version"] = spec.version
        with self.tracer.start_as_current_span(
            f"step {claim.key}", context=traces.parent(claim.ctx), attributes=attributes
        ) as span:
            yield AttemptSeen(span, claim, named=spec is not None)

    def watch(
        self,
        engine: AsyncEngine,
        *,
        bus: EventBus,
        registry: Registry,
        gateway: Gateway,
        limiter: RateLimiter | None = None,
        specs: SpecCache | None = None,
    ) -> Coroutine[Any, Any, None]:
        """Observe a process's parts: spans for the engine's statements, the queue, breakers
        and rate limits read at scrape time (and the executor's `specs`, which name a run's
        workflow and step kinds). Returns the task that counts the bus's events."""
        self.tracing.instrument_engine(engine)
        self.specs = specs

        async def queue() -> QueueStats:
            async with reading(engine) as conn:
                return await metric_store.queue_stats(conn, datetime.now(UTC))

        async def labels(run_ids: Sequence[str]) -> dict[str, RunLabels]:
            async with reading(engine) as conn:
                return await metric_store.run_labels(conn, run_ids)

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
        return self.metrics.follow(bus, labels)

    def close(self) -> None:
        self.tracing.shutdown()


def build_telemetry(
    settings: Settings, *, span_exporter: Any = None, batch: bool = False
) -> Telemetry:
    """Metrics always; tracing when `settings.otlp_endpoint` is set (or `span_exporter` given,
    see `traces.build_tracing`)."""
    tracing = traces.build_tracing(settings, exporter=span_exporter, batch=batch)
    tracing.instrument_http_clients()
    return Telemetry(Metrics(), tracing)
