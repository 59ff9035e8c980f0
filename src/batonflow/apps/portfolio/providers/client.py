"""The HTTP client every paid data provider shares: one `httpx.AsyncClient` per provider, sent
through the platform's outbound guard (`net/outbound.py`: the provider's configured base URL is
trusted, a redirect anywhere else is refused and answers are size-capped), paced to at most
`provider_rate` requests a second, each request retried on 429, 5xx and connection errors with
exponential backoff (a `Retry-After` the provider sends is waited instead), and failures raised
as `StepFailed` naming the provider, the status and the provider's own message: retryable for
what a later attempt may cure, not for a refused key or a bad request.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from batonflow.errors import StepFailed
from batonflow.net.outbound import GuardedTransport, OutboundPolicy

RETRIED = frozenset({408, 425, 429, 500, 502, 503, 504})
MAX_RETRY_AFTER = 60.0  # a provider asking for a longer wait fails this attempt instead


@dataclass(frozen=True, slots=True)
class Backoff:
    """Waits between retries: `initial`, doubled each time, at most `max` seconds."""

    initial: float = 0.5
    max: float = 10.0


class Pace:
    """At most `rate` requests a second: each request waits its turn after the last one."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def turn(self) -> None:
        async with self._lock:
            now = time.monotonic()
            wait = self._next - now
            self._next = max(now, self._next) + self.interval
        if wait > 0:
            await asyncio.sleep(wait)


class ProviderFailed(StepFailed):
    """A provider's request failed; `retry_after` is the wait it asked for, if any. Caught and
    retried here, and raised to the step as the `StepFailed` it is."""

    def __init__(
        self, message: str, *, retryable: bool, details: dict[str, Any], retry_after: float | None
    ) -> None:
        super().__init__(message, retryable=retryable, details=details)
        self.retry_after = retry_after


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: the backoff decides


def provider_message(response: httpx.Response) -> str:
    """What the provider said went wrong, from the usual places in its JSON error body."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:300].strip() or response.reason_phrase
    if isinstance(body, dict):
        for key in ("Error Message", "error_message", "message", "error", "status"):
            value = body.get(key)
            if isinstance(value, dict):
                value = value.get("message")
            if isinstance(value, str) and value:
                return value[:300]
    return response.reason_phrase


class ProviderClient:
    """Sends one provider's GET requests (see the module docstring). `secret_params` names the
    query parameters that carry the key: they never appear in an error."""

    def __init__(
        self,
        name: str,
        base_url: str,
        *,
        rate: float,
        retries: int,
        timeout: float,
        backoff: Backoff | None = None,
        policy: OutboundPolicy | None = None,
    ) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.retries = retries
        self.backoff = backoff or Backoff()
        self.pace = Pace(rate)
        policy = policy or OutboundPolicy(timeout=timeout)
        self.http = httpx.AsyncClient(
            base_url=self.base_url,
            transport=GuardedTransport(policy, hosts=(), trusted=[self.base_url]),
            timeout=timeout,
            trust_env=False,
        )

    async def aclose(self) -> None:
        await self.http.aclose()

    async def get(self, path: str, params: dict[str, str]) -> Any:
        """The JSON body of `GET path?params`, after the retries (see the module docstring)."""
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.retries + 1),
            wait=self._wait,
            retry=retry_if_exception(
                lambda e: isinstance(e, ProviderFailed) and e.instance_retryable
            ),
            reraise=True,
        )
        tries = 0
        try:
            async for attempt in retrying:
                with attempt:
                    tries += 1
                    return await self._once(path, params)
        except ProviderFailed as failed:
            if tries > 1:
                failed.message = f"{failed.message} (after {tries} attempts)"
                failed.args = (failed.message,)
            raise
        raise AssertionError("unreachable: the retry loop returns or raises")

    def _wait(self, state: RetryCallState) -> float:
        failed = state.outcome.exception() if state.outcome else None
        asked = getattr(failed, "retry_after", None)
        if asked is not None:
            return float(asked)
        return float(min(self.backoff.max, self.backoff.initial * 2 ** (state.attempt_number - 1)))

    async def _once(self, path: str, params: dict[str, str]) -> Any:
        await self.pace.turn()
        where = f"GET {path}"
        try:
            response = await self.http.get(path, params=params)
        except httpx.TimeoutException:
            raise self._failed(f"{where} timed out", None, retryable=True) from None
        except httpx.TransportError as exc:
            reason = str(exc) or type(exc).__name__
            raise self._failed(f"{where} could not connect: {reason}", None, True) from None
        if response.status_code >= 400:
            said = provider_message(response)
            status = response.status_code
            retry_after = _retry_after(response) if status in RETRIED else None
            if retry_after is not None and retry_after > MAX_RETRY_AFTER:
                raise self._failed(
                    f"{where} answered {status} ({said}) and asks to wait {retry_after:g} s",
                    status,
                    retryable=True,
                    said=said,
                )
            hint = ""
            if status in (401, 403):
                hint = f"; check BATONFLOW_PORTFOLIO_{self.name.upper()}_KEY"
            raise self._failed(
                f"{where} answered {status}: {said}{hint}",
                status,
                retryable=status in RETRIED,
                said=said,
                retry_after=retry_after,
            )
        try:
            return json.loads(response.content, parse_float=Decimal)
        except ValueError:
            raise self._failed(f"{where} answered something that is not JSON", 200, True) from None

    def _failed(
        self,
        message: str,
        status: int | None,
        retryable: bool,
        *,
        said: str | None = None,
        retry_after: float | None = None,
    ) -> ProviderFailed:
        return ProviderFailed(
            f"the data provider '{self.name}' failed: {message}",
            retryable=retryable,
            details={"provider": self.name, "status": status, "provider_message": said},
            retry_after=retry_after,
        )
