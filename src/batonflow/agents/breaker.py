"""A circuit breaker per capability: fail fast while a dependency keeps failing.

closed --(N consecutive failures)--> open --(reset time passes)--> half-open
half-open --(the one probe succeeds)--> closed;  half-open --(probe fails)--> open
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from batonflow.errors import CircuitOpen


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass
class CircuitBreaker:
    name: str
    failure_threshold: int = 5
    reset_seconds: float = 30.0
    clock: Callable[[], float] = time.monotonic
    failures: int = 0
    opened_at: float | None = None
    probing: bool = False

    @property
    def state(self) -> BreakerState:
        if self.opened_at is None:
            return BreakerState.CLOSED
        if self.clock() - self.opened_at >= self.reset_seconds:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def before_call(self) -> None:
        """Raise `CircuitOpen` unless a call may go through now."""
        state = self.state
        if state is BreakerState.OPEN or (state is BreakerState.HALF_OPEN and self.probing):
            assert self.opened_at is not None
            wait = max(0.0, self.reset_seconds - (self.clock() - self.opened_at))
            raise CircuitOpen(
                f"circuit for '{self.name}' is open after {self.failures} consecutive failures; "
                f"next probe in {wait:.1f}s",
                details={"capability": self.name, "retry_in": round(wait, 3)},
            )
        if state is BreakerState.HALF_OPEN:
            self.probing = True

    def release_probe(self) -> None:
        """The call ended without a verdict (it was cancelled): let another call probe."""
        self.probing = False

    def record_success(self) -> None:
        self.failures = 0
        self.opened_at = None
        self.probing = False

    def record_failure(self) -> None:
        self.failures += 1
        if self.probing or self.failures >= self.failure_threshold:
            self.opened_at = self.clock()
        self.probing = False
