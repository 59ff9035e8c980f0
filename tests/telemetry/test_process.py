"""An attempt's telemetry: its log context (tenant, run, step, attempt, trace) stays inside its
task, its span is a child of the run's carried trace context and reaches the exporter as it
ends, and its `step.attempt` line is written once its outcome's event is committed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
import structlog
from dirty_equals import IsFloat, IsStr
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from batonflow.events.bus import EventBus
from batonflow.events.contracts import StoredEvent
from batonflow.settings import Settings
from batonflow.telemetry import traces
from batonflow.telemetry.logs import get_logger
from batonflow.telemetry.process import Telemetry, build_telemetry
from batonflow.workflows.attempts import Claim, Outcome
from tests.telemetry.conftest import Capture

ERROR = {"code": "step_failed", "message": "the ledger is locked", "details": {}}


def committed(type_: str, key: str = "draft", **data: Any) -> StoredEvent:
    """An event as the executor publishes it after its commit."""
    return StoredEvent(1, type_, 1, "tenant-1", "run-1", 1, key, data, datetime.now(UTC))


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
    bus = EventBus()
    async with bus.observing(telemetry.lines.observe):
        bus.publish([committed("step.failed", attempt=2, error=ERROR, retry_in=1.0)])
    assert captured.lines(event="step.attempt") == []  # the line waits for a commit or the timer
    await asyncio.sleep(telemetry.lines.DELAY * 2)
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


async def test_spans_reach_the_exporter_as_they_end_and_the_line_waits_for_the_commit(
    capture: Capture,
) -> None:
    """Spans are the SDK's own: the exporter has each as it ends, with the ids its children and
    log lines saw. The attempt's line is written from the committed event, with those ids."""
    captured = capture(Settings())
    exporter = InMemorySpanExporter()
    telemetry = build_telemetry(Settings(), span_exporter=exporter)
    with traces.starting_run(telemetry.tracing, "outreach") as start:
        carried = start.carrier
    claim = Claim("run-1", "draft", "tenant-1", "agent", 1, 1, "version-1", ctx=carried)
    seen_ids: dict[str, tuple[int, int]] = {}

    async def attempt() -> None:
        with telemetry.attempt(claim) as seen:
            step = trace.get_current_span().get_span_context()
            seen_ids["step"] = (step.trace_id, step.span_id)
            with telemetry.tracer.start_as_current_span("agent writer.draft"):
                agent = trace.get_current_span().get_span_context()
                seen_ids["agent"] = (agent.trace_id, agent.span_id)
                get_logger("batonflow.agents").info("drafting")
            seen.ended(Outcome("run-1", "draft", 1, "w1", "succeeded"), None)

    await asyncio.create_task(attempt())
    assert [line["event"] for line in captured.lines()] == ["drafting"]
    run, agent, step = exporter.get_finished_spans()
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

    telemetry.lines.observe([committed("step.completed", attempt=1, duration_ms=1.0)])
    telemetry.lines.flush()
    assert [line["event"] for line in captured.lines()] == ["drafting", "step.attempt"]
    assert captured.lines(event="step.attempt")[0] == {
        "time": IsStr(),
        "level": "info",
        "event": "step.attempt",
        "logger": "batonflow.executor",
        "tenant_id": "tenant-1",
        "run_id": "run-1",
        "step_id": "draft",
        "attempt": 1,
        "status": "succeeded",
        "duration_ms": IsFloat(ge=0),
        "kind": "agent",
        "trace_id": f"{step.context.trace_id:032x}",
        "span_id": f"{step.context.span_id:016x}",
    }
    telemetry.close()


async def test_only_committed_outcomes_of_attempts_ended_here_are_logged(
    capture: Capture,
) -> None:
    """A rejected outcome commits no event, so its attempt writes no line; an event this
    process's attempts did not make (a review decided, a map item) writes none either."""
    captured = capture(Settings())
    telemetry = Telemetry()

    async def attempt(key: str, outcome: str) -> None:
        claim = Claim("run-1", key, "tenant-1", "tool", 1, 1, "version-1")
        with telemetry.attempt(claim) as seen:
            seen.ended(Outcome("run-1", key, 1, "w1", outcome), None)  # type: ignore[arg-type]

    await asyncio.create_task(attempt("rejected", "succeeded"))  # its event never comes
    await asyncio.create_task(attempt("quiet", "skipped"))
    telemetry.lines.observe(
        [
            committed("step.completed", key="decided", attempt=1, duration_ms=0.0),
            committed("step.skipped", key="quiet", reason="when: false"),
            committed("step.skipped", key="quiet", reason="when: false"),  # (logged once)
        ]
    )
    telemetry.lines.flush()
    assert captured.lines() == [
        {
            "time": IsStr(),
            "level": "info",
            "event": "step.attempt",
            "logger": "batonflow.executor",
            "tenant_id": "tenant-1",
            "run_id": "run-1",
            "step_id": "quiet",
            "attempt": 1,
            "status": "skipped",
            "duration_ms": IsFloat(ge=0),
            "kind": "tool",
        }
    ]
    structlog.contextvars.clear_contextvars()


async def test_an_exception_out_of_an_attempt_is_recorded_on_its_spans() -> None:
    exporter = InMemorySpanExporter()
    telemetry = build_telemetry(Settings(), span_exporter=exporter)
    claim = Claim("run-1", "draft", "tenant-1", "agent", 1, 1, "version-1")

    async def attempt() -> None:
        with (
            telemetry.attempt(claim),
            telemetry.tracer.start_as_current_span("agent writer.draft"),
        ):
            raise LookupError("no such lead")

    with pytest.raises(LookupError):
        await asyncio.create_task(attempt())
    agent, step = exporter.get_finished_spans()
    for span in (agent, step):
        assert (span.status.status_code, span.status.description) == (
            StatusCode.ERROR,
            "LookupError: no such lead",
        )
        assert [event.name for event in span.events] == ["exception"]
    assert (agent.parent.span_id if agent.parent else None) == step.context.span_id
    telemetry.close()


@pytest.mark.parametrize(
    ("sampler", "arg", "kept"),
    [
        ("always_on", None, ["agent writer.draft", "step draft"]),
        ("parentbased_always_off", None, []),
        ("parentbased_traceidratio", "0", []),
        ("parentbased_traceidratio", "1", ["agent writer.draft", "step draft"]),
    ],
)
async def test_the_configured_sampler_decides(
    sampler: str, arg: str | None, kept: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", sampler)
    if arg is not None:
        monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", arg)
    exporter = InMemorySpanExporter()
    telemetry = build_telemetry(Settings(), span_exporter=exporter)
    claim = Claim("run-1", "draft", "tenant-1", "agent", 1, 1, "version-1")

    async def attempt() -> None:
        with telemetry.attempt(claim) as seen:
            with telemetry.tracer.start_as_current_span("agent writer.draft"):
                pass
            seen.ended(Outcome("run-1", "draft", 1, "w1", "succeeded"), None)

    await asyncio.create_task(attempt())
    telemetry.close()
    assert [s.name for s in exporter.get_finished_spans()] == kept
