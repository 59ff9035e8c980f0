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
                                             thread runs inside a trace (`instrument_database`)

The request, run, step and agent spans are `LateSpan`s where the sampler allows: their ids are
fixed as they start and they are handed to the processors whole as they end; inside an attempt
their end waits for the executor's next commit (`Later`, see telemetry/process.py).

Off unless `BATONFLOW_OTLP_ENDPOINT` is set: then spans are batched to the collector over
OTLP/HTTP. Off means no TracerProvider at all: code holds the API's no-op tracer, whose spans
record nothing, and `carrier()` adds nothing to a run's ctx. Tests and benchmarks pass an
exporter of their own (an in-memory one), which spans reach as they end.
"""

from __future__ import annotations

import functools
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from importlib.metadata import version
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.sdk.trace.sampling import DEFAULT_ON
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import (
    INVALID_SPAN_ID,
    NonRecordingSpan,
    Span,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    Tracer,
)
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


@dataclass(frozen=True, slots=True)
class Later:
    """How an executor's attempt reports what can wait (`Telemetry.attempt` sets `LATER` to it
    for the attempt's length): `run(report)` queues a report for the next telemetry flush."""

    tracing: Tracing
    run: Callable[[Callable[[], None]], None]


LATER: ContextVar[Later | None] = ContextVar("batonflow_later", default=None)


def end_failed(span: Span, exc: BaseException, attributes: Mapping[str, Any] | None = None) -> None:
    """End `span` with `exc` recorded on it (an event and an error status), as the SDK does
    for an exception out of `start_as_current_span`."""
    if span.is_recording():
        if attributes:
            span.set_attributes(attributes)
        span.record_exception(exc)
        span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
    span.end()


def span(
    tracer: Tracer,
    name: str,
    *,
    attributes: Mapping[str, Any] | None = None,
    kind: SpanKind = SpanKind.INTERNAL,
    whole: bool = False,
) -> _SpanBlock:
    """`tracer.start_as_current_span(name)`, except inside an executor's attempt, where a span
    that ends without an exception is reported at the attempt's next telemetry flush, with the
    times it started and ended. With `whole` (the caller sets nothing on the span: its
    `attributes` are all it has) it is a `LateSpan`, recorded whole at that flush; otherwise it
    starts now and only its end waits. An exception is recorded, and ends the span, at once."""
    return _SpanBlock(tracer, name, attributes, kind, whole)


def finish(
    span: Span,
    late: LateSpan | None,
    end_time: int | None = None,
    attributes: Mapping[str, Any] | None = None,
    status: Status | None = None,
    name: str | None = None,
) -> None:
    """End what `Tracing.begin` made, with its closing attributes, status and name."""
    if late is not None:
        if name is not None:
            late.name = name
        late.finish(time.time_ns() if end_time is None else end_time, attributes, status)
        return
    if span.is_recording():
        if name is not None:
            span.update_name(name)
        if attributes:
            span.set_attributes(attributes)
        if status is not None:
            span.set_status(status)
    span.end(end_time)


class _SpanBlock:
    """The `with` block of `span` (a class: a generator's context manager costs more, and this
    wraps every agent call)."""

    __slots__ = (
        "_current",
        "_late",
        "_later",
        "_token",
        "attributes",
        "kind",
        "name",
        "tracer",
        "whole",
    )

    def __init__(
        self,
        tracer: Tracer,
        name: str,
        attributes: Mapping[str, Any] | None,
        kind: SpanKind,
        whole: bool,
    ) -> None:
        self.tracer, self.name, self.attributes, self.kind, self.whole = (
            tracer,
            name,
            attributes,
            kind,
            whole,
        )

    def __enter__(self) -> Span:
        later = LATER.get()
        if later is not None and later.tracing.tracer is not self.tracer:
            later = None
        self._later = later
        if self.whole and later is not None:
            current, late = later.tracing.begin(self.name, self.attributes, self.kind)
        else:
            current = self.tracer.start_span(self.name, kind=self.kind, attributes=self.attributes)
            late = None
        self._current, self._late = current, late
        self._token = otel_context.attach(trace.set_span_in_context(current))
        return current

    def __exit__(self, kind: Any, exc: BaseException | None, _tb: Any) -> None:
        otel_context.detach(self._token)
        late, current, later = self._late, self._current, self._later
        if exc is not None:
            end_failed(late.record() if late is not None else current, exc)
        elif later is None or not (late is not None or current.is_recording()):
            current.end()
        elif late is not None:
            later.run(functools.partial(late.finish, time.time_ns()))
        else:
            later.run(functools.partial(current.end, time.time_ns()))


