"""Event contracts: data is validated against its versioned model before it is stored."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from batonflow.events.contracts import CONTRACTS, NewEvent, event, schemas

EVERY_TYPE = [
    "kb.document.ingested@1",
    "kb.searched@1",
    "llm.call@1",
    "llm.delta@1",
    "output.leak@1",
    "review.decided@1",
    "review.requested@1",
    "run.cancelled@1",
    "run.dead@1",
    "run.failed@1",
    "run.queued@1",
    "run.resumed@1",
    "run.retried@1",
    "run.started@1",
    "run.succeeded@1",
    "run.waiting@1",
    "step.completed@1",
    "step.failed@1",
    "step.lease_expired@1",
    "step.overridden@1",
    "step.skipped@1",
    "step.started@1",
    "step.waiting@1",
    "tool.refused@1",
]


def test_event_fills_defaults_and_keeps_the_envelope() -> None:
    built = event("run.queued", "run_1", "acme", workflow_id="w", workflow_version="1")

    assert built == NewEvent(
        type="run.queued",
        run_id="run_1",
        tenant_id="acme",
        data={"workflow_id": "w", "workflow_version": "1", "parent_run_id": None},
        step_key=None,
        version=1,
    )


def test_event_with_a_step_key_and_nested_data() -> None:
    built = event(
        "step.failed",
        "run_1",
        "acme",
        "fetch",
        attempt=2,
        error={"code": "step_timeout", "message": "too slow"},
        retry_in=4.5,
        exhausted=False,
    )

    assert built == NewEvent(
        type="step.failed",
        run_id="run_1",
        tenant_id="acme",
        step_key="fetch",
        data={
            "attempt": 2,
            "error": {"code": "step_timeout", "message": "too slow", "details": {}},
            "retry_in": 4.5,
            "exhausted": False,
        },
    )


def test_event_data_is_plain_json() -> None:
    built = event("run.succeeded", "run_1", "acme", outputs={"n": 1, "items": [1, "a", None]})

    assert built.data == {"outputs": {"n": 1, "items": [1, "a", None]}}


def test_event_without_data() -> None:
    assert event("run.started", "run_1", "acme").data == {}


def test_run_dead_shares_the_failed_contract() -> None:
    data: dict[str, Any] = {"step": "a", "error": {"code": "step_failed", "message": "boom"}}

    assert event("run.dead", "r", "t", **data).data == event("run.failed", "r", "t", **data).data


def test_unknown_field_is_rejected() -> None:
    with pytest.raises(ValidationError) as caught:
        event("run.queued", "run_1", "acme", workflow_id="w", workflow_version="1", colour="red")

    assert caught.value.errors(include_url=False) == [
        {
            "type": "extra_forbidden",
            "loc": ("colour",),
            "msg": "Extra inputs are not permitted",
            "input": "red",
        }
    ]


def test_unknown_nested_field_is_rejected() -> None:
    with pytest.raises(ValidationError) as caught:
        event("run.failed", "r", "t", step="a", error={"code": "x", "message": "y", "hint": "z"})

    assert [error["loc"] for error in caught.value.errors()] == [("error", "hint")]


def test_missing_and_mistyped_fields_are_rejected() -> None:
    with pytest.raises(ValidationError) as caught:
        event("step.started", "r", "t", "a", attempt="first", dispatch=1, worker="w")

    assert [(error["type"], error["loc"]) for error in caught.value.errors()] == [
        ("int_parsing", ("attempt",)),
        ("missing", ("idempotency_key",)),
    ]


def test_unknown_type_is_a_key_error() -> None:
    with pytest.raises(KeyError) as caught:
        event("run.exploded", "run_1", "acme")

    assert caught.value.args == (("run.exploded", 1),)


def test_schemas_has_one_entry_per_contract() -> None:
    found = schemas()

    assert list(found) == EVERY_TYPE
    assert sorted(f"{type_}@{version}" for type_, version in CONTRACTS) == EVERY_TYPE


@pytest.mark.parametrize("name", EVERY_TYPE)
def test_each_schema_is_a_closed_json_schema_object(name: str) -> None:
    schema = schemas()[name]

    assert schema["type"] == "object"
    assert isinstance(schema["properties"], dict)
    assert schema["additionalProperties"] is False


def test_schema_content() -> None:
    assert schemas()["run.waiting@1"] == {
        "title": "RunWaiting",
        "type": "object",
        "properties": {"steps": {"title": "Steps", "type": "array", "items": {"type": "string"}}},
        "required": ["steps"],
        "additionalProperties": False,
    }
    assert schemas()["run.started@1"] == {
        "title": "RunStarted",
        "type": "object",
        "properties": {},
        "additionalProperties": False,
    }


def test_schema_properties_match_the_model_fields() -> None:
    found = schemas()

    for (type_, version), model in CONTRACTS.items():
        assert set(found[f"{type_}@{version}"]["properties"]) == set(model.model_fields)
