"""Log capture for the telemetry tests, and the API fixtures (the real app on both databases)."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from batonflow.settings import Settings
from batonflow.telemetry import logs
from tests.api.conftest import api_db_url, api_settings, app, client, signup

__all__ = ["api_db_url", "api_settings", "app", "client", "signup"]


@dataclass
class Captured:
    """What the process logged, as JSON lines."""

    stream: io.StringIO = field(default_factory=io.StringIO)

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def lines(self, **match: Any) -> list[dict[str, Any]]:
        """The lines whose fields include `match`."""
        parsed = [json.loads(line) for line in self.text.splitlines() if line]
        return [line for line in parsed if all(line.get(k) == v for k, v in match.items())]


Capture = Callable[[Settings], Captured]


@pytest.fixture
def capture() -> Iterator[Capture]:
    """`capture(settings)` sends the process's logs, as JSON at INFO, into a buffer."""

    def start(settings: Settings) -> Captured:
        captured = Captured()
        logs.configure(
            settings.model_copy(update={"log_format": "json", "log_level": "INFO"}),
            stream=captured.stream,
        )
        return captured

    yield start
    logs.reset()
