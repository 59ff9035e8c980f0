"""An attempt's telemetry: its log context (tenant, run, step, attempt, trace) stays inside its
task, its span is a child of the run's carried trace context, and its end is logged."""

from __future__ import annotations

import asyncio

import pytest
import structlog
from dirty_equals import IsFloat, IsStr
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from batonflow.settings import Settings
from batonflow.store.db import Conn, Database
from batonflow.telemetry import traces
from batonflow.telemetry.logs import get_logger
from batonflow.telemetry.process import Telemetry, build_telemetry
from batonflow.workflows.attempts import Claim, Outcome
from tests.telemetry.conftest import Capture

ERROR = {"code": "step_failed", "message": "the ledger is locked", "details": {}}


async def test_an_attempt_logs_and_traces_as_a_child_of_its_run(capture: Capture) -> None:
    captured = capture(Settings())
    exporter = InMemorySpanExporter()
    telemetry = build_telemetry(Settings(), span_exporter=exporter)
    with traces.starting_run(telemetry.tracing, "outreach") as start:
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


async def test_an_attempt_s_report_waits_for_a_commit_and_names_the_ids_its_children_saw(
    capture: Capture, engine: AsyncEngine
) -> None:
    """The report (log line, span end) runs when the executor's database next commits a write
    (SQLite: while the commit is on disk; PostgreSQL: on the loop's next turn). The spans are
    recorded after the fact with the ids their children and log lines saw, and their times."""
    captured = capture(Settings())
    exporter = InMemorySpanExporter()
    telemetry = build_telemetry(Settings(), span_exporter=exporter)
    db = Database(engine)
    if db.threaded:
        db.committing = telemetry.committing  # as the executor hooks it
        telemetry.flush_at_commits = True
    with traces.starting_run(telemetry.tracing, "outreach") as start:
        carried = start.carrier
    claim = Claim("run-1", "draft", "tenant-1", "agent", 1, 1, "version-1", ctx=carried)
    seen_ids: dict[str, tuple[int, int]] = {}

    async def attempt() -> None:
        with telemetry.attempt(claim) as seen:
            step = trace.get_current_span().get_span_context()
            seen_ids["step"] = (step.trace_id, step.span_id)
            with traces.span(telemetry.tracer, "agent writer.draft", whole=True):
                agent = trace.get_current_span().get_span_context()
                seen_ids["agent"] = (agent.trace_id, agent.span_id)
                get_logger("batonflow.agents").info("drafting")
            seen.ended(Outcome("run-1", "draft", 1, "w1", "succeeded"), None)

    await asyncio.create_task(attempt())
    assert [line["event"] for line in captured.lines()] == ["drafting"]
    assert [s.name for s in exporter.get_finished_spans()] == ["run outreach"]

    async def nothing(conn: Conn) -> None:
        await conn.execute(text("SELECT 1"))

    await db.write(nothing)  # SQLite: the thread has the loop flush as it commits
    if not db.threaded:
        await asyncio.sleep(0)  # PostgreSQL: the flush comes on the loop's next turn
    db.close()
    run, agent, step = exporter.get_finished_spans()
    assert [line["event"] for line in captured.lines()] == ["drafting", "step.attempt"]
    assert (step.name, step.context.trace_id, step.context.span_id) == (
        "step draft",
        *seen_ids["step"],
    )
    assert (agent.name, agent.context.trace_id, agent.context.span_id) == (
        "agent writer.draft",
        *seen_ids["agent"],
    )
    assert [s.parent.span_id if s.parent else None for s in (run, step, agent)] == [
        None,
        run.context.span_id,
        step.context.span_id,
    ]
    times = [step.start_time, agent.start_time, agent.end_time, step.end_time]
    assert None not in times
    assert times == sorted(times)  # type: ignore[type-var]
    assert dict(step.attributes or {}) == {
        "batonflow.tenant_id": "tenant-1",
        "batonflow.run_id": "run-1",
        "batonflow.step.key": "draft",
        "batonflow.step.kind": "agent",
        "batonflow.step.attempt": 1,
        "batonflow.step.status": "succeeded",
    }
    assert step.status.status_code == StatusCode.UNSET
    assert step.resource.attributes["service.name"] == "batonflow"
    assert step.instrumentation_scope is not None
    assert step.instrumentation_scope.name == "batonflow"
    assert captured.lines(event="step.attempt")[0]["span_id"] == f"{step.context.span_id:016x}"
    telemetry.close()


async def test_without_a_commit_the_report_runs_within_the_flush_delay_and_at_close(
    capture: Capture,
) -> None:
    captured = capture(Settings())
    telemetry = Telemetry(flush_at_commits=True)
    claim = Claim("run-1", "draft", "tenant-1", "agent", 1, 1, "version-1")

    async def attempt(outcome: str) -> None:
        with telemetry.attempt(claim) as seen:
            seen.ended(Outcome("run-1", "draft", 1, "w1", outcome), None)

    await asyncio.create_task(attempt("succeeded"))
    assert captured.lines() == []
    await asyncio.sleep(Telemetry.FLUSH_WITHIN * 3)
    assert [line["status"] for line in captured.lines()] == ["succeeded"]
    await asyncio.create_task(attempt("failed"))
    telemetry.close()
    assert [line["status"] for line in captured.lines()] == ["succeeded", "failed"]


async def test_an_exception_out_of_a_late_span_is_recorded_at_once() -> None:
    exporter = InMemorySpanExporter()
    telemetry = build_telemetry(Settings(), span_exporter=exporter)
    claim = Claim("run-1", "draft", "tenant-1", "agent", 1, 1, "version-1")

    async def attempt() -> None:
        with (
            telemetry.attempt(claim),
            traces.span(telemetry.tracer, "agent writer.draft", whole=True),
        ):
            raise LookupError("no such lead")

    with pytest.raises(LookupError):
        await asyncio.create_task(attempt())
    agent, step = exporter.get_finished_spans()  # both ended without waiting for a flush
    for span in (agent, step):
        assert (span.status.status_code, span.status.description) == (
            StatusCode.ERROR,
            "LookupError: no such lead",
        )
        assert [event.name for event in span.events] == ["exception"]
    assert (agent.parent.span_id if agent.parent else None) == step.context.span_id
    telemetry.close()


@pytest.mark.parametrize("sampler", ["always_on", "parentbased_always_off"])
async def test_other_samplers_get_the_sdk_s_own_spans(
    sampler: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", sampler)
    exporter = InMemorySpanExporter()
    telemetry = build_telemetry(Settings(), span_exporter=exporter)
    claim = Claim("run-1", "draft", "tenant-1", "agent", 1, 1, "version-1")

    async def attempt() -> None:
        with telemetry.attempt(claim) as seen:
            assert seen.late is None
            with traces.span(telemetry.tracer, "agent writer.draft", whole=True):
                pass
            seen.ended(Outcome("run-1", "draft", 1, "w1", "succeeded"), None)

    await asyncio.create_task(attempt())
    telemetry.close()
    names = [s.name for s in exporter.get_finished_spans()]
    assert names == (["agent writer.draft", "step draft"] if sampler == "always_on" else [])