# The trace flags of a sampled span the SDK makes: a root, and a child (of a random trace id or
# not), under the default sampler.
_ROOT_FLAGS = TraceFlags(TraceFlags.SAMPLED | TraceFlags.RANDOM_TRACE_ID)
_CHILD_FLAGS = (_ROOT_FLAGS, TraceFlags(TraceFlags.SAMPLED))


def _span_id() -> int:
    """A random span id, as the SDK's generator makes them (never the invalid 0)."""
    span_id = random.getrandbits(64)
    while span_id == INVALID_SPAN_ID:
        span_id = random.getrandbits(64)
    return span_id


class _Ids(RandomIdGenerator):
    """Random ids, except for a span recorded after the fact (`LateSpan.record`), which takes
    the ids it was given when it started."""

    def __init__(self) -> None:
        self._fixed = threading.local()

    @contextmanager
    def fixed(self, trace_id: int, span_id: int) -> Iterator[None]:
        self._fixed.ids = (trace_id, span_id)
        try:
            yield
        finally:
            self._fixed.ids = None

    def generate_trace_id(self) -> int:
        ids = getattr(self._fixed, "ids", None)
        return ids[0] if ids else super().generate_trace_id()

    def generate_span_id(self) -> int:
        ids = getattr(self._fixed, "ids", None)
        return ids[1] if ids else super().generate_span_id()


@dataclass(slots=True)
class LateSpan:
    """A span whose ids are fixed when it starts, so that its children and log lines name it,
    and which reaches the span processors as one finished span when it ends (`finish`): a
    fraction of the cost of the SDK's span object, and none of it while the span is open. An
    exception out of it is recorded on the SDK's span instead, made then with the same ids and
    start time (`record`). Made only under the default sampler (parent-based, always on), whose
    decision is known from the parent alone; the processors are the ones `build_tracing` adds."""

    tracing: Tracing
    name: str
    context: otel_context.Context
    parent: SpanContext | None
    kind: SpanKind
    attributes: Mapping[str, Any] | None
    start_time: int
    current: Span  # made current while it is open: a non-recording span with its ids

    def record(self) -> Span:
        """The SDK's span, started at `start_time`, with the ids its children have seen."""
        ids = self.current.get_span_context()
        with self.tracing.ids.fixed(ids.trace_id, ids.span_id):
            return self.tracing.tracer.start_span(
                self.name,
                context=self.context,
                kind=self.kind,
                attributes=self.attributes,
                start_time=self.start_time,
            )

    def finish(
        self,
        end_time: int,
        attributes: Mapping[str, Any] | None = None,
        status: Status | None = None,
    ) -> None:
        """Hand the span, ended at `end_time` with `attributes` added, to the provider's
        processors, as the SDK's span would at its end. Its attributes are the strings and
        numbers Batonflow sets (not cleaned again); what needs the SDK's span (an exception
        and its event) goes through `record` instead."""
        tracing = self.tracing
        readable = ReadableSpan(
            self.name,
            context=self.current.get_span_context(),
            parent=self.parent,
            resource=tracing.provider.resource,
            attributes={**(self.attributes or {}), **(attributes or {})},
            kind=self.kind,
            status=status or Status(StatusCode.UNSET),
            start_time=self.start_time,
            end_time=end_time,
            instrumentation_scope=tracing.scope,
        )
        for processor in tracing.processors:
            processor.on_end(readable)


@functools.lru_cache(maxsize=4096)
def _extract(traceparent: str) -> otel_context.Context:
    # Every attempt of a run carries the same traceparent; contexts are immutable.
    return _PROPAGATOR.extract({TRACEPARENT: traceparent})


