"""OpenTelemetry traces: one trace per run, carried with the run.

    POST /api/v1/runs                        the request (api/telemetry.py)
      run <workflow>                         when the run is started; its context is stored in
                                             the run's ctx as a W3C `traceparent`
        step <key>                           each attempt, in whichever process runs it
          agent <capability>                 Registry.call
            llm <target>                     Gateway.complete
              llm hop <provider:model>       one model of the route
                llm try <n>                  each try of the hop (retries)
                  POST                       the HTTP client call (aiohttp / httpx)
      <database statements>                  SQLAlchemy's events, where the async engine runs them;
                                             a TRANSACTION span for each write the SQLite database
                                             thread runs inside a trace (`store.db.Hooks`, built by the platform)

Off unless `BATONFLOW_OTLP_ENDPOINT` is set (or a test hands in an exporter): then spans are
sampled by `OTEL_TRACES_SAMPLER` and batched to the collector over OTLP/HTTP; under the default
sampler the tracer is a `lean.LeanTracer` (docs/architecture.md). Off means no provider at all:
the no-op tracer records nothing, and `carrier()` adds nothing to a run's ctx.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.metadata import version
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from batonflow.settings import Settings

TRACEPARENT = "traceparent"
_PROPAGATOR = TraceContextTextMapPropagator()
NO_TRACER: Tracer = trace.NoOpTracer()


def carrier() -> dict[str, str]:
    """The current span's W3C trace context (`traceparent`), or {} when none is recorded."""
    if not trace.get_current_span().get_span_context().is_valid:
        return {}
    out: dict[str, str] = {}
    _PROPAGATOR.inject(out)
    return {k: v for k, v in out.items() if k == TRACEPARENT}


def parent(values: Mapping[str, Any]) -> otel_context.Context | None:
    """The trace context stored in a run's ctx (or an incoming request's headers), if any."""
    value = values.get(TRACEPARENT)
    if not isinstance(value, str):
        return None
    return _extract(value)


@functools.lru_cache(maxsize=4096)
def _extract(traceparent: str) -> otel_context.Context:
    # Every attempt of a run carries the same traceparent; contexts are immutable.
    return _PROPAGATOR.extract({TRACEPARENT: traceparent})


def record_failure(span: Span, exc: BaseException) -> None:
    """Record `exc` on `span` (an event and an error status), as the SDK does for an exception
    out of `start_as_current_span`."""
    if span.is_recording():
        span.record_exception(exc)
        span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))


@dataclass
class Tracing:
    """The process's tracer and, when tracing is on, its provider and instrumentations."""

    tracer: Tracer = NO_TRACER
    provider: Any = None  # opentelemetry.sdk.trace.TracerProvider when on
    _undo: list[Any] = field(default_factory=list)

    @property
    def enabled(self) -> bool:
        return self.provider is not None

    def instrument_engine(self, engine: Any) -> None:
        """A span for each statement a SQLAlchemy (async) engine runs inside a trace. Statements
        outside any trace (a worker's polls) make none, rather than a trace each.

        Measured on the development machine, OpenTelemetry's SQLAlchemy instrumentation adds
        about 150 us to a statement and these events about 70 us, which is most of what keeps a
        traced API request within 10% of an untraced one."""
        if not self.enabled:
            return
        from sqlalchemy import event

        sync = getattr(engine, "sync_engine", engine)
        system = sync.dialect.name
        tracer = self.tracer

        def before(
            _conn: Any, _cursor: Any, statement: str, _params: Any, context: Any, _many: bool
        ) -> None:
            if context is None or not trace.get_current_span().get_span_context().is_valid:
                return
            operation = statement.lstrip().split(None, 1)[0].upper() if statement else "SQL"
            context._batonflow_span = tracer.start_span(
                operation,
                kind=SpanKind.CLIENT,
                attributes={
                    "db.system.name": system,
                    "db.operation.name": operation,
                    "db.query.text": statement,  # parameters are bound, never in the text
                },
            )

        def after(
            _conn: Any, _cursor: Any, _statement: str, _params: Any, context: Any, _many: bool
        ) -> None:
            span = getattr(context, "_batonflow_span", None)
            if span is not None:
                span.end()

        def failed(problem: Any) -> None:
            span = getattr(problem.execution_context, "_batonflow_span", None)
            if span is not None:
                span.record_exception(problem.original_exception)
                span.set_status(Status(StatusCode.ERROR, type(problem.original_exception).__name__))
                span.end()

        event.listen(sync, "before_cursor_execute", before)
        event.listen(sync, "after_cursor_execute", after)
        event.listen(sync, "handle_error", failed)

    def instrument_http_clients(self) -> None:
        """Spans for outgoing HTTP calls (the model providers' SDKs use aiohttp and httpx).
        These instrumentations patch the client libraries for the whole process."""
        if not self.enabled:
            return
        from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

        for instrumentor in (AioHttpClientInstrumentor(), HTTPXClientInstrumentor()):
            if not instrumentor.is_instrumented_by_opentelemetry:
                instrumentor.instrument(tracer_provider=self.provider)
                self._undo.append(instrumentor)

    def shutdown(self) -> None:
        """Undo the instrumentations and flush what is left to the exporter."""
        for instrumentor in self._undo:
            instrumentor.uninstrument()
        self._undo.clear()
        if self.provider is not None:
            self.provider.shutdown()


