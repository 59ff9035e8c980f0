"""One model call, described once: `CallRecord`. The `llm_calls` row (`row()`), the `llm.call`
event data (`event_data()`) and contract (`event_fields()`) and the API's `ModelCall` (the
record without the ledger's keys) are derived from it.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict

# The record's fields an `llm.call` event carries, in the contract's order (`id` is `call_id`).
EVENT_FIELDS = tuple(
    "provider model route hop status error_code retries input_tokens output_tokens "
    "cached_input_tokens cache_write_tokens reasoning_tokens cost_usd latency_ms ttft_ms "
    "prompt_key prompt_version".split()
)


class ModelCall(BaseModel):
    """One model call made by the gateway: one hop of a route, with its retries. `status` is
    `ok`, `error`, `invalid_output` (the reply did not fit the schema) or `skipped` (an open
    breaker or a budget kept the call from being made)."""

    # Every field is in every serialized call, so each is required in the API's schema.
    model_config = ConfigDict(frozen=True, json_schema_serialization_defaults_required=True)

    id: str
    step_key: str | None
    attempt: int | None
    route: str | None
    hop: int
    provider: str
    model: str
    status: str
    error_code: str | None = None
    error_message: str | None
    retries: int
    input_tokens: int
    output_tokens: int
    cached_input_tokens: int
    cache_write_tokens: int
    reasoning_tokens: int
    cost_usd: Decimal | None
    latency_ms: float | None
    ttft_ms: float | None
    prompt_key: str | None = None
    prompt_version: int | None = None
    prompt_hash: str
    request_body: str | None
    response_body: str | None
    created_at: datetime


class CallRecord(ModelCall):
    """A model call as the ledger keeps it: with whose it is and the price table of its cost."""

    tenant_id: str
    run_id: str | None
    price_version: str | None

    def row(self) -> dict[str, Any]:
        """The `llm_calls` table row."""
        return self.__dict__.copy()  # the fields' values, without iterating the model

    def event_data(self) -> dict[str, Any]:
        """The `llm.call` event data (the cost as a decimal string, exact in JSON)."""
        data: dict[str, Any] = {"call_id": self.id}
        for name in EVENT_FIELDS:
            data[name] = getattr(self, name)
        if self.cost_usd is not None:
            data["cost_usd"] = str(self.cost_usd)
        return data


def event_fields() -> dict[str, Any]:
    """The `llm.call` event contract's fields (for `pydantic.create_model`), from the record's."""
    fields: dict[str, Any] = {"call_id": (str, ...)}
    for name in EVENT_FIELDS:
        info = CallRecord.model_fields[name]
        fields[name] = (info.annotation, ... if info.is_required() else info.default)
    fields["cost_usd"] = (str | None, ...)
    return fields
