"""Lean spans reach the exporter as the SDK's own spans would: one suite run over both tracers."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from batonflow.settings import Settings
from batonflow.telemetry import traces
from batonflow.telemetry.lean import LeanTracer


def exported(span: ReadableSpan) -> dict[str, Any]:
    """What an exporter sees of a span, less its ids and times."""
    return {
        "name": span.name,
        "kind": span.kind,
        "attributes": dict(span.attributes or {}),
        "status": (span.status.status_code, span.status.description),
        "events": [(event.name, sorted((event.attributes or {}).keys())) for event in span.events],
        "flags": int(span.context.trace_flags),
        "scope": span.instrumentation_scope.name if span.instrumentation_scope else None,
        "service": span.resource.attributes["service.name"],
    }


@pytest.mark.parametrize("lean", [True, False], ids=["lean", "sdk"])
def test_both_tracers_export_the_same_spans(lean: bool) -> None:
    exporter = InMemorySpanExporter()
    tracing = traces.build_tracing(Settings(), exporter=exporter, lean=lean)
    assert isinstance(tracing.tracer, LeanTracer) is lean
    tracer = tracing.tracer
    with tracer.start_as_current_span("GET", kind=SpanKind.SERVER) as request:
        request.update_name("GET /api/v1/runs")
        request.set_attributes({"http.route": "/api/v1/runs", "http.response.status_code": 200})
        with pytest.raises(LookupError), tracer.start_as_current_span("agent lead.qualify"):
            raise LookupError("no such lead")
        step = tracer.start_span("step draft", attributes={"batonflow.step.attempt": 2})
        step.set_attribute("batonflow.step.status", "failed")
        step.set_status(StatusCode.ERROR, "the ledger is locked")
        step.end()
        step.end()  # a second end changes nothing
    tracing.shutdown()
    agent, step_span, request_span = exporter.get_finished_spans()
    assert [exported(s) for s in (request_span, agent, step_span)] == [
        {
            "name": "GET /api/v1/runs",
            "kind": SpanKind.SERVER,
            "attributes": {"http.route": "/api/v1/runs", "http.response.status_code": 200},
            "status": (StatusCode.UNSET, None),
            "events": [],
            "flags": 3,  # sampled, with a random trace id
            "scope": "batonflow",
            "service": "batonflow",
        },
        {
            "name": "agent lead.qualify",
            "kind": SpanKind.INTERNAL,
            "attributes": {},
            "status": (StatusCode.ERROR, "LookupError: no such lead"),
            "events": [
                (
                    "exception",
                    [
                        "exception.escaped",
                        "exception.message",
                        "exception.stacktrace",
                        "exception.type",
                    ],
                )
            ],
            "flags": 3,
            "scope": "batonflow",
            "service": "batonflow",
        },
        {
            "name": "step draft",
            "kind": SpanKind.INTERNAL,
            "attributes": {"batonflow.step.attempt": 2, "batonflow.step.status": "failed"},
            "status": (StatusCode.ERROR, "the ledger is locked"),
            "events": [],
            "flags": 3,
            "scope": "batonflow",
            "service": "batonflow",
        },
    ]
    root = request_span.context
    assert [
        (s.context.trace_id, s.parent.span_id if s.parent else None)
        for s in (request_span, agent, step_span)
    ] == [(root.trace_id, None), (root.trace_id, root.span_id), (root.trace_id, root.span_id)]
    assert len({s.context.span_id for s in (request_span, agent, step_span)}) == 3


@pytest.mark.parametrize("lean", [True, False], ids=["lean", "sdk"])
def test_a_child_of_an_unsampled_parent_records_nothing(lean: bool) -> None:
    exporter = InMemorySpanExporter()
    tracing = traces.build_tracing(Settings(), exporter=exporter, lean=lean)
    unsampled = traces.parent({"traceparent": f"00-{'ab' * 16}-{'cd' * 8}-00"})
    with tracing.tracer.start_as_current_span("step draft", context=unsampled) as span:
        context = span.get_span_context()
        assert (span.is_recording(), f"{context.trace_id:032x}", context.trace_flags.sampled) == (
            False,
            "ab" * 16,
            False,
        )
        assert traces.carrier() == {"traceparent": f"00-{'ab' * 16}-{context.span_id:016x}-00"}
    tracing.shutdown()
    assert exporter.get_finished_spans() == ()
    assert trace.get_current_span().get_span_context().is_valid is False
