"""Agents and usage through the HTTP API."""

from __future__ import annotations

import pytest

from batonflow.settings import Settings
from batonflow_testkit.fakeserver import FakeProvider, Reply
from tests.api.conftest import Signup, with_provider
from tests.api.flows import PRICED, settled, start, store


@pytest.fixture
def api_settings(api_settings: Settings, provider: FakeProvider) -> Settings:
    return with_provider(api_settings, provider)


async def test_agents_list_capabilities_with_their_schemas(signup: Signup) -> None:
    admin = await signup()
    items = (await admin.client.get("/api/v1/agents")).json()["items"]
    by_name = {item["name"]: item for item in items}
    assert sorted(by_name) == sorted(item["name"] for item in items)
    mail = by_name["demo-mail"]
    assert mail["kind"] == "toolbox"
    (send,) = mail["capabilities"]
    assert send["name"] == "email.send"
    assert send["breaker"] == "closed"
    assert sorted(send["input_schema"]["properties"]) == ["body", "subject", "to"]
    assert send["needs"] == {
        "hosts": [],
        "files": "none",
        "timeout": None,
        "memory_mb": None,
        "side_effects": True,
        "bounded": ["to"],
    }
    (python,) = by_name["platform-python"]["capabilities"]
    assert (python["name"], python["needs"]) == (
        "python",
        {
            "hosts": ["*"],
            "files": "scratch",
            "timeout": 60.0,
            "memory_mb": 512,
            "side_effects": False,
            "bounded": [],
        },
    )
    assert by_name["demo-sales"]["capabilities"][0]["needs"] is None
    capabilities = {c["name"] for item in items for c in item["capabilities"]}
    assert {"lead.score", "email.draft", "demo.sleep", "email.send"} <= capabilities


async def test_usage_sums_exact_cost_by_day_model_workflow_and_agent(
    signup: Signup, provider: FakeProvider
) -> None:
    admin = await signup()
    await store(admin.client, PRICED)
    provider.script(Reply(input_tokens=1000, output_tokens=250, cached_input_tokens=200))
    run = await start(admin.client, "priced", {"company": "Analytical"})
    await settled(admin.client, run["id"], ("waiting",))
    # 800 fresh input at $0.40/M, 200 cached at $0.10/M, 250 output at $1.60/M
    cost = "0.00074"
    row = {
        "calls": 1,
        "input_tokens": 1000,
        "output_tokens": 250,
        "cached_input_tokens": 200,
        "cache_write_tokens": 0,
        "reasoning_tokens": 0,
        "cost_usd": cost,
        "unpriced_calls": 0,
    }
    for group, key in (("model", "openai:gpt-4.1-mini"), ("workflow", "priced"), ("agent", "llm")):
        body = (await admin.client.get("/api/v1/usage", params={"group_by": group})).json()
        assert body["group_by"] == group
        assert body["items"] == [{"key": key, **row}]
        assert body["total"] == {"key": "total", **row}
    days = (await admin.client.get("/api/v1/usage")).json()
    assert [item["cost_usd"] for item in days["items"]] == [cost]
    other = await signup("globex")
    empty = (await other.client.get("/api/v1/usage", params={"group_by": "model"})).json()
    assert empty["items"] == []
    assert empty["total"]["cost_usd"] == "0"
    backwards = await admin.client.get(
        "/api/v1/usage", params={"since": "2026-12-02T00:00:00Z", "until": "2026-12-01T00:00:00Z"}
    )
    assert backwards.status_code == 422
