"""The protocol every model adapter implements, and how `provider:model` names are read. An
adapter makes exactly one attempt and raises only the classified `ModelError`s: retries,
fallback, breakers and accounting are the gateway's.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

from batonflow.errors import (
    ConfigError,
    ModelError,
    ModelRateLimited,
    ModelRejected,
    ModelTimeout,
    ModelUnavailable,
)
from batonflow.llm.messages import ModelRequest, ModelResponse

TextSink = Callable[[str], None]


class Model(Protocol):
    provider: str
    name: str

    async def request(
        self,
        request: ModelRequest,
        *,
        timeout: float,  # noqa: ASYNC109 - passed to the provider's client, which enforces it
        on_text: TextSink | None = None,
    ) -> ModelResponse: ...


def split_name(qualified: str) -> tuple[str, str]:
    """`anthropic:claude-haiku-4-5` -> (`anthropic`, `claude-haiku-4-5`)."""
    provider, sep, name = qualified.partition(":")
    if not sep or not provider or not name:
        raise ConfigError(
            f"model '{qualified}' must be named provider:model, e.g. local:smollm2 or "
            "openai:gpt-4.1-mini"
        )
    return provider, name


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait from `retry-after-ms`, or `Retry-After` as seconds or an HTTP date."""
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def status_error(model: str, status: int, headers: Mapping[str, str], message: str) -> ModelError:
    """Classify a provider's HTTP error status the same way for every adapter."""
    text = f"{model} answered {status}: {message}"
    if status == 429:
        return ModelRateLimited(text, model=model, retry_after=parse_retry_after(headers))
    if status == 408:
        return ModelTimeout(text, model=model, status=status)
    if status >= 500:
        return ModelUnavailable(text, model=model, status=status)
    return ModelRejected(text, model=model, status=status)


@contextmanager
def sdk_errors(sdk: Any, model: str, timeout: float) -> Iterator[None]:
    """Turn the exceptions of a provider SDK (`openai` and `anthropic` share their shape) into
    the classified `ModelError`s, so every adapter reports failures the same way."""
    try:
        yield
    except ModelError:
        raise
    except sdk.APITimeoutError:
        raise ModelTimeout(f"{model} did not answer in {timeout}s", model=model) from None
    except sdk.APIStatusError as exc:
        raise status_error(model, exc.status_code, exc.response.headers, exc.message) from None
    except sdk.APIConnectionError as exc:
        raise ModelUnavailable(f"cannot reach {model}: {exc.message}", model=model) from None
    except (sdk.APIError, ValueError, AttributeError, TypeError, KeyError) as exc:
        raise ModelUnavailable(f"{model} sent a malformed reply: {exc}", model=model) from None
