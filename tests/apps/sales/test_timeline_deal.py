"""A deal's, its contract's and its invoice's timelines through the API, on SQLite and
PostgreSQL, after the deal pipeline worked on them for real: the proposal approved, the
customer's counter beyond policy approved, the contract approved and sent, the invoice issued
and then paid in part; another tenant's records are 404."""

from __future__ import annotations

from typing import Any

from batonflow.api.deps import ApiState
from tests.api.flows import settled
from tests.apps.sales import finance_records as records
from tests.apps.sales.conftest import SALES, Join
from tests.apps.sales.smtp_fixtures import Inbox, smtp_server
from tests.apps.sales.test_crm_companies import error
from tests.apps.sales.test_flow_deal import ENDED, TEMPLATE, Writes, decide, sales_api, waiting_on
from tests.apps.sales.test_flow_outreach import install, run_pipeline
from tests.apps.sales.test_negotiation_agent import negotiator
from tests.apps.sales.test_negotiation_api import POLICY
from tests.apps.sales.test_timeline_lead import event

__all__ = ["negotiator", "sales_api", "smtp_server"]
ADMIN = "admin@acme.example"


async def test_the_deal_contract_and_invoice_timelines_show_the_pipeline_run(
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
    run_id = (await run_pipeline(acme.client, {"deal_id": deal_id}, "tl-deal")).json()["run_id"]
    await waiting_on(acme.client, run_id)
    await decide(acme.client, "deal", deal_id, decision="approve", comment="good")
    await waiting_on(acme.client, run_id)
    counter = {"answer": "counter", "counter": {"total": "25000", "message": "25000 and we sign"}}
    await decide(acme.client, "deal", deal_id, decision="submit", data=counter)
    _, round_ = await waiting_on(acme.client, run_id)
    await decide(acme.client, "offer", round_["offer_id"], decision="approve")
    _, prepared = await waiting_on(acme.client, run_id)
    contract_id = prepared["contract_id"]
    await decide(acme.client, "contract", contract_id, decision="approve")
    done = await settled(acme.client, run_id, ENDED, 60)
    assert done["status"] == "succeeded", done["error"]
    invoice_id = done["outputs"]["invoice"]["invoice_id"]
    paid = await acme.client.post(
        f"{SALES}/invoices/{invoice_id}/payments",
        json={"amount": "10000", "paid_on": "2026-01-15", "reference": "wire 7"},
    )
    assert paid.status_code == 201, paid.text

    shown = {}
    for entity, entity_id in (
        ("deal", deal_id),
        ("contract", contract_id),
        ("invoice", invoice_id),
    ):
        got = await acme.client.get(f"{SALES}/{entity}s/{entity_id}/timeline")
        assert got.status_code == 200, got.text
        assert (got.json()["entity"], got.json()["entity_id"]) == (entity, entity_id)
        shown[entity] = got.json()["events"]
        times = [e["at"] for e in shown[entity]]
        assert times == sorted(times)
    ids = {e["links"].get("review_id") for e in shown["deal"]} - {None}
    reviews = {
        step: review_id
        for review_id in ids
        for step in [(await acme.client.get(f"/api/v1/reviews/{review_id}")).json()["step_key"]]
    }
    audits = {
        e["links"]["review_id"]: e["links"]["audit_id"]
        for e in shown["deal"]
        if "audit_id" in e["links"]
    }
    offers = (await acme.client.get(f"{SALES}/deals/{deal_id}/offers")).json()
    emails = {
        e["subject"]: e["id"] for e in (await acme.client.get(f"{SALES}/emails")).json()["items"]
    }
    (payment,) = paid.json()["payments"]
    number = done["outputs"]["invoice"]["number"]
    due = done["outputs"]["invoice"]["due_date"]
    issued = paid.json()["issue_date"]
    run = {"run_id": run_id}

    def asked(step: str, kind: str = "review", by: str = "reviewer or admin") -> dict[str, Any]:
        links = run | {"review_id": reviews[step]}
        what = "an answer" if kind == "input" else "a review"
        return event(
            f"{kind}.requested",
            "system",
            "batonflow",
            f"Step {step} waits for {what} by {by}.",
            links,
        )

    def decided(step: str, did: str, status: str, kind: str = "review") -> dict[str, Any]:
        links = run | {"review_id": reviews[step], "audit_id": audits[reviews[step]]}
        comment = ": good" if step == "proposal_review" else ""
        return event(
            f"{kind}.{status}", "user", ADMIN, f"{ADMIN} {did} step {step}{comment}.", links
        )

    contract = {"contract_id": contract_id}
    invoice = {"invoice_id": invoice_id}
    started = event("run.started", "user", ADMIN, "Started the sales-deal run.", run)
    succeeded = event("run.succeeded", "system", "batonflow", "The sales-deal run succeeded.", run)
    contract_events = [
        event(
            "contract.created",
            "system",
            "batonflow",
            "Contract 'Contract: Rollout' created.",
            contract,
        ),
        event(
            "contract.version",
            "agent",
            "agent:sales-finance",
            "Version 1: first draft.",
            run | contract,
        ),
        asked("contract_review"),
        decided("contract_review", "approved", "approved"),
    ]
    sent = event(
        "contract.status",
        "system",
        "batonflow",
        "Contract 'Contract: Rollout' is now sent.",
        contract,
    )
    invoice_events = [
        event(
            "invoice.created", "system", "batonflow", "Invoice drafted for 24999.99 EUR.", invoice
        ),
        event(
            "invoice.issued",
            "system",
            "batonflow",
            f"Invoice {number} issued on {issued}, due {due}.",
            invoice,
        ),
        event(
            "email.sent",
            "agent",
            "sales@acme.example",
            f"Email 'Invoice {number}' to hank@globex.example sent.",
            run | {"email_id": emails[f"Invoice {number}"]},
        ),
    ]
    payment_event = event(
        "invoice.payment",
        "user",
        ADMIN,
        "Payment of 10000.00 EUR received on 2026-01-15 (reference wire 7).",
        invoice | {"payment_id": payment["id"]},
    )
    customer, ours, accepted = offers
    assert shown["deal"] == [
        event("deal.created", "system", "batonflow", "Deal 'Rollout' created."),
        started,
        asked("proposal_review"),
        decided("proposal_review", "approved", "approved"),
        asked("customer", "input", "operator or reviewer or admin"),
        decided("customer", "answered", "submitted", "input"),
        event(
            "offer.counter",
            "agent",
            "agent:sales-negotiation",
            "The customer countered in round 1: 16.67% off, net 24999.99 EUR, beyond the "
            "discount policy, needing approval.",
            run | {"offer_id": customer["id"]},
        ),
        event(
            "offer.counter",
            "agent",
            "agent:sales-negotiation",
            "We countered in round 1: 15% off, net 25500.00 EUR, within the discount policy.",
            run | {"offer_id": ours["id"]},
        ),
        asked("over_policy"),
        decided("over_policy", "approved", "approved"),
        event(
            "offer.approved",
            "user",
            ADMIN,
            f"{ADMIN} approved the customer's terms of round 1.",
            run | {"offer_id": customer["id"]},
        ),
        event(
            "offer.accept",
            "user",
            ADMIN,
            "We accepted in round 1: 16.67% off, net 24999.99 EUR, beyond the discount "
            "policy, needing approval.",
            {"offer_id": accepted["id"]},
        ),
        *contract_events,
        event(
            "email.sent",
            "agent",
            "sales@acme.example",
            "Email 'Contract: Rollout (version 1)' to hank@globex.example sent.",
            run | {"email_id": emails["Contract: Rollout (version 1)"]},
        ),
        sent,
        *invoice_events,
        succeeded,
        payment_event,
    ]
    assert shown["contract"] == [started, *contract_events, sent, succeeded]
    assert shown["invoice"] == [started, *invoice_events, succeeded, payment_event]

    umbrella = await sales_member("umbrella")
    for entity, entity_id in (
        ("deal", deal_id),
        ("contract", contract_id),
        ("invoice", invoice_id),
    ):
        hidden = await umbrella.client.get(f"{SALES}/{entity}s/{entity_id}/timeline")
        assert error(hidden) == (404, f"no {entity} '{entity_id}'")
