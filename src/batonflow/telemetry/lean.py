"""The tracer `build_tracing` hands out under the default sampler (parent-based, always on): the
SDK's spans, made lean (docs/architecture.md, "Telemetry on a step's path"). The decision is
known from the parent alone, so a `LeanSpan` takes its ids from the provider's id generator as
it starts, keeps attributes, events and status in plain fields, and reaches the provider's
processors as one finished span as it ends. Callers hold it as any `Tracer`; another sampler, or
`lean=False`, gets the SDK's own (`bench/engine.py --systems observability` compares them).
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, SpanProcessor
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import (
    Link,
    Span,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    Tracer,
)
from opentelemetry.util import types
from opentelemetry.util._decorator import _agnosticcontextmanager

# The flags of a sampled root the SDK makes (its random trace ids say so), and what a child
# inherits: the parent's sampled and random-trace-id bits.
_ROOT = TraceFlags(TraceFlags.SAMPLED | TraceFlags.RANDOM_TRACE_ID)
_INHERITED = TraceFlags.SAMPLED | TraceFlags.RANDOM_TRACE_ID


class LeanSpan(Span):
    """A recording span with plain fields, handed to the processors whole as it ends."""

    __slots__ = (
        "_attributes",
        "_context",
        "_end_time",
        "_events",
        "_kind",
        "_name",
        "_parent",
        "_start_time",
        "_status",
        "_tracer",
    )

    def __init__(
        self,
        tracer: LeanTracer,
        name: str,
        context: SpanContext,
        parent: SpanContext | None,
        kind: SpanKind,
        attributes: types.Attributes,
        start_time: int | None,
    ) -> None:
        self._tracer, self._name, self._context, self._parent = tracer, name, context, parent
        self._kind = kind
        self._attributes: dict[str, Any] = dict(attributes) if attributes else {}
        self._events: list[Event] = []
        self._status = Status(StatusCode.UNSET)
        self._start_time = start_time if start_time is not None else time.time_ns()
        self._end_time: int | None = None

    def get_span_context(self) -> SpanContext:
        return self._context

    def is_recording(self) -> bool:
        return self._end_time is None

    def set_attribute(self, key: str, value: types.AttributeValue) -> None:
        if value is not None:
            self._attributes[key] = value

    def set_attributes(self, attributes: Mapping[str, types.AttributeValue]) -> None:
        for key, value in attributes.items():
            if value is not None:
                self._attributes[key] = value

    def add_event(
        self, name: str, attributes: types.Attributes = None, timestamp: int | None = None
    ) -> None:
        self._events.append(Event(name, attributes, timestamp))

    def update_name(self, name: str) -> None:
        self._name = name

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        if isinstance(status, StatusCode):
            status = Status(status, description)
        if self._status.status_code is not StatusCode.OK:  # OK is final, as in the SDK
            self._status = status

    def record_exception(
        self,
        exception: BaseException,
        attributes: types.Attributes = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        kind = type(exception)
        module = kind.__module__
        recorded: dict[str, Any] = {
            "exception.type": f"{module}.{kind.__qualname__}"
            if module and module != "builtins"
            else kind.__qualname__,
            "exception.message": str(exception),
            "exception.stacktrace": "".join(traceback.format_exception(exception)),
            "exception.escaped": str(escaped),
        }
        if attributes:
            recorded.update(attributes)
        self.add_event("exception", recorded, timestamp)

    def end(self, end_time: int | None = None) -> None:
        if self._end_time is not None:
            return
        self._end_time = end_time if end_time is not None else time.time_ns()
        tracer = self._tracer
        finished = ReadableSpan(
            self._name,
            context=self._context,
            parent=self._parent,
            resource=tracer.resource,
            attributes=self._attributes,
            events=self._events,
            kind=self._kind,
            status=self._status,
            start_time=self._start_time,
            end_time=self._end_time,
            instrumentation_scope=tracer.scope,
        )
        for processor in tracer.processors:
            processor.on_end(finished)


class LeanTracer(Tracer):
    """Lean spans under the default sampler (see the module docstring)."""

    def __init__(
        self,
        ids: IdGenerator,
        processors: Sequence[SpanProcessor],
        resource: Resource,
        scope: InstrumentationScope,
    ) -> None:
        self.ids, self.processors, self.resource, self.scope = ids, processors, resource, scope

    def start_span(
        self,
        name: str,
        context: otel_context.Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: types.Attributes = None,
        links: Sequence[Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
    ) -> Span:
        parent = trace.get_current_span(context).get_span_context()
        if not parent.is_valid:
            ids = SpanContext(
                self.ids.generate_trace_id(), self.ids.generate_span_id(), False, _ROOT
            )
            return LeanSpan(self, name, ids, None, kind, attributes, start_time)
        flags = parent.trace_flags
        if not flags & TraceFlags.SAMPLED:  # the parent-based sampler drops it
            return trace.NonRecordingSpan(
                SpanContext(
                    parent.trace_id,
                    self.ids.generate_span_id(),
                    False,
                    TraceFlags(flags & TraceFlags.RANDOM_TRACE_ID),
                    parent.trace_state,
                )
            )
        ids = SpanContext(
            parent.trace_id,
            self.ids.generate_span_id(),
            False,
            TraceFlags(flags & _INHERITED),
            parent.trace_state,
        )
        return LeanSpan(self, name, ids, parent, kind, attributes, start_time)

    @_agnosticcontextmanager  # as the SDK's tracer declares it
    def start_as_current_span(
        self,
        name: str,
        context: otel_context.Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: types.Attributes = None,
        links: Sequence[Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
        end_on_exit: bool = True,
    ) -> Iterator[Span]:
        span = self.start_span(name, context, kind, attributes, links, start_time)
        with trace.use_span(
            span,
            end_on_exit=end_on_exit,
            record_exception=record_exception,
            set_status_on_exception=set_status_on_exception,
        ) as current:
            yield current
