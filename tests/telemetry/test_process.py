"""An attempt's telemetry: its log context (tenant, run, step, attempt, trace) stays inside its
task, its span is a child of the run's carried trace context, and its end is logged."""

from __future__ import annotations

import asyncio

import structlog
from dirty_equals import IsFloat, IsStr
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from batonflow.settings import Settings
from batonflow.telemetry import traces
from batonflow.telemetry.logs import get_logger
from batonflow.telemetry.process import Telemetry, build_telemetry
from batonflow.workflows.checkpoint import Claim, Outcome
from tests.telemetry.conftest import Capture

ERROR = {"code": "step_failed", "message": "the ledger is locked", "details": {}}


async def test_an_attempt_logs_and_traces_as_a_child_of_its_run(capture: Capture) -> None:
    captured = capture(Settings())
    exporter = InMemorySpanExporter()
    telemetry = build_telemetry(Settings(), span_exporter=exporter)
    with traces.starting_run(telemetry.tracer, "outreach") as start:
        carried = start.carrier
    claim = Claim("run-1", "draft", "tenant-1", "agent", 2, 3, "version-1", ctx=carried)

    async def attempt() -> None:
        with telemetry.attempt(claim) as seen:
            get_logger("batonflow.agents").info("drafting")
            seen.ended(Outcome("run-1", "draft", 3, "w1", "failed", error=ERROR), None)

    structlog.contextvars.clear_contextvars()
    await asyncio.create_task(attempt())
    assert structlog.contextvars.get_contextvars() == {}  # the attempt's context stayed in its task
    telemetry.close()
    run, step = sorted(exporter.get_finished_spans(), key=lambda s: s.start_time or 0)
    context = {
        "tenant_id": "tenant-1",
        "run_id": "run-1",
        "step_id": "draft",
        "attempt": 2,
        "trace_id": f"{step.context.trace_id:032x}",
        "span_id": f"{step.context.span_id:016x}",
    }
    assert captured.lines() == [
        {"time": IsStr(), "level": "info", "event": "drafting", "logger": "batonflow.agents"}
        | context,
        {
            "time": IsStr(),
            "level": "info",
            "event": "step.attempt",
            "logger": "batonflow.executor",
            **context,
            "status": "failed",
            "duration_ms": IsFloat(ge=0),
            "kind": "agent",
            "error_code": "step_failed",
            "error": "the ledger is locked",
        },
    ]
    assert (step.name, step.parent.span_id if step.parent else None) == (
        "step draft",
        run.context.span_id,
    )
    assert dict(step.attributes or {}) == {
        "batonflow.tenant_id": "tenant-1",
        "batonflow.run_id": "run-1",
        "batonflow.step.key": "draft",
        "batonflow.step.kind": "agent",
        "batonflow.step.attempt": 2,
        "batonflow.step.status": "failed",
        "batonflow.error.code": "step_failed",
    }
    assert (step.status.status_code, step.status.description) == (
        StatusCode.ERROR,
        "the ledger is locked",
    )


async def test_the_default_telemetry_records_no_spans() -> None:
    telemetry = Telemetry()
    claim = Claim("run-1", "draft", "tenant-1", "agent", 1, 1, "version-1")
    with telemetry.attempt(claim) as seen:
        assert seen.span.is_recording() is False
    structlog.contextvars.clear_contextvars()
