"""Tracing: off by default (the no-op tracer, nothing carried), spans to an in-memory exporter
or, over OTLP/HTTP, to a collector; the trace context a run carries makes later spans its
children."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from dirty_equals import IsStr
from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from pydantic import SecretStr

from batonflow.api.app import create_app
from batonflow.settings import Settings
from batonflow.telemetry import traces
from batonflow.telemetry.process import build_telemetry
from batonflow_testkit.fakeserver import Fail, FakeProvider, Reply
from tests.api.conftest import Signup, core_apps
from tests.api.flows import settled, start, store
from tests.api.test_metrics import PITCH


def test_tracing_is_off_unless_configured() -> None:
    tracing = traces.build_tracing(Settings())
    assert (tracing.enabled, tracing.provider) == (False, None)
    assert isinstance(tracing.tracer, trace.NoOpTracer)
    with (
        tracing.tracer.start_as_current_span("nothing") as span,
        traces.starting_run(tracing, "quick") as start,
    ):
        assert (span.is_recording(), start.carrier, traces.carrier()) == (False, {}, {})
    assert traces.parent({}) is None
    assert traces.parent({"traceparent": 3}) is None
    tracing.shutdown()


def test_a_run_s_trace_context_parents_its_later_spans() -> None:
    exporter = InMemorySpanExporter()
    tracing = traces.build_tracing(Settings(service_name="batonflow-test"), exporter=exporter)
    with (
        tracing.tracer.start_as_current_span("POST /api/v1/runs"),
        traces.starting_run(tracing, "quick") as start,
    ):
        carried = dict(start.carrier)
    with tracing.tracer.start_as_current_span("step echo", context=traces.parent(carried)):
        pass
    tracing.shutdown()
    request, run, step = sorted(exporter.get_finished_spans(), key=lambda s: s.start_time or 0)
    assert carried == {
        "traceparent": f"00-{run.context.trace_id:032x}-{run.context.span_id:016x}-{run.context.trace_flags:02x}"
    }
    assert [(s.name, s.parent.span_id if s.parent else None) for s in (request, run, step)] == [
        ("POST /api/v1/runs", None),
        ("run quick", request.context.span_id),
        ("step echo", run.context.span_id),
    ]
    assert {s.context.trace_id for s in (request, run, step)} == {request.context.trace_id}
    assert run.resource.attributes["service.name"] == "batonflow-test"


class Collector(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.posts: list[tuple[str, str, bytes]] = []


class _Handler(BaseHTTPRequestHandler):
    server: Collector

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.posts.append((self.path, self.headers["Content-Type"], body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[Collector]:
    server = Collector()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def test_spans_are_exported_over_otlp_http_to_the_configured_collector(
    collector: Collector,
) -> None:
    endpoint = f"http://127.0.0.1:{collector.server_address[1]}"
    tracing = traces.build_tracing(Settings(otlp_endpoint=endpoint))
    assert tracing.enabled
    with (
        tracing.tracer.start_as_current_span("POST /api/v1/runs") as request,
        traces.starting_run(tracing, "quick") as start,
    ):
        pass
    tracing.shutdown()  # flushes the batch
    assert [(path, kind) for path, kind, _ in collector.posts] == [
        ("/v1/traces", "application/x-protobuf")
    ]
    sent = ExportTraceServiceRequest.FromString(collector.posts[0][2])
    spans = [span for rs in sent.resource_spans for ss in rs.scope_spans for span in ss.spans]
    by_name = {span.name: span for span in spans}
    assert sorted(by_name) == ["POST /api/v1/runs", "run quick"]
    run, outer = by_name["run quick"], request.get_span_context()
    assert (run.trace_id.hex(), run.parent_span_id.hex()) == (
        f"{outer.trace_id:032x}",
        f"{outer.span_id:016x}",
    )
    assert run.span_id.hex() == f"{start.span.get_span_context().span_id:016x}"
    assert run.end_time_unix_nano >= run.start_time_unix_nano > 0
    scopes = {ss.scope.name for rs in sent.resource_spans for ss in rs.scope_spans}
    assert scopes == {"batonflow"}


@pytest.fixture
async def provider() -> AsyncIterator[FakeProvider]:
    async with FakeProvider() as server:
        yield server


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
async def app(
    api_settings: Settings, provider: FakeProvider, exporter: InMemorySpanExporter
) -> AsyncIterator[FastAPI]:
    settings = api_settings.model_copy(
        update={
            "openai_base_url": provider.openai_url,
            "openai_api_key": SecretStr("sk-test-not-a-secret"),
            "llm_retry_initial": 0.01,
        }
    )
    telemetry = build_telemetry(settings, span_exporter=exporter)
    app = create_app(settings, telemetry=telemetry, apps=core_apps())
    async with app.router.lifespan_context(app):
        yield app
    telemetry.close()


def tree(spans: Sequence[ReadableSpan], root: ReadableSpan, keep: Any) -> list[Any]:
    """[name, [children...]] of the spans under `root` that `keep` accepts, in start order."""
    children = sorted(
        (s for s in spans if s.parent is not None and s.parent.span_id == root.context.span_id),
        key=lambda s: s.start_time or 0,
    )
    return [root.name, [tree(spans, child, keep) for child in children if keep(child)]]


def is_db(span: ReadableSpan) -> bool:
    attributes = span.attributes or {}
    return "db.system" in attributes or "db.system.name" in attributes


async def test_a_run_is_one_trace_from_the_request_to_each_retried_model_call(
    app: FastAPI, signup: Signup, provider: FakeProvider, exporter: InMemorySpanExporter
) -> None:
    admin = await signup()
    await store(admin.client, PITCH)
    provider.script(Fail(500), Reply("A line about Analytical."))
    run = await start(admin.client, "pitch", {"company": "Analytical"})
    assert run["ctx"]["traceparent"] == IsStr(regex=r"00-[0-9a-f]{32}-[0-9a-f]{16}-0[0-9a-f]")
    await settled(admin.client, run["id"], ("succeeded",))

    spans = exporter.get_finished_spans()
    [run_span] = [s for s in spans if s.name == "run pitch"]
    trace_id = run_span.context.trace_id
    mine = [s for s in spans if s.context.trace_id == trace_id]
    [request] = [s for s in mine if s.parent is None]
    assert tree(mine, request, lambda s: not is_db(s)) == [
        "POST /api/v1/runs",
        [
            [
                "run pitch",
                [
                    [
                        "step pitch",
                        [
                            [
                                "llm openai:gpt-4.1-mini",
                                [
                                    [
                                        "llm hop openai:gpt-4.1-mini",
                                        [
                                            ["llm try 1", [["POST", []]]],
                                            ["llm try 2", [["POST", []]]],
                                        ],
                                    ]
                                ],
                            ]
                        ],
                    ]
                ],
            ]
        ],
    ]
    statements = [s for s in mine if is_db(s)]
    assert {s.parent.span_id for s in statements if s.parent} >= {run_span.context.span_id}

    by_name = {s.name: s for s in mine}
    step = by_name["step pitch"]
    assert dict(step.attributes or {}) == {
        "batonflow.tenant_id": run["ctx"]["tenant"],
        "batonflow.run_id": run["id"],
        "batonflow.step.key": "pitch",
        "batonflow.step.kind": "llm",
        "batonflow.step.attempt": 1,
        "batonflow.step.status": "succeeded",
        "batonflow.workflow.id": "pitch",
        "batonflow.workflow.version": "1",
    }
    assert dict(run_span.attributes or {}) == {
        "batonflow.tenant_id": run["ctx"]["tenant"],
        "batonflow.workflow.id": "pitch",
        "batonflow.workflow.version": "1",
        "batonflow.run_id": run["id"],
    }
    hop = by_name["llm hop openai:gpt-4.1-mini"]
    assert dict(hop.attributes or {}) == {
        "gen_ai.system": "openai",
        "gen_ai.request.model": "gpt-4.1-mini",
        "batonflow.llm.hop": 0,
        "batonflow.llm.call_id": IsStr(),
        "batonflow.llm.status": "ok",
        "batonflow.llm.retries": 1,
        "gen_ai.usage.input_tokens": 10,
        "gen_ai.usage.output_tokens": 5,
        "batonflow.llm.cost_usd": "0.000012",
    }
    failed, answered = by_name["llm try 1"], by_name["llm try 2"]
    assert (failed.status.status_code, answered.status.status_code) == (
        StatusCode.ERROR,
        StatusCode.UNSET,
    )
    assert [e.name for e in failed.events] == ["exception"]
    assert dict(answered.attributes or {}) == {
        "batonflow.llm.try": 2,
        "gen_ai.usage.input_tokens": 10,
        "gen_ai.usage.output_tokens": 5,
    }
    assert (request.attributes or {})["http.route"] == "/api/v1/runs"
    assert (request.attributes or {})["http.response.status_code"] == 201
