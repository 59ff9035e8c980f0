"""The deal pipeline as a sales team drives it through the API, on SQLite and PostgreSQL:
`POST /sales/pipeline/run` with a deal, the proposal approved by its deal, the customer's
counter-offer beyond policy answered by the negotiation agent (the loopback model words it) and
approved by its offer, the contract approved by its contract and emailed with its PDF, and the
invoice issued at the agreed discount and emailed with its PDF, whose text shows the totals.

`deal.propose` is the sales agent's, tested on its own (`test_agent_sales.py`); here a stand-in
with the same name and models takes its place and proposes fixed lines, so the loopback model
answers only the negotiation."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from decimal import Decimal
from email.message import EmailMessage
from io import BytesIO
from typing import Any, TypeVar

import httpx
import pytest
from dirty_equals import IsStr
from fastapi import FastAPI
from pydantic import BaseModel
from pypdf import PdfReader

from batonflow.agents.agent import Agent, CallContext
from batonflow.api.app import create_app
from batonflow.api.deps import ApiState
from batonflow.apps.app import load_apps
from batonflow.apps.sales import app as sales
from batonflow.settings import Settings
from batonflow.store.db import Conn
from batonflow_testkit.fakeserver import FakeProvider
from tests.api.conftest import with_provider
from tests.api.flows import settled
from tests.apps.sales import finance_records as records
from tests.apps.sales.conftest import SALES, Join
from tests.apps.sales.smtp_fixtures import Inbox, smtp_server
from tests.apps.sales.test_crm_companies import error
from tests.apps.sales.test_flow_outreach import install, run_pipeline
from tests.apps.sales.test_negotiation_agent import Negotiator, negotiator
from tests.apps.sales.test_negotiation_api import POLICY

__all__ = ["negotiator", "smtp_server"]
T = TypeVar("T")
ENDED = ("waiting", "succeeded", "failed", "dead")
TEMPLATE = "{{ deal.title }} for {{ company.name }}: agreed discount {{ terms.discount }} %."
PLAIN = "{{ deal.title }} for {{ company.name }}: {{ total }} {{ deal.currency }}."

stand_in = Agent("sales", "A stand-in for the sales agent's proposals")


class ProposeIn(BaseModel):
    deal_id: str
    items: list[dict[str, Any]] | None = None
    note: str = ""


class Proposal(BaseModel):
    proposal_id: str
    version: int
    lines: list[dict[str, Any]]
    totals: dict[str, Decimal]
    text: str


@stand_in.capability("deal.propose")
async def propose(ctx: CallContext, args: ProposeIn) -> Proposal:
    return Proposal(
        proposal_id=f"proposal-{args.deal_id}",
        version=1,
        lines=[{"sku": "SEAT", "quantity": "200"}, {"sku": "TRAINING", "quantity": "10"}],
        totals={"net": Decimal("30000.00")},
        text="200 seats and 10 training days for 30000.00 EUR.",
    )


class Writes:
    """The API's database as the finance records' seed functions use it."""

    def __init__(self, state: ApiState) -> None:
        self.state = state

    async def write(self, work: Callable[[Conn], Awaitable[T]]) -> T:
        return await self.state.transact(work)


@pytest.fixture
async def sales_api(
    api_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    negotiator: Negotiator,
    smtp_server: Inbox,
) -> AsyncIterator[FastAPI]:
    """The sales app (with the stand-in proposer): the loopback model, the local SMTP server."""
    monkeypatch.setenv("BATONFLOW_SALES_SMTP_PORT", str(smtp_server.port))
    monkeypatch.setenv("BATONFLOW_SALES_MAIL_FROM", "sales@acme.example")
    agents = (*(agent for agent in sales.agents if agent.name != stand_in.name), stand_in)
    app_with = replace(sales, workflows=None, agents=agents)
    async with FakeProvider(respond=negotiator) as server:
        settings = with_provider(api_settings, server, llm_max_retries=0)
        app = create_app(settings, apps=load_apps(["sales"], {"sales": app_with}))
        async with app.router.lifespan_context(app):
            yield app


async def decide(client: httpx.AsyncClient, entity: str, entity_id: str, **body: Any) -> Any:
    done = await client.post(f"{SALES}/reviews/{entity}/{entity_id}/decision", json=body)
    assert done.status_code == 200, done.text
    return done.json()


async def waiting_on(client: httpx.AsyncClient, run_id: str) -> tuple[str, Any]:
    """The step the run waits on, and what it shows the person."""
    run = await settled(client, run_id, ENDED, 60)
    assert run["status"] == "waiting", run["error"]
    (review,) = run["reviews"]
    shown = (await client.get(f"/api/v1/reviews/{review['id']}")).json()
    return shown["step_key"], shown["subject"]


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(BytesIO(data)).pages)


def attachment(message: EmailMessage) -> tuple[str, bytes]:
    (part,) = list(message.iter_attachments())
    content = part.get_content()
    assert isinstance(content, bytes)
    return str(part.get_filename()), content


async def test_a_deal_goes_from_proposal_through_negotiation_and_contract_to_an_invoice(
    sales_member: Join, sales_state: ApiState, smtp_server: Inbox
) -> None:
    acme = await sales_member("acme")
    assert (await acme.client.put(f"{SALES}/policy", json=POLICY)).status_code == 200
    made = await acme.client.post(
        f"{SALES}/contract-templates", json={"name": "Standard", "body": TEMPLATE}
    )
    assert made.status_code == 201, made.text
    db = Writes(sales_state)
    company_id = await records.company(db, acme.tenant_id)  # type: ignore[arg-type]
    deal_id = await records.deal(
        db,  # type: ignore[arg-type]
        acme.tenant_id,
        company_id,
        [("Seats", "200", "100", "0"), ("Training", "10", "1000", "0")],
    )
    await install(acme.client, "sales-deal.yaml")

    started = await run_pipeline(acme.client, {"deal_id": deal_id}, "deal-1")
    assert started.status_code == 201, started.text
    run_id = started.json()["run_id"]

    step, proposal = await waiting_on(acme.client, run_id)
    assert (step, proposal["text"]) == (
        "proposal_review",
        "200 seats and 10 training days for 30000.00 EUR.",
    )
    await decide(acme.client, "deal", deal_id, decision="approve")

    step, _ = await waiting_on(acme.client, run_id)
    assert step == "customer"
    await decide(
        acme.client,
        "deal",
        deal_id,
        decision="submit",
        data={"answer": "counter", "counter": {"total": "25000", "message": "25000 and we sign"}},
    )

    step, round_ = await waiting_on(acme.client, run_id)
    assert (step, round_["verdict"], round_["review_role"], round_["action"]) == (
        "over_policy",
        "needs_approval",
        "reviewer",
        "counter",
    )
    assert round_["reply"] == "Thank you. We can offer 15 % off: 25500 EUR in all."
    nothing = await acme.client.post(
        f"{SALES}/reviews/contract/{deal_id}/decision", json={"decision": "approve"}
    )
    assert error(nothing) == (404, f"no contract '{deal_id}'")
    await decide(acme.client, "offer", round_["offer_id"], decision="approve")

    step, prepared = await waiting_on(acme.client, run_id)
    contract_id = prepared["contract_id"]
    assert (step, prepared) == (
        "contract_review",
        {
            "contract_id": IsStr(),
            "deal_id": deal_id,
            "version": 1,
            "status": "in_review",
            "terms": {
                "round": 1,
                "discount": "16.67",
                "net_amount": "24999.99",
                "currency": "EUR",
                "lines": [
                    {"position": 0, "sku": IsStr(), "discount": "16.6667", "net": "16666.66"},
                    {"position": 1, "sku": IsStr(), "discount": "16.6667", "net": "8333.33"},
                ],
            },
        },
    )
    assert smtp_server.arrived == []  # nothing is sent before the contract is approved
    umbrella = await sales_member("umbrella")
    for entity, entity_id in (
        ("contract", contract_id),
        ("offer", round_["offer_id"]),
        ("deal", deal_id),
    ):
        other = await umbrella.client.post(
            f"{SALES}/reviews/{entity}/{entity_id}/decision", json={"decision": "approve"}
        )
        assert error(other) == (404, f"no {entity} '{entity_id}'")
    other_run = await run_pipeline(umbrella.client, {"deal_id": deal_id}, "deal-1")
    assert error(other_run) == (404, f"no deal '{deal_id}'")
    await decide(acme.client, "contract", contract_id, decision="approve")

    done = await settled(acme.client, run_id, ENDED, 60)
    assert done["status"] == "succeeded", done["error"]
    contract = (await acme.client.get(f"{SALES}/contracts/{contract_id}")).json()
    assert contract["status"] == "sent"
    invoice = done["outputs"]["invoice"]
    assert invoice == {
        "invoice_id": IsStr(),
        "number": IsStr(regex=r"INV-\d{4}-0001"),
        "currency": "EUR",
        "subtotal": "24999.99",
        "tax": "0.00",
        "total": "24999.99",
        "due_date": IsStr(),
        "email_id": IsStr(),
        "message_id": IsStr(),
    }

    sent_contract, sent_invoice = smtp_server.arrived  # each once
    assert sent_contract.recipients == sent_invoice.recipients == ["hank@globex.example"]
    name, pdf = attachment(sent_contract.message)
    assert name == f"contract-{contract_id}.pdf"
    assert "Rollout for Globex: agreed discount 16.67 %." in pdf_text(pdf)
    assert sent_invoice.message["Subject"] == f"Invoice {invoice['number']}"
    name, pdf = attachment(sent_invoice.message)
    text = pdf_text(pdf)
    assert name == f"{invoice['number']}.pdf"
    stored = (await acme.client.get(f"{SALES}/invoices/{invoice['invoice_id']}")).json()
    assert text.splitlines() == [
        f"Invoice {invoice['number']}",
        "From acme",
        "Bill to Globex (globex.example, DE)",
        "Status sent",
        f"Issued {stored['issue_date']}",
        f"Due date {invoice['due_date']}",
        "Currency EUR",
        "# Description Quantity Unit price Discount Net",
        "1 Seats 200 100 16.6667 % 16666.66",
        "2 Training 10 1000 16.6667 % 8333.33",
        "Subtotal 24999.99 EUR",
        "Tax 0 % 0.00 EUR",
        "Total 24999.99 EUR",
    ]


async def test_a_proposal_the_customer_accepts_goes_straight_to_the_contract(
    sales_member: Join, sales_state: ApiState, smtp_server: Inbox
) -> None:
    acme = await sales_member("acme")
    made = await acme.client.post(
        f"{SALES}/contract-templates", json={"name": "Plain", "body": PLAIN}
    )
    assert made.status_code == 201, made.text
    db = Writes(sales_state)
    company_id = await records.company(db, acme.tenant_id)  # type: ignore[arg-type]
    deal_id = await records.deal(
        db,  # type: ignore[arg-type]
        acme.tenant_id,
        company_id,
        [("Seats", "200", "100", "0.1")],
    )
    await install(acme.client, "sales-deal.yaml")
    run_id = (await run_pipeline(acme.client, {"deal_id": deal_id}, "deal-2")).json()["run_id"]
    await waiting_on(acme.client, run_id)
    await decide(acme.client, "deal", deal_id, decision="approve")
    await waiting_on(acme.client, run_id)
    await decide(acme.client, "deal", deal_id, decision="submit", data={"answer": "accept"})

    step, prepared = await waiting_on(acme.client, run_id)
    assert (step, prepared["status"], prepared["terms"]) == ("contract_review", "in_review", {})
    rejected = await decide(
        acme.client, "contract", prepared["contract_id"], decision="reject", comment="wrong"
    )
    assert rejected["status"] == "rejected"

    done = await settled(acme.client, run_id, ENDED, 60)
    assert (done["status"], done["error"]["code"]) == ("failed", "review_rejected")
    assert smtp_server.arrived == []  # a rejected contract is not sent, nor invoiced
    contract = (await acme.client.get(f"{SALES}/contracts/{prepared['contract_id']}")).json()
    assert contract["status"] == "in_review"
    gone = await acme.client.post(
        f"{SALES}/reviews/deal/{deal_id}/decision", json={"decision": "approve"}
    )
    assert error(gone) == (
        404,
        f"no open review for deal '{deal_id}': no sales-deal run working on it waits for a "
        "decision",
    )
