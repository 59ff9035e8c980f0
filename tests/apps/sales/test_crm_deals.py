"""The catalog, pipelines and deals through the real API: prices copied onto lines, amounts
computed from the lines, stages with required fields, stage history by user and by agent, the
board, and stage edits that keep what deals hold."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
from dirty_equals import IsStr

from batonflow.api.deps import ApiState
from batonflow.apps.sales import deals
from tests.apps.sales.conftest import SALES, Join
from tests.apps.sales.test_crm_companies import error, post


async def catalog(client: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    seat = await post(
        client,
        "/products",
        {"sku": "SEAT", "name": "Seat licence", "unit_price": "49.99", "currency": "EUR"},
    )
    onboarding = await post(
        client,
        "/products",
        {"sku": "ONB", "name": "Onboarding", "unit_price": "1500", "currency": "EUR"},
    )
    return {"seat": seat, "onboarding": onboarding}


async def test_catalog(sales_member: Join) -> None:
    client = (await sales_member("acme")).client
    made = await catalog(client)
    assert made["seat"] == {
        "id": IsStr(),
        "sku": "SEAT",
        "name": "Seat licence",
        "description": "",
        "unit_price": "49.99",
        "currency": "EUR",
        "active": True,
        "created_at": IsStr(),
    }
    twice = await client.post(
        f"{SALES}/products",
        json={"sku": "SEAT", "name": "Other", "unit_price": "1", "currency": "EUR"},
    )
    assert error(twice) == (
        409,
        f"the SKU 'SEAT' is product {made['seat']['id']}; pick another SKU",
    )
    floats = await client.post(
        f"{SALES}/products", json={"sku": "X", "name": "X", "unit_price": 1.5, "currency": "EUR"}
    )
    assert floats.status_code == 422
    retired = await client.post(f"{SALES}/products/{made['onboarding']['id']}/retire")
    assert retired.json() == made["onboarding"] | {"active": False}
    offered = (await client.get(f"{SALES}/products", params={"active": "true"})).json()
    assert offered == [made["seat"]]
    listed = (await client.get(f"{SALES}/products")).json()
    assert [p["sku"] for p in listed] == ["ONB", "SEAT"]


async def test_deal_lines_amounts_and_price_changes(sales_member: Join) -> None:
    client = (await sales_member("acme")).client
    products = await catalog(client)
    company = await post(client, "/companies", {"name": "Globex"})
    deal = await post(
        client,
        "/deals",
        {
            "title": "Globex rollout",
            "company_id": company["id"],
            "currency": "EUR",
            "lines": [
                {"product_id": products["seat"]["id"], "quantity": "3", "discount": "0.125"},
                {"product_id": products["onboarding"]["id"], "quantity": "1", "unit_price": "1200"},
            ],
        },
    )
    pipeline = (await client.get(f"{SALES}/pipelines")).json()[0]
    first = pipeline["stages"][0]
    assert deal == {
        "id": IsStr(),
        "pipeline_id": pipeline["id"],
        "stage_id": first["id"],
        "company_id": company["id"],
        "contact_id": None,
        "lead_id": None,
        "title": "Globex rollout",
        "amount": "1331.22",
        "currency": "EUR",
        "close_date": None,
        "probability": None,
        "owner": None,
        "created_at": IsStr(),
        "updated_at": IsStr(),
        "stage": first,
        "lines": [
            {
                "id": IsStr(),
                "position": 0,
                "product_id": products["seat"]["id"],
                "description": "Seat licence",
                "quantity": "3",
                "unit_price": "49.99",
                "discount": "0.125",
                "net": "131.22",
            },
            {
                "id": IsStr(),
                "position": 1,
                "product_id": products["onboarding"]["id"],
                "description": "Onboarding",
                "quantity": "1",
                "unit_price": "1200",
                "discount": "0",
                "net": "1200.00",
            },
        ],
        "history": [
            {
                "id": IsStr(),
                "from_stage_id": None,
                "to_stage_id": first["id"],
                "actor_kind": "user",
                "actor": "admin@acme.example",
                "reason": "created",
                "run_id": None,
                "at": IsStr(),
            }
        ],
        "totals": {"subtotal": "1349.97", "discount": "18.75", "net": "1331.22"},
    }
    await client.patch(f"{SALES}/products/{products['seat']['id']}", json={"unit_price": "59.99"})
    again = (await client.get(f"{SALES}/deals/{deal['id']}")).json()
    assert again == deal
    typed = await client.patch(f"{SALES}/deals/{deal['id']}", json={"amount": "10"})
    assert error(typed) == (
        422,
        "the amount of a deal with lines is the sum of its lines; change those",
    )
    relined = await client.patch(
        f"{SALES}/deals/{deal['id']}",
        json={"lines": [{"product_id": products["seat"]["id"], "quantity": "10"}]},
    )
    assert (relined.json()["amount"], relined.json()["totals"]) == (
        "599.90",
        {"subtotal": "599.90", "discount": "0.00", "net": "599.90"},
    )
    await client.post(f"{SALES}/products/{products['onboarding']['id']}/retire")
    retired = await client.patch(
        f"{SALES}/deals/{deal['id']}",
        json={"lines": [{"product_id": products["onboarding"]["id"], "quantity": "1"}]},
    )
    assert error(retired) == (
        422,
        "line 1 (ONB): the product is retired; pick one in the catalog",
    )
    dollars = await client.patch(f"{SALES}/deals/{deal['id']}", json={"currency": "USD"})
    assert error(dollars) == (
        422,
        "to change the currency of a deal with lines, send its lines again",
    )


async def test_moves_check_required_fields_and_record_who(
    sales_member: Join, sales_state: ApiState
) -> None:
    member = await sales_member("acme")
    client = member.client
    lead = await post(
        client,
        "/leads",
        {"company": {"name": "Globex"}, "contact": {"name": "Jane", "email": "jane@globex.com"}},
    )
    deal = await post(
        client,
        "/deals",
        {"title": "Pilot", "company_id": lead["company_id"], "currency": "EUR"},
    )
    listed = (await client.get(f"{SALES}/pipelines")).json()
    stages = {s["name"]: s for s in listed[0]["stages"]}
    url = f"{SALES}/deals/{deal['id']}"
    refused = await client.post(f"{url}/move", json={"stage_id": stages["Contract"]["id"]})
    assert refused.status_code == 422
    assert refused.json()["error"]["message"] == (
        "a deal in 'Contract' needs amount, close_date, contact_id, lines; set them first"
    )
    assert refused.json()["error"]["details"] == {
        "stage_id": stages["Contract"]["id"],
        "missing": ["amount", "close_date", "contact_id", "lines"],
    }
    await client.patch(url, json={"contact_id": lead["contact_id"], "lead_id": lead["id"]})
    moved = await client.post(
        f"{url}/move", json={"stage_id": stages["Proposal"]["id"], "reason": "asked for a quote"}
    )
    assert moved.status_code == 200, moved.text
    await client.patch(url, json={"amount": "12000.50", "close_date": "2027-03-31"})
    won = await sales_state.transact(
        lambda conn: deals.move(
            conn,
            member.tenant_id,
            deal["id"],
            stages["Won"]["id"],
            actor_kind="agent",
            actor="sales.deal.advance",
            reason="the customer signed",
            run_id="run-1",
            now=sales_state.now(),
        )
    )
    assert (won["stage"]["name"], won["amount"]) == ("Won", Decimal("12000.50"))
    history = (await client.get(url)).json()["history"]
    assert [
        (
            h["from_stage_id"],
            h["to_stage_id"],
            h["actor_kind"],
            h["actor"],
            h["reason"],
            h["run_id"],
        )
        for h in history
    ] == [
        (None, stages["Qualification"]["id"], "user", "admin@acme.example", "created", None),
        (
            stages["Qualification"]["id"],
            stages["Proposal"]["id"],
            "user",
            "admin@acme.example",
            "asked for a quote",
            None,
        ),
        (
            stages["Proposal"]["id"],
            stages["Won"]["id"],
            "agent",
            "sales.deal.advance",
            "the customer signed",
            "run-1",
        ),
    ]
    cleared = await client.patch(url, json={"close_date": None})
    assert error(cleared) == (422, "a deal in 'Won' needs close_date; set them first")
    in_stage = await client.post(
        f"{SALES}/deals",
        json={
            "title": "Straight to contract",
            "company_id": lead["company_id"],
            "currency": "EUR",
            "stage_id": stages["Contract"]["id"],
        },
    )
    assert in_stage.status_code == 422


async def test_pipelines_board_and_stage_edits(sales_member: Join) -> None:
    client = (await sales_member("acme")).client
    made = await client.post(
        f"{SALES}/pipelines",
        json={
            "name": "Renewals",
            "stages": [
                {"name": "Due", "probability": 50},
                {"name": "Quoted", "probability": 70, "required_fields": ["amount"]},
                {"name": "Renewed", "kind": "won", "probability": 100},
            ],
        },
    )
    assert made.status_code == 201, made.text
    pipeline = made.json()
    assert pipeline == {
        "id": IsStr(),
        "name": "Renewals",
        "is_default": True,
        "created_at": IsStr(),
        "stages": [
            {
                "id": IsStr(),
                "pipeline_id": pipeline["id"],
                "position": n,
                "name": name,
                "kind": kind,
                "probability": p,
                "required_fields": required,
            }
            for n, (name, kind, p, required) in enumerate(
                [
                    ("Due", "open", 50, []),
                    ("Quoted", "open", 70, ["amount"]),
                    ("Renewed", "won", 100, []),
                ]
            )
        ],
    }
    bad = await client.post(
        f"{SALES}/pipelines",
        json={"name": "X", "stages": [{"name": "A", "probability": 1, "required_fields": ["x"]}]},
    )
    assert bad.status_code == 422
    company = await post(client, "/companies", {"name": "Globex"})
    due, quoted, _ = pipeline["stages"]
    amounts = [("EUR", "100.10"), ("EUR", "200.20"), ("USD", "5"), ("EUR", None)]
    made_deals = []
    for n, (currency, amount) in enumerate(amounts):
        made_deals.append(
            await post(
                client,
                "/deals",
                {
                    "title": f"Renewal {n}",
                    "company_id": company["id"],
                    "currency": currency,
                    "amount": amount,
                    "pipeline_id": pipeline["id"],
                    "stage_id": quoted["id"] if amount else due["id"],
                },
            )
        )
    board = (await client.get(f"{SALES}/pipelines/{pipeline['id']}/board")).json()
    assert [(c["stage"]["name"], c["count"], c["amounts"]) for c in board["stages"]] == [
        ("Due", 1, {}),
        ("Quoted", 3, {"EUR": "300.30", "USD": "5.00"}),
        ("Renewed", 0, {}),
    ]
    assert [d["title"] for d in board["stages"][1]["deals"]] == [
        "Renewal 2",
        "Renewal 1",
        "Renewal 0",
    ]
    assert board["pipeline"] == {k: v for k, v in pipeline.items() if k != "stages"}
    listed = (
        await client.get(f"{SALES}/deals", params={"stage_id": quoted["id"], "q": "renewal 1"})
    ).json()
    assert [d["id"] for d in listed["items"]] == [made_deals[1]["id"]]

    removing = await client.patch(
        f"{SALES}/pipelines/{pipeline['id']}",
        json={"stages": [{"id": due["id"], "name": "Due", "probability": 50}]},
    )
    assert error(removing) == (
        409,
        "the stage 'Quoted' holds 3 deal(s); move them before removing it",
    )
    edited = await client.patch(
        f"{SALES}/pipelines/{pipeline['id']}",
        json={
            "name": "Renewals 2027",
            "stages": [
                {"id": quoted["id"], "name": "Due", "probability": 60},
                {"id": due["id"], "name": "Quoted", "probability": 40},
                {"name": "Lapsed", "kind": "lost", "probability": 0},
            ],
        },
    )
    assert edited.status_code == 200, edited.text
    assert [(s["id"], s["name"], s["position"]) for s in edited.json()["stages"]] == [
        (quoted["id"], "Due", 0),
        (due["id"], "Quoted", 1),
        (IsStr(), "Lapsed", 2),
    ]
    assert edited.json()["name"] == "Renewals 2027"
    names = [p["name"] for p in (await client.get(f"{SALES}/pipelines")).json()]
    assert names == ["Renewals 2027"]


async def test_default_pipeline_made_on_first_use(sales_member: Join) -> None:
    client = (await sales_member("acme")).client
    listed = (await client.get(f"{SALES}/pipelines")).json()
    assert [(p["name"], p["is_default"]) for p in listed] == [("Sales", True)]
    assert [(s["name"], s["kind"], s["probability"]) for s in listed[0]["stages"]] == [
        ("Qualification", "open", 10),
        ("Proposal", "open", 30),
        ("Negotiation", "open", 60),
        ("Contract", "open", 80),
        ("Won", "won", 100),
        ("Lost", "lost", 0),
    ]
    assert (await client.get(f"{SALES}/pipelines")).json() == listed
