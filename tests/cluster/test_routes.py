"""Queue routes: by capability or tool, by agent, by step kind, else the default queue."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from batonflow.apps.demo import registry as demo_registry
from batonflow.cluster.routes import Routes
from batonflow.settings import Settings
from batonflow.workflows.validation import load_spec

SPEC = """
id: routed
version: 1
steps:
  - {id: qualify, kind: agent, capability: lead.score, args: {company: acme, employees: 5}}
  - {id: price, kind: agent, capability: quote.price, args: {symbol: abc}}
  - {id: nap, kind: agent, capability: demo.sleep}
  - id: prices
    kind: map
    over: "{{ ['a'] }}"
    step: {kind: agent, capability: quote.price, args: {symbol: "{{ item }}"}}
  - {id: approve, kind: review, needs: [qualify], subject: "{{ state.qualify }}"}
"""


def test_a_step_goes_to_its_capability_then_its_agent_then_its_kind_else_the_default() -> None:
    registry = demo_registry()
    spec = load_spec(SPEC, "routed.yaml", registry)
    routes = Routes(
        {
            "lead.score": "agents.sdr",  # a capability
            "demo-market": "agents.finance",  # the agent that provides quote.price
            "review": "agents.people",  # a step kind
        },
        "batonflow",
        registry,
    )
    assert {step.id: routes(spec, step.id) for step in spec.steps} == {
        "qualify": "agents.sdr",
        "price": "agents.finance",
        "nap": "batonflow",
        "prices": "agents.finance",
        "approve": "agents.people",
    }
    assert routes.queues() == ["agents.finance", "agents.people", "agents.sdr", "batonflow"]


def test_routes_read_from_pairs_or_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BATONFLOW_QUEUE_ROUTES", "sdr=agents.sdr, invoice.issue=agents.finance")
    assert Settings().queue_routes == {"sdr": "agents.sdr", "invoice.issue": "agents.finance"}
    monkeypatch.setenv("BATONFLOW_QUEUE_ROUTES", '{"sdr": "agents.sdr"}')
    assert Settings().queue_routes == {"sdr": "agents.sdr"}


def test_a_route_without_a_queue_is_refused_with_what_to_write(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BATONFLOW_QUEUE_ROUTES", "sdr=agents.sdr,finance")
    with pytest.raises(ValidationError, match="a queue route is name=queue, got 'finance'"):
        Settings()
