"""Unexpected errors to Sentry, when `BATONFLOW_SENTRY_DSN` is set (only then is sentry-sdk
imported): what is logged at ERROR with a traceback, tagged with the log context of the moment
and passed through the logs' `Redactor`; frames' local variables are not sent.
"""

from __future__ import annotations

import logging
from importlib.metadata import version
from typing import Any

import structlog

from batonflow.errors import ConfigError
from batonflow.settings import Settings
from batonflow.telemetry.logs import Redactor

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