@dataclass
class Tracing:
    """The process's tracer and, when tracing is on, its provider and instrumentations."""

    tracer: Tracer = NO_TRACER
    provider: Any = None  # opentelemetry.sdk.trace.TracerProvider when on
    ids: _Ids = field(default_factory=_Ids)  # the provider's id generator
    late: bool = False  # late spans can be made: the provider samples by the default
    processors: list[Any] = field(default_factory=list)  # the provider's, for late spans
    scope: InstrumentationScope | None = None  # the tracer's
    _undo: list[Any] = field(default_factory=list)

    @property
    def enabled(self) -> bool:
        return self.provider is not None

    def late_span(
        self,
        name: str,
        attributes: Mapping[str, Any] | None,
        kind: SpanKind = SpanKind.INTERNAL,
        context: otel_context.Context | None = None,
    ) -> LateSpan | None:
        """A `LateSpan` child of `context` (default: the current one), or None where the SDK's
        decision is not known ahead (tracing off, another sampler, a parent not sampled)."""
        if not self.late:
            return None
        if context is None:
            context = otel_context.get_current()
        parent = trace.get_current_span(context).get_span_context()
        if parent.is_valid:
            flags = parent.trace_flags
            if not flags & TraceFlags.SAMPLED:
                return None
            if flags not in _CHILD_FLAGS:  # (bits a child does not inherit)
                flags = TraceFlags(TraceFlags.SAMPLED | (flags & TraceFlags.RANDOM_TRACE_ID))
            trace_id, state = parent.trace_id, parent.trace_state
        else:
            trace_id, state = self.ids.generate_trace_id(), None
            flags = _ROOT_FLAGS
        ids = SpanContext(trace_id, _span_id(), False, flags, state)
        return LateSpan(
            self,
            name,
            context,
            parent if parent.is_valid else None,
            kind,
            attributes,
            time.time_ns(),
            NonRecordingSpan(ids),
        )

    def begin(
        self,
        name: str,
        attributes: Mapping[str, Any] | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        context: otel_context.Context | None = None,
    ) -> tuple[Span, LateSpan | None]:
        """A span to make current: a late span's `current` where one can be made, else the
        SDK's own span (the no-op one when tracing is off). End it with `finish`."""
        late = self.late_span(name, attributes, kind, context)
        if late is not None:
            return late.current, late
        return self.tracer.start_span(name, context=context, kind=kind, attributes=attributes), None

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

    def instrument_database(self, db: Any) -> None:
        """A span for each write transaction a `store.db.Database` runs in its SQLite thread
        inside a trace (one span per transaction: its statements run on the sqlite3
        connection, where SQLAlchemy's events do not see them). Reads there stay unspanned."""
        if self.enabled:
            db.tracer = self.tracer

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


def build_tracing(settings: Settings, *, exporter: Any = None, batch: bool = False) -> Tracing:
    """No-op unless `settings.otlp_endpoint` is set or an `exporter` is given. A given exporter
    gets each span as it ends (tests), or in batches from a background thread with `batch`, as
    the OTLP exporter does (benchmarks)."""
    if exporter is None and not settings.otlp_endpoint:
        return Tracing()
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    resource = Resource.create(
        {"service.name": settings.service_name, "service.version": version("batonflow")}
    )
    ids = _Ids()
    provider = TracerProvider(resource=resource, id_generator=ids)
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
    tracer = provider.get_tracer(scope.name, scope.version)
    late = provider.sampler is DEFAULT_ON
    return Tracing(tracer, provider, ids, late, [processor], scope)


@dataclass
class RunStart:
    """The span of a run being started, and the trace context to store with the run."""

    span: Span
    carrier: dict[str, str]
    late: LateSpan | None = None
    attributes: dict[str, Any] = field(default_factory=dict)

    def started(self, run: Any) -> None:
        """Name the run on its span once it exists (`run` is a RunRow)."""
        if self.late is not None or self.span.is_recording():
            self.attributes = {
                "batonflow.tenant_id": run.tenant_id,
                "batonflow.workflow.id": run.workflow_id,
                "batonflow.workflow.version": run.workflow_version,
                "batonflow.run_id": run.id,
            }


@contextmanager
def starting_run(tracing: Tracing, workflow_id: str) -> Iterator[RunStart]:
    """`with starting_run(tracing, wf) as start: ctx |= start.carrier; row = ...;
    start.started(row)`. The run's span is a late one where it can be (recorded whole as the
    block ends), else the SDK's; an exception out of the block is recorded on it."""
    current, late = tracing.begin(f"run {workflow_id}")
    token = otel_context.attach(trace.set_span_in_context(current))
    start = RunStart(current, carrier(), late)
    try:
        yield start
    except BaseException as exc:
        end_failed(late.record() if late is not None else current, exc, start.attributes)
        raise
    finally:
        otel_context.detach(token)
    finish(current, late, attributes=start.attributes)
