"""Workflow spec models: text versions, the content hash, the upstream closure, the inputs'
JSON Schema, and frozen specs."""

from __future__ import annotations

import pytest
from dirty_equals import IsStr
from pydantic import ValidationError

from batonflow.workflows.spec import WorkflowStep
from batonflow.workflows.validation import load_spec

MARKET = """
id: market-report
version: 1
description: Price symbols and summarise them.
inputs:
  symbols: {type: array, items: {type: string}, default: [ACME, GLOBEX]}
  topic: {type: string, description: What the headline is about}
steps:
  - id: quotes
    kind: map
    over: "{{ inputs.symbols }}"
    concurrency: 4
    step:
      kind: agent
      capability: quote.price
      args: {symbol: "{{ item }}", delay_ms: "{{ index * 0 }}"}
  - id: news
    kind: agent
    capability: news.headline
    args: {topic: "{{ inputs.topic }}"}
  - id: report
    kind: agent
    capability: report.summarize
    needs: [quotes, news]
    retry: {max_attempts: 3, backoff: {initial: 0.5}}
    args:
      quotes: "{{ state.quotes }}"
      headline: "{{ state.news.headline }}"
outputs:
  report: "{{ state.report.text }}"
"""


def steps_yaml(*steps: str, header: str = "") -> str:
    """A spec with id `w`, version 1 and the given flow-style step mappings."""
    lines = ["id: w", "version: 1", *([header] if header else []), "steps:"]
    lines += [f"  - {step}" for step in steps]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("version", "expected"), [("1", "1"), ("7", "7"), ("1.5", "1.5"), ("'2024-01'", "2024-01")]
)
def test_spec_version_is_text(version: str, expected: str) -> None:
    text = f"id: w\nversion: {version}\nsteps:\n  - {{id: a, kind: agent, capability: x}}\n"

    assert load_spec(text, "w.yaml").version == expected


def test_workflow_step_version_given_as_int_becomes_text() -> None:
    spec = load_spec(steps_yaml("{id: child, kind: workflow, workflow: other, version: 3}"), "w")

    assert spec.by_id["child"] == WorkflowStep(
        id="child", kind="workflow", workflow="other", version="3"
    )


def test_content_hash_is_a_sha256() -> None:
    spec = load_spec(MARKET, "market.yaml")

    assert spec.content_hash == IsStr(regex=r"sha256:[0-9a-f]{64}")


def test_content_hash_ignores_formatting_key_order_and_explicit_defaults() -> None:
    compact = steps_yaml("{id: a, kind: agent, capability: demo.sleep, args: {ms: 1, value: x}}")
    verbose = """
# a comment
version: "1"
id: w
steps:
  - kind: agent
    args:
      value: x
      ms: 1
    capability: demo.sleep
    id: a
    needs: []
    retry: {max_attempts: 1}
"""

    assert load_spec(compact, "a.yaml").content_hash == load_spec(verbose, "b.yaml").content_hash


def test_content_hash_changes_when_an_arg_changes() -> None:
    one = steps_yaml("{id: a, kind: agent, capability: demo.sleep, args: {ms: 1}}")
    two = steps_yaml("{id: a, kind: agent, capability: demo.sleep, args: {ms: 2}}")

    assert load_spec(one, "w.yaml").content_hash != load_spec(two, "w.yaml").content_hash


def test_content_hash_covers_aliased_fields() -> None:
    one = steps_yaml("{id: a, kind: input, schema: {type: object}}")
    two = steps_yaml("{id: a, kind: input, schema: {type: array}}")

    assert load_spec(one, "w.yaml").content_hash != load_spec(two, "w.yaml").content_hash


def test_upstream_is_the_transitive_closure_of_needs() -> None:
    text = steps_yaml(
        "{id: root, kind: agent, capability: x}",
        "{id: left, kind: agent, capability: x, needs: [root]}",
        "{id: right, kind: agent, capability: x, needs: [root]}",
        "{id: join, kind: agent, capability: x, needs: [left, right]}",
        "{id: tail, kind: agent, capability: x, needs: [join]}",
        "{id: alone, kind: agent, capability: x}",
    )

    assert load_spec(text, "w.yaml").upstream == {
        "root": frozenset(),
        "left": frozenset({"root"}),
        "right": frozenset({"root"}),
        "join": frozenset({"root", "left", "right"}),
        "tail": frozenset({"root", "left", "right", "join"}),
        "alone": frozenset(),
    }


def test_inputs_schema() -> None:
    text = """
id: w
version: 1
inputs:
  name: {type: string, description: Who}
  count: {type: integer, default: 3, minimum: 0, maximum: 10}
  mode: {type: string, enum: [fast, slow], default: fast}
  tags: {type: array, items: {type: string}, required: false}
  flag: {type: boolean, default: false}
  config: {type: object, default: {a: 1}, required: true}
steps:
  - {id: a, kind: agent, capability: x}
"""

    assert load_spec(text, "w.yaml").inputs_schema() == {
        "type": "object",
        "properties": {
            "name": {"type": "string", "description": "Who"},
            "count": {"type": "integer", "minimum": 0, "maximum": 10, "default": 3},
            "mode": {"type": "string", "enum": ["fast", "slow"], "default": "fast"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "flag": {"type": "boolean", "default": False},
            "config": {"type": "object", "default": {"a": 1}},
        },
        "required": ["config", "name"],
        "additionalProperties": False,
    }


def test_inputs_schema_without_inputs() -> None:
    spec = load_spec(steps_yaml("{id: a, kind: agent, capability: x}"), "w.yaml")

    assert spec.inputs_schema() == {
        "type": "object",
        "properties": {},
        "required": [],
        "additionalProperties": False,
    }


def test_specs_are_frozen() -> None:
    spec = load_spec(MARKET, "market.yaml")

    with pytest.raises(ValidationError) as caught:
        spec.id = "other"  # type: ignore[misc]

    assert [error["type"] for error in caught.value.errors()] == ["frozen_instance"]
    assert spec.id == "market-report"
