"""Tenants kept apart: every CRM route is a 404 for another tenant's ids, and another tenant's
records never show in a list, nor can be used by id in one's own records."""

from __future__ import annotations

from tests.apps.sales.conftest import SALES, Join
from tests.apps.sales.test_crm_companies import post


async def test_another_tenants_ids_are_404(sales_member: Join) -> None:
    acme = (await sales_member("acme")).client
    rival = (await sales_member("rival")).client
    lead = await post(
        acme,
        "/leads",
        {"company": {"name": "Globex"}, "contact": {"name": "Jane", "email": "jane@globex.com"}},
    )
    product = await post(
        acme,
        "/products",
        {"sku": "SEAT", "name": "Seat", "unit_price": "10", "currency": "EUR"},
    )
    deal = await post(
        acme,
        "/deals",
        {
            "title": "Rollout",
            "company_id": lead["company_id"],
            "contact_id": lead["contact_id"],
            "currency": "EUR",
            "lines": [{"product_id": product["id"], "quantity": "2"}],
        },
    )
    pipeline_id, stage_id = deal["pipeline_id"], deal["stage_id"]
    theirs = {
        "companies": lead["company_id"],
        "contacts": lead["contact_id"],
        "leads": lead["id"],
        "products": product["id"],
        "pipelines": pipeline_id,
        "deals": deal["id"],
    }
    for kind, object_id in theirs.items():
        url = f"{SALES}/{kind}/{object_id}"
        assert (await rival.get(url)).status_code == 404, url
        assert (await rival.patch(url, json={})).status_code == 404, url
        if kind not in ("products", "pipelines"):
            assert (await rival.delete(url)).status_code == 404, url
    assert (await rival.post(f"{SALES}/products/{product['id']}/retire")).status_code == 404
    assert (await rival.get(f"{SALES}/pipelines/{pipeline_id}/board")).status_code == 404
    move = await rival.post(f"{SALES}/deals/{deal['id']}/move", json={"stage_id": stage_id})
    assert move.status_code == 404

    for kind in ("companies", "contacts", "leads", "deals"):
        assert (await rival.get(f"{SALES}/{kind}")).json() == {"items": [], "next_cursor": None}
    assert (await rival.get(f"{SALES}/products")).json() == []
    own = await post(rival, "/companies", {"name": "Globex"})  # names are per tenant
    uses = [
        ("/leads", {"contact_id": lead["contact_id"]}),
        ("/leads", {"company_id": lead["company_id"], "contact": {"name": "X", "email": "x@y.z"}}),
        ("/contacts", {"name": "X", "email": "jane@globex.com", "company_id": lead["company_id"]}),
        ("/deals", {"title": "X", "company_id": lead["company_id"], "currency": "EUR"}),
        (
            "/deals",
            {"title": "X", "company_id": own["id"], "currency": "EUR", "stage_id": stage_id},
        ),
        (
            "/deals",
            {
                "title": "X",
                "company_id": own["id"],
                "currency": "EUR",
                "lines": [{"product_id": product["id"], "quantity": "1"}],
            },
        ),
    ]
    for path, body in uses:
        used = await rival.post(f"{SALES}{path}", json=body)
        assert used.status_code == 404, (path, used.text)
    mine = await post(
        rival, "/deals", {"title": "Mine", "company_id": own["id"], "currency": "EUR"}
    )
    moved = await rival.post(f"{SALES}/deals/{mine['id']}/move", json={"stage_id": stage_id})
    assert moved.status_code == 404
    assert (await acme.get(f"{SALES}/deals/{deal['id']}")).json() == deal
