"""The sales agent through the real API, on SQLite and PostgreSQL, with the model a loopback
server speaking OpenAI's wire format: `deal.propose` prices the lines by code and keeps the
model's text, once per call; `deal.advance` moves a deal only when it has what the stage
requires; `POST /agents/{name}/run` checks the agent, the capability and the input."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from dirty_equals import IsStr
from fastapi import FastAPI

from batonflow.agents.agent import CallContext
from batonflow.api.app import create_app
from batonflow.api.deps import ApiState
from batonflow.apps.sales import sales_agent
from batonflow.llm import untrusted
from batonflow.settings import Settings
from batonflow.workflows.step_context import TenantRows
from batonflow_testkit.fakeserver import Behaviour, FakeProvider, Reply
from tests.api.conftest import with_provider
from tests.apps.sales.conftest import SALES, Join, sales_apps
from tests.apps.sales.test_crm_companies import error, post


@dataclass
class Writer:
    """Writes a proposal's words for the products the answer's schema names, as a model would;
    `broken` answers out of schema, `stray` adds a statement for a product that is not priced,
    `priced` states figures."""

    broken: bool = False
    stray: bool = False
    priced: bool = False
    prompts: list[str] = field(default_factory=list)

    def __call__(self, path: str, body: dict[str, Any]) -> Behaviour:
        self.prompts.append(body["messages"][-1]["content"])
        if self.broken:
            return Reply(json.dumps({"summary": 42}))
        schema = body["response_format"]["json_schema"]["schema"]
        names = schema["properties"]["value"]["required"] + (["Ghost"] if self.stray else [])
        return Reply(
            json.dumps(
                {
                    "summary": "Seats for the whole team, running in a week."
                    + (" All for EUR 1,999.90, 5 % off." if self.priced else ""),
                    "value": {name: f"{name} pays for itself." for name in names},
                }
            )
        )


@pytest.fixture
def writer() -> Writer:
    return Writer()


@pytest.fixture
async def sales_api(
    api_settings: Settings, monkeypatch: pytest.MonkeyPatch, writer: Writer
) -> AsyncIterator[FastAPI]:
    monkeypatch.setenv("BATONFLOW_SALES_MODEL", "openai:gpt-4.1-mini")
    async with FakeProvider(respond=writer) as server:
        settings = with_provider(api_settings, server, llm_max_retries=0)
        app = create_app(settings, apps=sales_apps())
        async with app.router.lifespan_context(app):
            yield app


async def a_deal(client: httpx.AsyncClient, **more: Any) -> dict[str, Any]:
    """A EUR deal with Globex: three seats at 12.5 % off; the catalog also has onboarding."""
    seat = await post(
        client,
        "/products",
        {"sku": "SEAT", "name": "Seat licence", "unit_price": "49.99", "currency": "EUR"},
    )
    await post(
        client,
        "/products",
        {"sku": "ONB", "name": "Onboarding", "unit_price": "1500", "currency": "EUR"},
    )
    company = await post(client, "/companies", {"name": "Globex"})
    return await post(
        client,
        "/deals",
        {
            "title": "Globex rollout",
            "company_id": company["id"],
            "currency": "EUR",
            "lines": [{"product_id": seat["id"], "quantity": "3", "discount": "0.125"}],
        }
        | more,
    )


async def run(
    client: httpx.AsyncClient, capability: str, given: dict[str, Any], agent: str = "sales"
) -> httpx.Response:
    return await client.post(
        f"{SALES}/agents/{agent}/run",
        json={"capability": capability, "input": given, "wait": True, "timeout": 30},
    )


PROPOSED = {
    "proposal_id": IsStr(),
    "deal_id": IsStr(),
    "version": 1,
    "currency": "EUR",
    "lines": [
        {
            "sku": "SEAT",
            "description": "Seat licence",
            "quantity": "10",
            "unit_price": "49.99",
            "discount": "0.125",
            "net": "437.41",
        },
        {
            "sku": "ONB",
            "description": "Onboarding",
            "quantity": "1",
            "unit_price": "1500.00",
            "discount": "0",
            "net": "1500.00",
        },
    ],
    "totals": {"subtotal": "1999.90", "discount": "62.49", "total": "1937.41"},
    "text": {
        "title": "Globex rollout",
        "summary": "Seats for the whole team, running in a week.",
        "lines": [
            {"sku": "SEAT", "statement": "Seat licence pays for itself."},
            {"sku": "ONB", "statement": "Onboarding pays for itself."},
        ],
    },
    "model": "openai:gpt-4.1-mini",
}


async def test_propose_prices_by_code_and_keeps_the_text(
    sales_member: Join, sales_state: ApiState, writer: Writer
) -> None:
    member = await sales_member("acme")
    client = member.client
    deal = await a_deal(client)
    given = {
        "deal_id": deal["id"],
        "items": [{"sku": "SEAT", "quantity": "10"}, {"sku": "ONB", "quantity": 1}],
        "note": "They care about a fast start.",
    }
    done = await run(client, "deal.propose", given)

    assert done.status_code == 200, done.text
    assert done.json() == {
        "run_id": IsStr(),
        "agent": "sales",
        "capability": "deal.propose",
        "status": "succeeded",
        "output": PROPOSED | {"deal_id": deal["id"]},
        "error": None,
    }
    (prompt,) = writer.prompts
    assert "The products offered:\n- Seat licence\n- Onboarding\n" in prompt
    assert untrusted.frame("They care about a fast start.", "note") in prompt
    assert untrusted.frame({"deal": "Globex rollout", "customer": "Globex"}, "deal") in prompt
    output = done.json()["output"]
    kept = (await client.get(f"{SALES}/proposals/{output['proposal_id']}")).json()
    assert kept == {
        "id": output["proposal_id"],
        "deal_id": deal["id"],
        "version": 1,
        "currency": "EUR",
        "lines": output["lines"],
        "totals": output["totals"],
        "text": output["text"],
        "note": "They care about a fast start.",
        "model": "openai:gpt-4.1-mini",
        "run_id": done.json()["run_id"],
        "created_at": IsStr(),
    }
    assert (await client.get(f"{SALES}/deals/{deal['id']}/proposals")).json() == [kept]
    relined = (await client.get(f"{SALES}/deals/{deal['id']}")).json()
    assert [(x["description"], x["quantity"], x["net"]) for x in relined["lines"]] == [
        ("Seat licence", "10", "437.41"),
        ("Onboarding", "1", "1500.00"),
    ]
    assert (relined["amount"], relined["totals"]) == (
        "1937.41",
        {"subtotal": "1999.90", "discount": "62.49", "net": "1937.41"},
    )

    # Without items, the deal's current lines are priced again: the next version.
    again = await run(client, "deal.propose", {"deal_id": deal["id"]})
    assert again.json()["output"] == PROPOSED | {
        "deal_id": deal["id"],
        "version": 2,
        "proposal_id": IsStr(),
    }
    listed = (await client.get(f"{SALES}/deals/{deal['id']}/proposals")).json()
    assert [p["version"] for p in listed] == [2, 1]

    # A retried attempt of the first call answers its proposal and writes nothing.
    retried = await sales_state.registry.call(
        "deal.propose", given, retry_context(sales_state, member.tenant_id, done.json(), 2)
    )
    assert retried.output == output
    listed = (await client.get(f"{SALES}/deals/{deal['id']}/proposals")).json()
    assert [p["version"] for p in listed] == [2, 1]
    assert len(writer.prompts) == 2


def retry_context(
    state: ApiState, tenant_id: str, done: dict[str, Any], attempt: int
) -> CallContext:
    """The context the executor gives attempt `attempt` of the run's step (no model: a retried
    attempt of a call that wrote must not need one)."""
    return CallContext(
        tenant_id=tenant_id,
        run_id=done["run_id"],
        step_id="call",
        attempt=attempt,
        idempotency_key=f"{done['run_id']}:call:{attempt}",
        deadline=None,
        worker="test",
        effects=None,  # type: ignore[arg-type]
        data=TenantRows(tenant_id, state.query, state.transact),
    )


async def test_propose_refuses_what_the_catalog_does_not_offer(sales_member: Join) -> None:
    client = (await sales_member("acme")).client
    deal = await a_deal(client)
    usd = await post(
        client,
        "/products",
        {"sku": "USD-SEAT", "name": "US seat", "unit_price": "55", "currency": "USD"},
    )
    (onboarding,) = [p for p in (await client.get(f"{SALES}/products")).json() if p["sku"] == "ONB"]
    await client.post(f"{SALES}/products/{onboarding['id']}/retire")
    cases = {
        "USD-SEAT": "line 1 (USD-SEAT): the catalog prices the product in USD, the deal is in "
        "EUR; a proposal is priced from the catalog in the deal's currency",
        "ONB": "line 1 (ONB): the product is retired; propose one the catalog offers",
        "NOPE": "no product with the SKU NOPE in the catalog; list it with "
        "GET /api/v1/sales/products",
    }
    for sku, message in cases.items():
        done = await run(
            client, "deal.propose", {"deal_id": deal["id"], "items": [{"sku": sku, "quantity": 1}]}
        )
        assert (done.json()["status"], done.json()["error"]["message"]) == ("failed", message)
    assert usd["currency"] == "USD"
    assert (await client.get(f"{SALES}/deals/{deal['id']}/proposals")).json() == []


@pytest.mark.parametrize("answer", ["broken", "stray", "priced"])
async def test_a_text_out_of_schema_fails_retryably_writing_nothing(
    sales_member: Join, writer: Writer, answer: str
) -> None:
    setattr(writer, answer, True)
    client = (await sales_member("acme")).client
    deal = await a_deal(client)
    done = await run(
        client, "deal.propose", {"deal_id": deal["id"], "items": [{"sku": "ONB", "quantity": 2}]}
    )

    found = done.json()
    assert (found["status"], found["output"]) == ("dead", None)  # both attempts used
    # The schema holds every rule (the priced lines' names, words only): the gateway asks
    # again twice, then the attempt fails; the step's second attempt does the same.
    problem = {
        "broken": "value: 'value' is a required property; summary: 42 is not of type 'string'",
        "stray": "value: Additional properties are not allowed ('Ghost' was unexpected)",
        "priced": "summary: 'Seats for the whole team, running in a week. All for EUR 1,999.90, "
        "5 % off.' does not match",
    }[answer]
    assert found["error"]["message"].startswith(
        "openai:gpt-4.1-mini gave output that does not fit the schema 3 times; last problem: "
        f"the JSON does not fit the schema: {problem}"
    ), found["error"]
    assert len(writer.prompts) == 6
    assert (await client.get(f"{SALES}/deals/{deal['id']}/proposals")).json() == []
    unchanged = (await client.get(f"{SALES}/deals/{deal['id']}")).json()
    assert [(x["description"], x["quantity"]) for x in unchanged["lines"]] == [
        ("Seat licence", "3")
    ]


async def test_advance_moves_only_with_the_required_fields(
    sales_member: Join, sales_state: ApiState
) -> None:
    member = await sales_member("acme")
    client = member.client
    deal = await a_deal(client)
    pipeline = (await client.get(f"{SALES}/pipelines")).json()[0]
    stages = {stage["name"]: stage for stage in pipeline["stages"]}
    given = {"deal_id": deal["id"], "reason": "they asked for a quote"}

    lacking = await run(client, "deal.advance", given)
    assert lacking.json()["output"] == {
        "deal_id": deal["id"],
        "moved": False,
        "from_stage": {"id": stages["Qualification"]["id"], "name": "Qualification"},
        "to_stage": {"id": stages["Proposal"]["id"], "name": "Proposal"},
        "missing": ["contact_id"],
    }
    contact = await post(client, "/contacts", {"name": "Ada", "email": "ada@globex.example"})
    await client.patch(f"{SALES}/deals/{deal['id']}", json={"contact_id": contact["id"]})

    moved = await run(client, "deal.advance", given)
    assert moved.json()["output"] == lacking.json()["output"] | {"moved": True, "missing": []}
    shown = (await client.get(f"{SALES}/deals/{deal['id']}")).json()
    assert shown["stage"]["name"] == "Proposal"
    assert shown["history"][-1] == {
        "id": IsStr(),
        "from_stage_id": stages["Qualification"]["id"],
        "to_stage_id": stages["Proposal"]["id"],
        "actor_kind": "agent",
        "actor": "sales",
        "reason": "they asked for a quote",
        "run_id": moved.json()["run_id"],
        "at": IsStr(),
    }

    # A retried attempt answers the same and moves nothing.
    retried = await sales_state.registry.call(
        "deal.advance", given, retry_context(sales_state, member.tenant_id, moved.json(), 2)
    )
    assert retried.output == moved.json()["output"]
    again = (await client.get(f"{SALES}/deals/{deal['id']}")).json()
    assert (again["stage"]["name"], len(again["history"])) == ("Proposal", 2)

    won = await run(client, "deal.advance", given | {"stage_id": stages["Won"]["id"]})
    assert won.json()["output"] == {
        "deal_id": deal["id"],
        "moved": False,
        "from_stage": {"id": stages["Proposal"]["id"], "name": "Proposal"},
        "to_stage": {"id": stages["Won"]["id"], "name": "Won"},
        "missing": ["close_date"],
    }

    partners = await post(
        client,
        "/pipelines",
        {"name": "Partners", "stages": [{"name": "Intro", "probability": 5}]},
    )
    elsewhere = await run(client, "deal.advance", given | {"stage_id": partners["stages"][0]["id"]})
    assert (elsewhere.json()["status"], elsewhere.json()["error"]["message"]) == (
        "failed",
        "the stage 'Intro' is in another pipeline than the deal; name one of the deal's pipeline",
    )
    lost = {"stage_id": stages["Lost"]["id"], "reason": "went quiet"}
    assert (await client.post(f"{SALES}/deals/{deal['id']}/move", json=lost)).status_code == 200
    closed = await run(client, "deal.advance", given)
    assert (closed.json()["status"], closed.json()["error"]["message"]) == (
        "failed",
        "the deal is closed (Lost); name the stage to move it to",
    )


async def test_run_checks_agent_capability_and_input(sales_member: Join) -> None:
    client = (await sales_member("acme")).client
    nobody = await run(client, "deal.propose", {}, agent="nobody")
    assert error(nobody) == (
        404,
        "the sales app has no agent 'nobody'; its agents: sales, sales-finance, sales-mail, sales-negotiation, "
        "sales-pipeline, sales-sdr",
    )
    other = await run(client, "lead.score", {})
    assert error(other) == (
        404,
        "the agent 'sales' has no capability 'lead.score'; the sales app's capabilities: "
        "contract.prepare (sales-finance), contract.send (sales-finance), deal.advance (sales), "
        "deal.propose (sales), invoice.issue (sales-finance), lead.contacted (sales-pipeline), "
        "lead.qualify (sales-sdr), offer.approve (sales-pipeline), offer.respond "
        "(sales-negotiation), outreach.draft (sales-sdr), payment.remind (sales-finance), "
        "sales.email.send (sales-mail)",
    )
    bad = await run(client, "deal.propose", {"items": [{"sku": "SEAT", "quantity": 0}]})
    assert error(bad) == (
        422,
        "the input does not fit 'deal.propose': input.deal_id: Field required; "
        "input.items.0.quantity: Input should be greater than 0",
    )
    # A deal the tenant does not have is a 404 before any run starts, as its path would be.
    unknown = await run(client, "deal.advance", {"deal_id": "nope", "reason": "why"})
    assert error(unknown) == (404, "no deal 'nope'")
    assert (await client.get("/api/v1/runs")).json() == {"items": [], "next_cursor": None}


async def test_another_tenant_sees_none_of_it(sales_member: Join) -> None:
    acme = (await sales_member("acme")).client
    deal = await a_deal(acme)
    done = await run(acme, "deal.propose", {"deal_id": deal["id"]})
    proposal_id = done.json()["output"]["proposal_id"]
    other = (await sales_member("initech")).client
    assert error(await other.get(f"{SALES}/proposals/{proposal_id}")) == (
        404,
        f"no proposal '{proposal_id}'",
    )
    assert error(await other.get(f"{SALES}/deals/{deal['id']}/proposals")) == (
        404,
        f"no deal '{deal['id']}'",
    )
    assert error(await other.get(f"{SALES}/agents/runs/{done.json()['run_id']}")) == (
        404,
        f"no run of a sales capability '{done.json()['run_id']}'",
    )
    stolen = await run(other, "deal.propose", {"deal_id": deal["id"]})
    assert error(stolen) == (404, f"no deal '{deal['id']}'")


@pytest.mark.parametrize(
    ("written", "kept"),
    [
        ("Runs on its own. Runs on its own. Runs on", "Runs on its own."),  # a small model's
        ("Fast  start!   Fewer\nerrors? Yes.", "Fast start! Fewer errors? Yes."),
        ("Seats for the whole team", "Seats for the whole team"),  # no whole sentence: kept
    ],
)
def test_the_model_s_words_are_kept_as_whole_sentences_each_once(written: str, kept: str) -> None:
    assert sales_agent._sentences(written) == kept
