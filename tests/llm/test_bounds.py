"""Bounding a reply's schema, and the longest reply the bounds allow: the reply that fills
every string and list to its bound fits the schema and is no longer than `longest` says, so a
`max_tokens` of that many lets a grammar close the JSON."""

from __future__ import annotations

import json
from typing import Any, Literal

import jsonschema
import pytest
from pydantic import BaseModel, Field

from batonflow.llm.bounds import SPACE, bounded, longest


class Step(BaseModel):
    name: str
    owner: str | None = None
    size: Literal["small", "large"]


class Plan(BaseModel):
    summary: str
    steps: list[Step] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    urgent: bool = False
    weeks: int = 1


def fullest(schema: dict[str, Any], node: dict[str, Any]) -> Any:
    """The largest value `node` allows: every string and list filled to its bound."""
    if "$ref" in node:
        return fullest(schema, schema["$defs"][node["$ref"].rsplit("/", 1)[-1]])
    if "enum" in node:
        return max(node["enum"], key=len)
    if "anyOf" in node:
        return fullest(schema, node["anyOf"][0])
    kind = node["type"]
    if kind == "object":
        return {k: fullest(schema, v) for k, v in node["properties"].items()}
    if kind == "array":
        return [fullest(schema, node["items"])] * node["maxItems"]
    if kind == "string":
        return "w" * node["maxLength"]
    return True if kind == "boolean" else 10**20


def test_every_string_and_list_is_bounded_at_any_depth() -> None:
    schema = bounded(
        Plan.model_json_schema(),
        {"summary": 300, "name": 40},
        {"steps": 3, "tags": 5},
        length=20,
    )
    props, step = schema["properties"], schema["$defs"]["Step"]["properties"]
    assert props["summary"]["maxLength"] == 300
    assert (props["steps"]["maxItems"], props["tags"]["maxItems"]) == (3, 5)
    assert props["tags"]["items"] == {"type": "string", "maxLength": 20}
    assert step["name"]["maxLength"] == 40
    assert step["owner"]["anyOf"] == [{"type": "string", "maxLength": 20}, {"type": "null"}]
    assert step["size"] == {"enum": ["small", "large"], "title": "Size", "type": "string"}
    # The model's own schema is left as it was.
    assert "maxLength" not in Plan.model_json_schema()["properties"]["summary"]

    full = fullest(schema, schema)
    jsonschema.validate(full, schema)
    most = longest(schema)
    assert len(json.dumps(full, separators=(",", ":"))) <= most
    # What bounds it is the text: the whitespace allowance is a small share.
    assert most - len(json.dumps(full, separators=(",", ":"))) < 40 * SPACE


def test_a_list_named_without_a_bound_is_refused() -> None:
    with pytest.raises(ValueError, match="the list 'tags' needs a bound on its items"):
        bounded(Plan.model_json_schema(), {}, {"steps": 3}, length=20)


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "properties": {"text": {"type": "string"}}},
        {"type": "array", "items": {"type": "string", "maxLength": 3}},
    ],
)
def test_an_unbounded_schema_has_no_longest_reply(schema: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="has no longest reply"):
        longest(schema)


def test_the_scoping_replies_fit_the_local_models_context() -> None:
    from batonflow.apps.scoping.agents import CHARTER, QUESTION, analysis_schema
    from batonflow.apps.scoping.stages import stage
    from batonflow.settings import Settings

    replies = [QUESTION, CHARTER, *(analysis_schema(stage(n).checklist) for n in range(1, 6))]
    for schema in replies:
        full = fullest(schema, schema)
        jsonschema.validate(full, schema)
        assert len(json.dumps(full, separators=(",", ":"))) <= longest(schema)
    # The longest, the charter's, leaves room for its prompt (five stages of answers).
    assert Settings().local_context - longest(CHARTER) >= 2000
