"""Log lines: JSON with the caller's context and trace ids, console at a terminal, levels by
command, request ids that are safe to echo, and secrets removed from every value."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
import structlog
from dirty_equals import IsStr
from opentelemetry.sdk.trace import TracerProvider
from pydantic import SecretStr

from batonflow.errors import ConfigError
from batonflow.settings import Settings
from batonflow.telemetry import logs
from tests.telemetry.conftest import Capture

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1In0.c2lnbmF0dXJl"
API_KEY = "bf_Q2x1ZXMtYXJlLW5vdC1zZWNyZXRzLWJ1dC10aGlz"
REFRESH = "tq3kL0b9Vw2X8yZ1aB4cD5eF6gH7iJ8kL9mN0oP1qR2"  # token_urlsafe(32): 43 characters


def settings(**updates: object) -> Settings:
    return Settings(
        openai_api_key=SecretStr("sk-provider-key-0123456789"),
        anthropic_api_key=SecretStr("anthropic-key-abcdef"),
        llm_redact=[r"ACME-\d{4}"],
        **updates,  # type: ignore[arg-type]
    )


def test_the_redactor_removes_secrets_from_every_value() -> None:
    redact = logs.Redactor.for_settings(settings())
    event = {
        "event": f"login with Bearer {JWT} failed",
        "headers": {"Authorization": "Basic dXNlcjpwYXNz", "accept": "*/*"},
        "password": "correct horse battery staple",
        "refresh_token": REFRESH,
        "note": f"key {API_KEY}, order ACME-1234, anthropic-key-abcdef",
        "args": ["sk-provider-key-0123456789", 3, None, True],
        "opaque": REFRESH,
        "step_key": "draft",
        "idempotency_key": "run:draft:1",
        "count": 2,
    }
    assert redact(None, "info", event) == {
        "event": "login with Bearer [redacted] failed",
        "headers": {"Authorization": "[redacted]", "accept": "*/*"},
        "password": "[redacted]",
        "refresh_token": "[redacted]",
        "note": "key [redacted], order [redacted], [redacted]",
        "args": ["[redacted]", 3, None, True],
        "opaque": "[redacted]",
        "step_key": "draft",
        "idempotency_key": "run:draft:1",
        "count": 2,
    }


@pytest.mark.parametrize(
    ("incoming", "kept"),
    [
        ("abc-123_X.y", True),
        ("a" * 128, True),
        ("a" * 129, False),
        ("has space", False),
        ("new\nline", False),
        ("", False),
        (None, False),
    ],
)
def test_request_ids_are_kept_only_when_safe(incoming: str | None, kept: bool) -> None:
    made = logs.request_id(incoming, lambda: "generated")
    assert made == (incoming if kept else "generated")


def test_json_lines_carry_the_bound_context_the_span_and_no_secrets(capture: Capture) -> None:
    captured = capture(settings())
    tracer = TracerProvider().get_tracer("test")
    log = logs.get_logger("batonflow.test")
    structlog.contextvars.clear_contextvars()
    with structlog.contextvars.bound_contextvars(request_id="req-1", tenant_id="t-1"):
        with tracer.start_as_current_span("work") as span:
            log.info("step.attempt", status="succeeded", token="sk-provider-key-0123456789")
            ids = span.get_span_context()
        logging.getLogger("batonflow.legacy").warning("plain %s logging", "stdlib")
        try:
            raise RuntimeError(f"boom with {API_KEY}")
        except RuntimeError:
            log.exception("failed")
    assert captured.lines() == [
        {
            "time": IsStr(regex=r"\d{4}-\d\d-\d\dT.*Z"),
            "level": "info",
            "event": "step.attempt",
            "logger": "batonflow.test",
            "request_id": "req-1",
            "tenant_id": "t-1",
            "status": "succeeded",
            "token": "[redacted]",
            "trace_id": format(ids.trace_id, "032x"),
            "span_id": format(ids.span_id, "016x"),
        },
        {
            "time": IsStr(),
            "level": "warning",
            "event": "plain stdlib logging",
            "logger": "batonflow.legacy",
            "request_id": "req-1",
            "tenant_id": "t-1",
        },
        {
            "time": IsStr(),
            "level": "error",
            "event": "failed",
            "logger": "batonflow.test",
            "request_id": "req-1",
            "tenant_id": "t-1",
            "exception": IsStr(regex=r"(?s)Traceback.*RuntimeError: boom with \[redacted\]$"),
        },
    ]


def test_json_lines_render_any_value(capture: Capture) -> None:
    # orjson writes the lines; what it refuses (an integer past 64 bits) still makes a line.
    captured = capture(settings())
    log = logs.get_logger("batonflow.test")
    log.info("values", big=2**70, keys={1: "one"}, when=datetime(2026, 12, 1, 9, 30, tzinfo=UTC))
    log.info("plain", count=3, ratio=0.5, names=["a", "b"], nothing=None)
    assert [
        {k: v for k, v in line.items() if k not in ("time", "level", "logger")}
        for line in captured.lines()
    ] == [
        {
            "event": "values",
            "big": 2**70,
            "keys": {"1": "one"},
            "when": "2026-12-01 09:30:00+00:00",
        },
        {"event": "plain", "count": 3, "ratio": 0.5, "names": ["a", "b"], "nothing": None},
    ]


def test_console_lines_are_for_people(capture: Capture) -> None:
    import io

    stream = io.StringIO()
    logs.configure(settings(log_format="console", log_level="INFO"), stream=stream)
    logs.get_logger("batonflow.test").info("worker.started", worker="w1")
    line = stream.getvalue()
    assert "worker.started" in line
    assert "worker=w1" in line
    assert not line.startswith("{")


def test_levels_default_by_command_and_are_checked() -> None:
    assert logs.default_level(Settings(), "serve") == "INFO"
    assert logs.default_level(Settings(), "worker") == "WARNING"
    assert logs.default_level(Settings(log_level="debug"), "worker") == "DEBUG"
    with pytest.raises(ConfigError) as raised:
        logs.default_level(Settings(log_level="loud"), "serve")
    assert raised.value.message == (
        "BATONFLOW_LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL; got LOUD"
    )