def build_tracing(
    settings: Settings, *, exporter: Any = None, batch: bool = False, lean: bool = True
) -> Tracing:
    """No-op unless `settings.otlp_endpoint` is set or an `exporter` is given. The sampler is
    the SDK's, from `OTEL_TRACES_SAMPLER` (default: parent-based, always on); under the default
    the tracer is a `LeanTracer` unless `lean` is false (the benchmark's comparison). A given
    exporter gets each span as it ends (tests), or in batches from a background thread with
    `batch`, as the OTLP exporter does (benchmarks)."""
    if exporter is None and not settings.otlp_endpoint:
        return Tracing()
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
    from opentelemetry.sdk.trace.sampling import DEFAULT_ON
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope

    from batonflow.telemetry.lean import LeanTracer

    resource = Resource.create(
        {"service.name": settings.service_name, "service.version": version("batonflow")}
    )
    provider = TracerProvider(resource=resource)
    if exporter is not None:
        processor = BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter)
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        assert settings.otlp_endpoint is not None
        endpoint = settings.otlp_endpoint.rstrip("/")
        if not endpoint.endswith("/v1/traces"):
            endpoint += "/v1/traces"
        processor = BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint))
    provider.add_span_processor(processor)
    scope = InstrumentationScope("batonflow", version("batonflow"))
    tracer: Tracer = provider.get_tracer(scope.name, scope.version)
    if lean and provider.sampler is DEFAULT_ON:
        tracer = LeanTracer(provider.id_generator, [processor], provider.resource, scope)
    return Tracing(tracer, provider)


@dataclass
class RunStart:
    """The span of a run being started, and the trace context to store with the run."""

    span: Span
    carrier: dict[str, str]

    def started(self, run: Any) -> None:
        """Name the run on its span once it exists (`run` is a RunRow)."""
        if self.span.is_recording():
            self.span.set_attributes(
                {
                    "batonflow.tenant_id": run.tenant_id,
                    "batonflow.workflow.id": run.workflow_id,
                    "batonflow.workflow.version": run.workflow_version,
                    "batonflow.run_id": run.id,
                }
            )


@contextmanager
def starting_run(tracing: Tracing, workflow_id: str) -> Iterator[RunStart]:
    """`with starting_run(tracing, wf) as start: ctx |= start.carrier; row = ...;
    start.started(row)`. The run's span ends with the block; an exception out of the block is
    recorded on it."""
    with tracing.tracer.start_as_current_span(f"run {workflow_id}") as span:
        yield RunStart(span, carrier())
