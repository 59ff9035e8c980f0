"""What one process reports through: its metrics, its tracer, and the context of an attempt.

`build_telemetry(settings)` is called by the entry points (`create_app`, the CLI's context) and
handed down: to the executor (attempt spans and log context), the agent registry and the LLM
gateway (their spans), and the API (requests). `Telemetry()` alone is the quiet default:
metrics that nobody scrapes and no tracing.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import time
from collections.abc import Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

import structlog
from opentelemetry import context as otel_context
from opentelemetry.trace import INVALID_SPAN, Status, StatusCode, Tracer, set_span_in_context

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
    from batonflow.workflows.attempts import Claim, Outcome
    from batonflow.workflows.checkpoint import SpecCache
    from batonflow.workflows.spec import WorkflowSpec

log = get_logger("batonflow.executor")


@dataclass
class AttemptSeen:
    """One attempt's telemetry, as a `with` block (`Telemetry.attempt`); `ended` reports how it
    went. (A class rather than a generator's context manager: it wraps every attempt.)

    The report (the `step.attempt` log line, the span's closing attributes and its end) is left
    to `Telemetry.later`, off the step's critical path; it runs in the attempt's context, so the
    line carries the attempt's fields and trace ids, and the span ends at the time `ended` saw."""

    telemetry: Telemetry
    claim: Claim
    span: Any = INVALID_SPAN  # the attempt's current span (for a late span, its `current`)
    late: traces.LateSpan | None = None  # recorded by the SDK when reported
    named: bool = False  # the span has the workflow's id and version already
    started: float = field(default_factory=time.perf_counter)
    reported: bool = False
    _token: Any = None
    _reporting: Any = None

    def __enter__(self) -> AttemptSeen:
        telemetry, claim = self.telemetry, self.claim
        specs = telemetry.specs
        spec = specs.cached(claim.workflow_version_pk) if specs is not None else None
        if spec is not None:
            telemetry.metrics.learn(claim.run_id, claim.tenant_id, spec)
        structlog.contextvars.bind_contextvars(
            tenant_id=claim.tenant_id,
            run_id=claim.run_id,
            step_id=claim.key,
            attempt=claim.attempt,
        )
        tracing = telemetry.tracing
        if not tracing.enabled:
            return self  # the invalid span records nothing, so there is nothing to end
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
            self.named = True
        self.span, self.late = tracing.begin(
            f"step {claim.key}", attributes, context=traces.parent(claim.ctx)
        )
        self._token = otel_context.attach(set_span_in_context(self.span))
        self._reporting = traces.LATER.set(telemetry.reporting)
        return self

    def __exit__(self, _kind: Any, exc: BaseException | None, _tb: Any) -> None:
        if self._token is None:
            return
        traces.LATER.reset(self._reporting)
        otel_context.detach(self._token)
        if self.reported:
            return
        self.reported = True
        if exc is not None:
            traces.end_failed(self.recorded(), exc)
        else:  # the block did not call `ended`
            self.recorded().end()

    @property
    def recording(self) -> bool:
        return self.late is not None or bool(self.span.is_recording())

    def recorded(self) -> Any:
        """The span to finish: the SDK's (for a late span, made now, at its start time)."""
        return self.late.record() if self.late is not None else self.span

    def ended(self, outcome: Outcome, spec: WorkflowSpec | None) -> None:
        """Call once the outcome is queued for its checkpoint."""
        self.reported = True
        duration = time.perf_counter() - self.started
        end_time = time.time_ns() if self.recording else None
        self.telemetry.later(functools.partial(self._report, outcome, spec, duration, end_time))

    def _report(
        self, outcome: Outcome, spec: WorkflowSpec | None, duration: float, end_time: int | None
    ) -> None:
        error = outcome.error or {}
        if end_time is not None:
            attributes: dict[str, Any] = {"batonflow.step.status": outcome.status}
            if spec is not None and not self.named:
                attributes["batonflow.workflow.id"] = spec.id
                attributes["batonflow.workflow.version"] = spec.version
            if error:
                attributes["batonflow.error.code"] = error.get("code", "")
            status = (
                Status(StatusCode.ERROR, error.get("message"))
                if outcome.status == "failed"
                else None
            )
            traces.finish(self.span, self.late, end_time, attributes, status)
        fields: dict[str, Any] = {
            "status": outcome.status,
            "duration_ms": round(duration * 1000, 3),
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
    """Reports that can wait (an attempt's log line and span end) are queued by `later` and run
    together by `flush`: when a database thread starts committing a write (`committing`, which
    the executor hooks into its SQLite thread), so that they run on the event loop while the
    commit waits on the disk instead of between a step and its checkpoint; else on the loop's
    next turn, or within `FLUSH_WITHIN` seconds at the latest, and at `close`."""

    FLUSH_WITHIN: ClassVar[float] = 0.05

    metrics: Metrics = field(default_factory=Metrics)
    tracing: traces.Tracing = field(default_factory=traces.Tracing)
    specs: SpecCache | None = None  # the executor's, to label a run's metrics without a read
    flush_at_commits: bool = False  # a database thread calls `committing`
    _later: list[tuple[contextvars.Context, Callable[[], None]]] = field(
        default_factory=list, repr=False
    )
    _loop: asyncio.AbstractEventLoop | None = field(default=None, repr=False)
    _timer: asyncio.TimerHandle | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.reporting = traces.Later(self.tracing, self.later)

    def later(self, report: Callable[[], None]) -> None:
        """Run `report`, in the current context, at the next flush."""
        self._later.append((contextvars.copy_context(), report))
        loop = asyncio.get_running_loop()
        if self._timer is None or self._loop is not loop:  # (a new loop: the old one's is gone)
            self._loop = loop
            delay = self.FLUSH_WITHIN if self.flush_at_commits else 0.0
            self._timer = loop.call_later(delay, self._timed_flush)

    def committing(self) -> None:
        """From a database thread, as a write transaction commits: flush on the loop now."""
        if self._later and self._loop is not None:
            with contextlib.suppress(RuntimeError):  # its loop has closed: the timer or close
                self._loop.call_soon_threadsafe(self.flush)

    def _timed_flush(self) -> None:
        self._timer = None
        self.flush()

    def flush(self) -> None:
        """Run the queued reports, in the order they were queued."""
        while self._later:
            waiting, self._later = self._later, []
            for context, report in waiting:
                try:
                    context.run(report)
                except Exception:  # one broken report must not lose the others
                    log.exception("telemetry.report_failed")

    @property
    def tracer(self) -> Tracer:
        return self.tracing.tracer

    def attempt(self, claim: Claim) -> AttemptSeen:
        """`with telemetry.attempt(claim) as seen:` around one attempt, in its own task: its log
        context (tenant, run, step, attempt) and its span, a child of the run's trace wherever
        the run was started. The span stays open past the block when `ended` was called in it
        (it ends in the report); a block left by an exception ends it at once, with the
        exception recorded."""
        return AttemptSeen(self, claim)

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
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.flush()
        self.tracing.shutdown()


def build_telemetry(
    settings: Settings, *, span_exporter: Any = None, batch: bool = False
) -> Telemetry:
    """Metrics always; tracing when `settings.otlp_endpoint` is set (or `span_exporter` given,
    see `traces.build_tracing`)."""
    tracing = traces.build_tracing(settings, exporter=span_exporter, batch=batch)
    tracing.instrument_http_clients()
    return Telemetry(Metrics(), tracing)
