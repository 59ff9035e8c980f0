"""The sales app's demo seeding, on SQLite and PostgreSQL: a catalog, the default pipeline, a
policy, a contract template, five leads, a deal on the board and an ingested product sheet, all
readable through the API; a second start adds nothing."""

from __future__ import annotations

import asyncio

from batonflow.api.deps import ApiState
from batonflow.apps.sales import demo
from tests.apps.sales.conftest import SALES, Join

SEEDED = [
    "Sales: five leads, a catalog, a discount policy, a contract template and the 'products' "
    "knowledge base; the deal 'Northwind order triage' is on the Pipeline board. Mail the app "
    "sends lands in the local SMTP catcher (Sales: Email)."
]


async def test_the_demo_is_seeded_once(sales_member: Join, sales_state: ApiState) -> None:
    acme = await sales_member("acme")

    assert await demo.seed(sales_state, acme.tenant_id) == SEEDED
    assert await demo.seed(sales_state, acme.tenant_id) == SEEDED

    client = acme.client
    products = (await client.get(f"{SALES}/products")).json()
    assert sorted((p["sku"], p["unit_price"], p["currency"]) for p in products) == [
        ("ENT", "36000", "EUR"),
        ("ONBOARD", "9500", "EUR"),
        ("SUPPORT", "6000", "EUR"),
        ("TEAM", "480", "EUR"),
    ]
    leads = (await client.get(f"{SALES}/leads")).json()["items"]
    assert sorted(lead["company"]["name"] for lead in leads) == [
        "Globex Health",
        "Initech Software",
        "Northwind Logistics",
        "Umbrella Analytics",
        "Vandelay Imports",
    ]
    policy = (await client.get(f"{SALES}/policy")).json()
    assert (policy["version"], policy["policy"]["reviewer_above"]) == (1, "10")
    templates = (await client.get(f"{SALES}/contract-templates")).json()
    assert [t["name"] for t in templates] == ["Master subscription agreement"]

    [pipeline] = (await client.get(f"{SALES}/pipelines")).json()
    board = (await client.get(f"{SALES}/pipelines/{pipeline['id']}/board")).json()
    cards = [
        (column["stage"]["name"], deal["title"], deal["amount"])
        for column in board["stages"]
        for deal in column["deals"]
    ]
    assert cards == [("Qualification", "Northwind order triage", "21500.00")]  # 25 x 480 + 9500

    for _ in range(300):
        documents = (await client.get("/api/v1/knowledge-bases/products/documents")).json()
        if documents["items"] and documents["items"][0]["status"] == "ready":
            break
        await asyncio.sleep(0.1)
    assert [(d["source"], d["status"]) for d in documents["items"]] == [("products.md", "ready")]
