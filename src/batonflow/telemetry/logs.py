"""Structured logs: JSON lines in production, readable lines at a terminal, secrets never.

Every module logs through the standard `logging` tree; `configure(settings)` installs one
handler on the root logger that renders both kinds the same way. Context comes from
`structlog.contextvars` (the API binds the request's ids, the executor the attempt's, and the
current span gives `trace_id`/`span_id`); each asyncio task copies its context when created, so
what one attempt binds stays with that attempt. `Redactor` runs last on every value of every
line: credentials, fields named like secrets, the configured keys and `BATONFLOW_LLM_REDACT`'s
patterns become `[redacted]`.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import sys
from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import IO, Any, TextIO

import orjson
import structlog
from opentelemetry import trace

from batonflow.errors import ConfigError
from batonflow.settings import Settings

REDACTED = "[redacted]"
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

# Field names whose values are secrets whatever they look like.
SECRET_FIELDS = frozenset(
    "authorization proxy-authorization cookie set-cookie password new_password secret token "
    "api_key apikey x-api-key secret_key dsn".split()
)
SECRET_SUFFIXES = ("_token", "_password", "_secret", "_api_key")

# Values that look like credentials wherever they appear.
SECRET_PATTERNS = (
    r"\bbf_[A-Za-z0-9_-]{8,}",  # API keys
    r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*",  # JWTs
    r"(?<=[Bb]earer )\S+",  # the credential of an Authorization header
    r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])",  # refresh and invitation tokens
    r"\bsk-[A-Za-z0-9_-]{8,}",  # OpenAI-style provider keys
)

# Fields whose values this code makes itself (ids it generates, levels, times): never secrets,
# and new on every line (trace and run ids), so they are not run through the patterns.
OURS = frozenset(
    "time level logger trace_id span_id tenant_id user_id api_key_id run_id attempt "
    "duration_ms".split()
)
_HANDLER_MARK = "_batonflow_handler"
# Libraries that say something at INFO for every call; they speak up from WARNING on.
CHATTY = ("httpx", "httpcore", "aiosqlite", "alembic.runtime.plugins", "urllib3", "asyncio")


def add_trace_ids(_logger: Any, _method: str, event: dict[str, Any]) -> dict[str, Any]:
    """`trace_id` and `span_id` of the current span, when one is being recorded."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event.setdefault("trace_id", format(context.trace_id, "032x"))
        event.setdefault("span_id", format(context.span_id, "016x"))
    return event


# What every line gets where it is logged (the caller's context, level and time).
_CONTEXT: tuple[Any, ...] = (
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_logger_name,
    structlog.stdlib.add_log_level,
    structlog.processors.TimeStamper(fmt="iso", utc=True, key="time"),
    add_trace_ids,
)


_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "msg": logging.INFO,
    "warning": logging.WARNING,
    "warn": logging.WARNING,
    "error": logging.ERROR,
    "exception": logging.ERROR,
    "critical": logging.CRITICAL,
    "fatal": logging.CRITICAL,
}


@dataclass
class _Output:
    """Where `configure` sends lines: the stream, the level, and how a line is rendered."""

    stream: Any
    level: int
    processors: list[Any]

    def render(self, event: Any) -> str:
        for processor in self.processors:
            event = processor(None, "", event)
        return str(event)


_OUTPUT: _Output | None = None  # set by `configure` (the entry point), like logging's root


