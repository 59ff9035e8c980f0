"""CallRecord describes a model call once: the table row, the `llm.call` event data and
contract, and the API's model-call schema all follow from its fields."""

from __future__ import annotations

import types
from datetime import UTC, datetime
from decimal import Decimal
from typing import get_args

from batonflow.events.contracts import event, schemas
from batonflow.llm.records import CallRecord, ModelCall
from batonflow.store.tables import LlmCall, table

RECORD = CallRecord(
    id="call-1",
    tenant_id="acme",
    run_id="run-1",
    step_key="brief",
    attempt=2,
    route="default",
    hop=1,
    provider="anthropic",
    model="claude-haiku-4-5",
    status="ok",
    error_code=None,
    error_message=None,
    retries=1,
    input_tokens=1200,
    output_tokens=80,
    cached_input_tokens=1000,
    cache_write_tokens=0,
    reasoning_tokens=0,
    cost_usd=Decimal("0.0007"),
    price_version="2026-11-01",
    latency_ms=812.5,
    ttft_ms=140.25,
    prompt_key="lead.brief",
    prompt_version=3,
    prompt_hash="sha256:abc",
    request_body=None,
    response_body=None,
    created_at=datetime(2026, 11, 20, 12, 0, tzinfo=UTC),
)


def nullable(name: str) -> bool:
    annotation = CallRecord.model_fields[name].annotation
    return isinstance(annotation, types.UnionType) and type(None) in get_args(annotation)


def test_the_records_fields_are_the_tables_columns_with_the_same_nullability() -> None:
    columns = table(LlmCall).columns

    assert sorted((c.name, c.nullable) for c in columns) == sorted(
        (name, nullable(name)) for name in CallRecord.model_fields
    )


def test_the_row_is_every_field() -> None:
    assert RECORD.row() == {
        "id": "call-1",
        "tenant_id": "acme",
        "run_id": "run-1",
        "step_key": "brief",
        "attempt": 2,
        "route": "default",
        "hop": 1,
        "provider": "anthropic",
        "model": "claude-haiku-4-5",
        "status": "ok",
        "error_code": None,
        "error_message": None,
        "retries": 1,
        "input_tokens": 1200,
        "output_tokens": 80,
        "cached_input_tokens": 1000,
        "cache_write_tokens": 0,
        "reasoning_tokens": 0,
        "cost_usd": Decimal("0.0007"),
        "price_version": "2026-11-01",
        "latency_ms": 812.5,
        "ttft_ms": 140.25,
        "prompt_key": "lead.brief",
        "prompt_version": 3,
        "prompt_hash": "sha256:abc",
        "request_body": None,
        "response_body": None,
        "created_at": datetime(2026, 11, 20, 12, 0, tzinfo=UTC),
    }


def test_the_event_data_fits_the_llm_call_contract() -> None:
    data = {
        "call_id": "call-1",
        "provider": "anthropic",
        "model": "claude-haiku-4-5",
        "route": "default",
        "hop": 1,
        "status": "ok",
        "error_code": None,
        "retries": 1,
        "input_tokens": 1200,
        "output_tokens": 80,
        "cached_input_tokens": 1000,
        "cache_write_tokens": 0,
        "reasoning_tokens": 0,
        "cost_usd": "0.0007",
        "latency_ms": 812.5,
        "ttft_ms": 140.25,
        "prompt_key": "lead.brief",
        "prompt_version": 3,
    }

    assert RECORD.event_data() == data
    assert event("llm.call", "run-1", "acme", "brief", **RECORD.event_data()).data == data


def test_an_unpriced_calls_event_has_no_cost() -> None:
    unpriced = RECORD.model_copy(update={"cost_usd": None, "price_version": None})

    assert unpriced.event_data()["cost_usd"] is None


def test_the_llm_call_contract_derived_from_the_record_is_version_1_unchanged() -> None:
    assert schemas()["llm.call@1"] == SCHEMA


def test_the_api_shows_a_call_without_the_ledgers_keys() -> None:
    assert sorted(set(CallRecord.model_fields) - set(ModelCall.model_fields)) == [
        "price_version",
        "run_id",
        "tenant_id",
    ]
    assert ModelCall.model_json_schema(mode="serialization")["required"] == list(
        ModelCall.model_fields
    )


SCHEMA = {
    "additionalProperties": False,
    "description": "One model call of a step attempt (a hop of its route); the ledger row has the rest.",
    "properties": {
        "call_id": {"title": "Call Id", "type": "string"},
        "provider": {"title": "Provider", "type": "string"},
        "model": {"title": "Model", "type": "string"},
        "route": {"anyOf": [{"type": "string"}, {"type": "null"}], "title": "Route"},
        "hop": {"title": "Hop", "type": "integer"},
        "status": {"title": "Status", "type": "string"},
        "error_code": {
            "anyOf": [{"type": "string"}, {"type": "null"}],
            "default": None,
            "title": "Error Code",
        },
        "retries": {"title": "Retries", "type": "integer"},
        "input_tokens": {"title": "Input Tokens", "type": "integer"},
        "output_tokens": {"title": "Output Tokens", "type": "integer"},
        "cached_input_tokens": {"title": "Cached Input Tokens", "type": "integer"},
        "cache_write_tokens": {"title": "Cache Write Tokens", "type": "integer"},
        "reasoning_tokens": {"title": "Reasoning Tokens", "type": "integer"},
        "cost_usd": {"anyOf": [{"type": "string"}, {"type": "null"}], "title": "Cost Usd"},
        "latency_ms": {"anyOf": [{"type": "number"}, {"type": "null"}], "title": "Latency Ms"},
        "ttft_ms": {"anyOf": [{"type": "number"}, {"type": "null"}], "title": "Ttft Ms"},
        "prompt_key": {
            "anyOf": [{"type": "string"}, {"type": "null"}],
            "default": None,
            "title": "Prompt Key",
        },
        "prompt_version": {
            "anyOf": [{"type": "integer"}, {"type": "null"}],
            "default": None,
            "title": "Prompt Version",
        },
    },
    "required": [
        "call_id",
        "provider",
        "model",
        "route",
        "hop",
        "status",
        "retries",
        "input_tokens",
        "output_tokens",
        "cached_input_tokens",
        "cache_write_tokens",
        "reasoning_tokens",
        "cost_usd",
        "latency_ms",
        "ttft_ms",
    ],
    "title": "LlmCall",
    "type": "object",
}
