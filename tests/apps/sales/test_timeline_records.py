"""The records' own history on their timelines, through the API on SQLite and PostgreSQL: a
deal made and moved by a person (who, why, from where to where), and its invoice drafted,
issued and voided; the deal's timeline holds its invoice's events too."""

from __future__ import annotations

from tests.apps.sales.conftest import SALES, Join
from tests.apps.sales.test_timeline_lead import event

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