class _Line:
    """What `get_logger`'s structlog chain ends in. A line below ERROR, once `configure` ran,
    is written to the stream at once (about a fifth of the standard library's cost per line);
    the rest goes to the standard logger `name`, so error trackers hooked into `logging`
    (Sentry) see it, rendered by the same processors in the root handler."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.std = logging.getLogger(name)

    def _emit(self, level: int, *args: Any, **kwargs: Any) -> None:
        output = _OUTPUT
        if output is not None and len(args) == 1 and isinstance(args[0], str) and not kwargs:
            output.stream.write(args[0] + "\n")
            return
        event = args[0] if args and isinstance(args[0], dict) else {}
        self.std.log(level, *args, exc_info=bool(event.get("exc_info")), **kwargs)

    debug = functools.partialmethod(_emit, logging.DEBUG)
    info = msg = functools.partialmethod(_emit, logging.INFO)
    warning = warn = functools.partialmethod(_emit, logging.WARNING)
    error = exception = functools.partialmethod(_emit, logging.ERROR)
    critical = fatal = functools.partialmethod(_emit, logging.CRITICAL)


def _admit(logger: Any, method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    level = _LEVELS.get(method, logging.INFO)
    output = _OUTPUT
    enabled = level >= output.level if output is not None else logger.std.isEnabledFor(level)
    if not enabled:
        raise structlog.DropEvent
    if method == "exception":
        event.setdefault("exc_info", True)
    return event


def _finish(logger: Any, method: str, event: MutableMapping[str, Any]) -> Any:
    output = _OUTPUT
    if output is not None and _LEVELS.get(method, logging.INFO) < logging.ERROR:
        return output.render(event)
    return structlog.stdlib.ProcessorFormatter.wrap_for_formatter(logger, method, event)


def get_logger(name: str) -> Any:
    """A structlog logger named `name`: `log.info("event", key=value)`. Independent of any
    global structlog configuration; `configure` decides where its lines go."""
    return structlog.wrap_logger(
        _Line(name),
        processors=[_admit, *_CONTEXT, _finish],
        wrapper_class=structlog.BoundLogger,
        cache_logger_on_first_use=True,
    )


class Redactor:
    """A structlog processor that removes secrets from every value of a log line."""

    def __init__(self, literals: Iterable[str] = (), patterns: Iterable[str] = ()) -> None:
        parts = [re.escape(text) for text in sorted(set(literals), key=len, reverse=True) if text]
        parts += [f"(?:{p})" for p in (*SECRET_PATTERNS, *patterns)]
        self._pattern = re.compile("|".join(parts))
        self._seen: dict[str, str] = {}

    @classmethod
    def for_settings(cls, settings: Settings) -> Redactor:
        secrets = [
            settings.openai_api_key,
            settings.anthropic_api_key,
            settings.secret_key,
            settings.metrics_token,
            settings.sentry_dsn,
        ]
        literals = [s.get_secret_value() for s in secrets if s is not None]
        return cls(literals, settings.llm_redact)

    def text(self, value: str) -> str:
        # Lines repeat their ids and names: remember what short strings became.
        done = self._seen.get(value)
        if done is None:
            done = self._pattern.sub(REDACTED, value)
            if len(value) <= 256:
                if len(self._seen) >= 4096:
                    self._seen.clear()
                self._seen[value] = done
        return done

    def value(self, value: Any, key: str | None = None) -> Any:
        if key is not None and _is_secret_field(key) and value is not None:
            return REDACTED
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {k: self.value(v, str(k)) for k, v in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return [self.value(v) for v in value]
        if isinstance(value, int | float | bool) or value is None:
            return value
        return self.text(str(value))

    def __call__(
        self, _logger: Any, _method: str, event: MutableMapping[str, Any]
    ) -> Mapping[str, Any]:
        return {
            key: value if key in OURS else self.value(value, key) for key, value in event.items()
        }


@functools.lru_cache(maxsize=1024)
def _is_secret_field(key: str) -> bool:
    lowered = key.lower()
    return lowered in SECRET_FIELDS or lowered.endswith(SECRET_SUFFIXES)


def request_id(incoming: str | None, new: Any) -> str:
    """The caller's `X-Request-ID` when it is safe to log and echo, else a new one (`new()`)."""
    if incoming is not None and REQUEST_ID.fullmatch(incoming):
        return incoming
    return str(new())


def _ordered(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> dict[str, Any]:
    """time, level, event and logger first, then the context, then the rest."""
    first = {key: event[key] for key in _FIRST if key in event}
    return first | {key: value for key, value in event.items() if key not in first}


_FIRST = tuple(
    "time level event logger request_id tenant_id user_id api_key_id run_id step_id attempt".split()
)


def _json_line(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> str:
    """One JSON line. orjson renders a line in a third of the standard library's time (a line
    is written for every attempt and request); the standard library takes what orjson
    refuses (integers past 64 bits)."""
    try:
        return orjson.dumps(event, default=str, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return json.dumps(event, default=str)


class _Stderr:
    """sys.stderr as it is when a line is written (a test runner may swap it)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()

    def isatty(self) -> bool:
        return sys.stderr.isatty()


def default_level(settings: Settings, command: str) -> str:
    """`BATONFLOW_LOG_LEVEL`, else INFO for the server and WARNING for commands whose own
    output is the report (`run`, `runs`, `worker`...)."""
    level = (settings.log_level or ("INFO" if command == "serve" else "WARNING")).upper()
    if level not in LEVELS:
        raise ConfigError(f"BATONFLOW_LOG_LEVEL must be one of {', '.join(LEVELS)}; got {level}")
    return level


def configure(
    settings: Settings, *, command: str = "serve", stream: IO[str] | TextIO | None = None
) -> None:
    """Send every log line of this process through one handler on the root logger, rendered
    as `settings.log_format` says, at `default_level(settings, command)`. Calling it again
    replaces the handler it installed (tests do, with a `stream` of their own)."""
    level = default_level(settings, command)
    out: Any = stream if stream is not None else _Stderr()
    fmt = settings.log_format or ("console" if settings.dev or out.isatty() else "json")
    renderer: Any = (
        _json_line if fmt == "json" else structlog.dev.ConsoleRenderer(colors=out.isatty())
    )
    final = [
        structlog.processors.format_exc_info,
        Redactor.for_settings(settings),
        _ordered,
        renderer,
    ]
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=list(_CONTEXT),
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *final],
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter)
    setattr(handler, _HANDLER_MARK, True)
    reset()
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(level)
    global _OUTPUT
    _OUTPUT = _Output(out, logging.getLevelName(level), final)
    for name in CHATTY:
        logging.getLogger(name).setLevel(logging.DEBUG if level == "DEBUG" else logging.WARNING)


def reset() -> None:
    """Remove the handler `configure` installed, if any."""
    global _OUTPUT
    _OUTPUT = None
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _HANDLER_MARK, False):
            root.removeHandler(handler)
