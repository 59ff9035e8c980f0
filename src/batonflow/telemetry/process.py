"""What one process reports through: its metrics, its tracer, and its attempts' telemetry, built
by the entry points (`build_telemetry`) and handed down. `Telemetry()` alone is the quiet
default: metrics that nobody scrapes and no tracing.

A step attempt reports its span and log context while it runs (`AttemptSeen`), and its
`step.attempt` line once its outcome is committed (`AttemptLines`, from the `step.completed`,
`step.failed` and `step.skipped` events), so a line says what was checkpointed, once; an attempt
whose outcome was rejected (its lease was lost) writes none.

Unexpected errors go to Sentry when `BATONFLOW_SENTRY_DSN` is set (`init_sentry`; only then is
sentry-sdk imported): what is logged at ERROR with a traceback, tagged with the log context of
the moment and passed through the logs' `Redactor`; frames' local variables are not sent.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from typing import TYPE_CHECKING, Any

import structlog
from opentelemetry import context as otel_context
from opentelemetry.trace import (
    INVALID_SPAN,
    SpanContext,
    Status,
    StatusCode,
    Tracer,
    set_span_in_context,
)

from batonflow.errors import ConfigError
from batonflow.events.bus import EventBus
from batonflow.events.contracts import StoredEvent
from batonflow.settings import Settings
from batonflow.store import metrics as metric_store
from batonflow.store.metrics import QueueStats, RunLabels
from batonflow.telemetry import traces
from batonflow.telemetry.logs import Redactor, get_logger
from batonflow.telemetry.metrics import LabelSource, Metrics

if TYPE_CHECKING:
    from batonflow.agents.registry import Registry
    from batonflow.auth.ratelimit import RateLimiter
    from batonflow.llm.gateway import Gateway
    from batonflow.store.db import Database
    from batonflow.workflows.attempts import Claim, Outcome
    from batonflow.workflows.checkpoint import SpecCache
    from batonflow.workflows.spec import WorkflowSpec

log = get_logger("batonflow.executor")
STATUSES = {"step.completed": "succeeded", "step.failed": "failed", "step.skipped": "skipped"}


@dataclass(frozen=True, slots=True)
class Ended:
    """What an attempt leaves for its line: known only where it ran."""

    attempt: int
    kind: str
    duration_ms: float
    span: SpanContext | None


class AttemptLines:
    """The `step.attempt` lines, from committed events (a bus observer). `observe` keeps the
    events and `flush` writes them: as the SQLite database thread's next write commits
    (`store.db.Hooks.idle`), when the loop would only wait for the disk, or within `DELAY`."""

    LIMIT = 10_000  # ended attempts whose outcome never commits here (rejected, dropped)
    DELAY = 0.05

    def __init__(self) -> None:
        self._ended: dict[tuple[str, str], Ended] = {}
        self._pending: list[StoredEvent] = []
        self._timer: asyncio.TimerHandle | None = None

    def ended(self, run_id: str, key: str, seen: Ended) -> None:
        if len(self._ended) >= self.LIMIT:
            self._ended.clear()
        self._ended[(run_id, key)] = seen

    def observe(self, events: Sequence[StoredEvent]) -> None:
        self._pending += events
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.DELAY, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self.flush()

    def flush(self) -> None:
        """Log the end of each attempt ended in this process whose outcome the kept events
        commit. (INFO even when it failed: retries are the policy working; the run's end is
        reported, and an exception nobody expected is logged at ERROR where it is caught.)"""
        events, self._pending = self._pending, []
        for item in events:
            status = STATUSES.get(item.type)
            if status is None:
                continue
            seen = self._ended.pop((item.run_id, item.step_key or ""), None)
            if seen is None:  # not an attempt of this process (a review decided, a map item)
                continue
            fields: dict[str, Any] = {
                "tenant_id": item.tenant_id,
                "run_id": item.run_id,
                "step_id": item.step_key,
                "attempt": seen.attempt,
                "status": status,
                "duration_ms": seen.duration_ms,
                "kind": seen.kind,
            }
            error = item.data.get("error")
            if error:
                fields["error_code"] = error.get("code")
                fields["error"] = error.get("message")
            if seen.span is not None:
                fields["trace_id"] = format(seen.span.trace_id, "032x")
                fields["span_id"] = format(seen.span.span_id, "016x")
            log.info("step.attempt", **fields)


def run_labels(ctx: dict[str, Any]) -> dict[str, str]:
    """The labels a run was started with (`ctx["labels"]`: an app's names for what the run
    works on, such as a pricing pack's id), for its steps' spans."""
    labels = ctx.get("labels")
    if not isinstance(labels, dict):
        return {}
    return {str(name): str(value) for name, value in labels.items() if value is not None}


@dataclass
class AttemptSeen:
    """One attempt's telemetry, as a `with` block; `ended` reports how it went. (A class rather
    than a generator's context manager: it wraps every attempt.)"""

    tracer: Any
    metrics: Metrics
    lines: AttemptLines
    specs: SpecCache | None
    claim: Claim
    span: Any = INVALID_SPAN  # the attempt's span, current inside the block
    named: bool = False  # the span has the workflow's id and version already
    started: float = field(default_factory=time.perf_counter)
    _ended: bool = False
    _token: Any = None

    def __enter__(self) -> AttemptSeen:
        claim, specs = self.claim, self.specs
        spec = specs.cached(claim.workflow_version_pk) if specs is not None else None
        if spec is not None:
            self.metrics.learn(claim.run_id, claim.tenant_id, spec)
        labels = run_labels(claim.ctx)
        structlog.contextvars.bind_contextvars(
            tenant_id=claim.tenant_id, run_id=claim.run_id, step_id=claim.key, attempt=claim.attempt
        )
        if self.tracer is traces.NO_TRACER:
            return self  # the invalid span records nothing, so there is nothing to end
        attributes: dict[str, Any] = {
            "batonflow.tenant_id": claim.tenant_id,
            "batonflow.run_id": claim.run_id,
            "batonflow.step.key": claim.key,
            "batonflow.step.kind": claim.kind,
            "batonflow.step.attempt": claim.attempt,
            **{f"batonflow.{name}": value for name, value in labels.items()},
        }
        if spec is not None:
            attributes["batonflow.workflow.id"] = spec.id
            attributes["batonflow.workflow.version"] = spec.version
            self.named = True
        self.span = self.tracer.start_span(
            f"step {claim.key}", context=traces.parent(claim.ctx), attributes=attributes
        )
        self._token = otel_context.attach(set_span_in_context(self.span))
        return self

    def __exit__(self, _kind: Any, exc: BaseException | None, _tb: Any) -> None:
        if self._token is None:
            return
        otel_context.detach(self._token)
        if self._ended:
            return
        if exc is not None:
            traces.record_failure(self.span, exc)
        self.span.end()

    def ended(self, outcome: Outcome, spec: WorkflowSpec | None) -> None:
        """Call once the outcome is queued for its checkpoint: ends the span with the outcome's
        status, and leaves what the attempt's line needs for when the outcome commits."""
        self._ended = True
        duration = round((time.perf_counter() - self.started) * 1000, 3)
        span = self.span
        recording = span.is_recording()
        if recording:
            error = outcome.error or {}
            attributes: dict[str, Any] = {"batonflow.step.status": outcome.status}
            if spec is not None and not self.named:
                attributes["batonflow.workflow.id"] = spec.id
                attributes["batonflow.workflow.version"] = spec.version
            if error:
                attributes["batonflow.error.code"] = error.get("code", "")
            span.set_attributes(attributes)
            if outcome.status == "failed":
                span.set_status(Status(StatusCode.ERROR, error.get("message")))
            span.end()
        claim, context = self.claim, span.get_span_context()
        ended = Ended(claim.attempt, claim.kind, duration, context if context.is_valid else None)
        self.lines.ended(claim.run_id, claim.key, ended)


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


TAGS = ("request_id", "tenant_id", "user_id", "run_id", "step_id", "attempt", "trace_id")


def init_sentry(settings: Settings, *, transport: Any = None) -> Any:
    """Start reporting to Sentry; returns a handle whose `close()` flushes and stops it, or
    None when no DSN is configured. `transport` replaces the HTTP transport (tests)."""
    if settings.sentry_dsn is None:
        return None
    try:
        import sentry_sdk
        from sentry_sdk.integrations.logging import LoggingIntegration
    except ImportError:
        raise ConfigError(
            "BATONFLOW_SENTRY_DSN is set but sentry-sdk is not installed; install the "
            "'sentry' extra (pip install 'batonflow[sentry]')"
        ) from None

    redactor = Redactor.for_settings(settings)

    def before_send(event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any]:
        record = hint.get("log_record")
        if record is not None and isinstance(record.msg, dict):
            # A structlog line: its event is the message, its fields are the extras.
            fields = {k: v for k, v in record.msg.items() if not k.startswith("_")}
            event["logentry"] = {"message": str(fields.pop("event", "")), "params": []}
            event["extra"] = {**event.get("extra", {}), **fields}
        bound = structlog.contextvars.get_contextvars()
        tags = event.setdefault("tags", {})
        for key in TAGS:
            if bound.get(key) is not None:
                tags[key] = str(bound[key])
        cleaned: dict[str, Any] = redactor.value(event)
        return cleaned

    options: dict[str, Any] = {}
    if transport is not None:
        options["transport"] = transport
    client = sentry_sdk.init(
        dsn=settings.sentry_dsn.get_secret_value(),
        release=f"batonflow@{version('batonflow')}",
        environment=settings.sentry_environment
        or ("development" if settings.dev else "production"),
        server_name=settings.worker_id,
        include_local_variables=False,
        auto_enabling_integrations=False,
        integrations=[LoggingIntegration(level=None, event_level=logging.ERROR)],
        before_send=before_send,  # type: ignore[arg-type]
        **options,
    )
    sentry_sdk.set_tag("service", settings.service_name)
    return _Handle(client)


class _Handle:
    def __init__(self, guard: Any) -> None:
        self._guard = guard

    def flush(self, timeout: float = 5.0) -> None:
        import sentry_sdk

        sentry_sdk.flush(timeout=timeout)

    def close(self) -> None:
        import sentry_sdk

        sentry_sdk.flush(timeout=5.0)
        sentry_sdk.get_client().close()
        sentry_sdk.get_global_scope().set_client(None)
