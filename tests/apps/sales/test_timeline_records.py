"""The records' own history on their timelines, through the API on SQLite and PostgreSQL: a
deal made and moved by a person (who, why, from where to where), and its invoice drafted,
issued and voided (the deal's timeline holds its invoice's events too); a lead's emails, the
reply to one, and a person's resend of a failed one from the audit log."""

from __future__ import annotations

from batonflow.api.deps import ApiState
from tests.apps.sales.conftest import SALES, Join
from tests.apps.sales.smtp_fixtures import Inbox, smtp_server
from tests.apps.sales.test_mail_api import E, a_lead, reply_to, send
from tests.apps.sales.test_timeline_lead import event

__all__ = ["smtp_server"]
ADMIN = "admin@acme.example"


async def test_a_deal_moved_by_a_person_and_its_voided_invoice(sales_member: Join) -> None:
    acme = await sales_member("acme")
    client = acme.client
    company = (await client.post(f"{SALES}/companies", json={"name": "Globex"})).json()
    product = await client.post(
        f"{SALES}/products",
        json={
            "sku": "SEAT",
            "name": "Seat",
            "description": "",
            "unit_price": "100",
            "currency": "EUR",
        },
    )
    assert product.status_code == 201, product.text
    made = await client.post(
        f"{SALES}/deals",
        json={
            "title": "Rollout",
            "company_id": company["id"],
            "currency": "EUR",
            "lines": [{"product_id": product.json()["id"], "quantity": "3"}],
        },
    )
    assert made.status_code == 201, made.text
    deal_id = made.json()["id"]
    stages = {
        s["name"]: s["id"] for s in (await client.get(f"{SALES}/pipelines")).json()[0]["stages"]
    }
    for stage, reason in (("Lost", "went quiet"), ("Qualification", "they called back")):
        moved = await client.post(
            f"{SALES}/deals/{deal_id}/move", json={"stage_id": stages[stage], "reason": reason}
        )
        assert moved.status_code == 200, moved.text
    invoice = (await client.post(f"{SALES}/invoices/from-deal", json={"deal_id": deal_id})).json()
    issued = (await client.post(f"{SALES}/invoices/{invoice['id']}/issue")).json()
    assert (await client.post(f"{SALES}/invoices/{invoice['id']}/void")).status_code == 200

    deal = (await client.get(f"{SALES}/deals/{deal_id}/timeline")).json()
    shown = (await client.get(f"{SALES}/invoices/{invoice['id']}/timeline")).json()
    links = {"invoice_id": invoice["id"]}
    number = issued["number"]
    invoiced = [
        event("invoice.created", "system", "batonflow", "Invoice drafted for 300.00 EUR.", links),
        event(
            "invoice.issued",
            "system",
            "batonflow",
            f"Invoice {number} issued on {issued['issue_date']}, due {issued['due_date']}.",
            links,
        ),
        event("invoice.voided", "system", "batonflow", f"Invoice {number} voided.", links),
    ]
    assert deal == {
        "entity": "deal",
        "entity_id": deal_id,
        "events": [
            event("deal.created", "user", ADMIN, "Deal 'Rollout' created in Qualification."),
            event(
                "deal.stage_moved", "user", ADMIN, "Moved from Qualification to Lost: went quiet."
            ),
            event(
                "deal.stage_moved",
                "user",
                ADMIN,
                "Moved from Lost to Qualification: they called back.",
            ),
            *invoiced,
        ],
    }
    assert shown == {"entity": "invoice", "entity_id": invoice["id"], "events": invoiced}


async def test_a_lead_timeline_shows_its_emails_replies_and_a_resend(
    sales_state: ApiState, sales_member: Join, smtp_server: Inbox
) -> None:
    sales_state.apps.settings["sales"] = smtp_server.settings()
    acme = await sales_member("acme")
    lead_id = await a_lead(sales_state, acme.tenant_id)
    first = await send(acme, "k1", lead_id=lead_id)
    raw = reply_to(first["message_id"])
    got = await acme.client.post(
        f"{E}/inbound", content=raw, headers={"content-type": "message/rfc822"}
    )
    assert got.status_code == 201, got.text
    smtp_server.refuse.add("gone@client.example")
    failed = await send(acme, "k2", lead_id=lead_id, to=["gone@client.example"], subject="Again")
    resent = await acme.client.post(f"{E}/{failed['id']}/resend")
    assert resent.json()["status"] == "failed"
    shown = (await acme.client.get(f"{SALES}/leads/{lead_id}/timeline")).json()
    (audit_id,) = [e["links"]["audit_id"] for e in shown["events"] if "audit_id" in e["links"]]
    sender = "Acme Sales <sales@acme.example>"
    assert shown["events"] == [
        event(
            "lead.created", "system", "batonflow", "Lead created for Ada at Client Co (source web)."
        ),
        event(
            "email.sent",
            "system",
            sender,
            "Email 'Hello' to ada@client.example sent.",
            {"email_id": first["id"]},
        ),
        event(
            "email.reply",
            "user",
            "ada@client.example",
            "Reply 'Re: Hello' received from ada@client.example.",
            {"email_id": first["id"], "reply_id": got.json()["id"]},
        ),
        event(
            "email.failed",
            "system",
            sender,
            "Email 'Again' to gone@client.example not sent (failed).",
            {"email_id": failed["id"]},
        ),
        event(
            "audit.sales.email_resent",
            "user",
            ADMIN,
            "A person resent an unconfirmed or failed email (sales app).",
            {"audit_id": audit_id, "email_id": failed["id"]},
        ),
    ]
