"""What the sales app seeds in the demo tenant, so a newcomer can run the whole pipeline on the
local model with no keys: a product catalog, the default pipeline, a discount policy, a contract
template, the `products` knowledge base (the plans and services the SDR agent cites), five
leads from `samples/leads.csv`, and one deal with lines on the board. Idempotent: a second start
finds each and adds nothing."""

from __future__ import annotations

from contextlib import suppress
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from batonflow.apps.sales import (
    catalog,
    companies,
    contracts,
    deals,
    lead_import,
    negotiation,
    pipelines,
)
from batonflow.apps.sales.policy import Policy
from batonflow.apps.sales.settings import SalesSettings
from batonflow.errors import Conflict
from batonflow.retrieval.service import Knowledge
from batonflow.retrieval.tools import start_ingestion
from batonflow.runs.service import Actor
from batonflow.store.db import Conn

if TYPE_CHECKING:
    from batonflow.api.deps import ApiState

SAMPLES = Path(__file__).parent / "samples"
ACTOR = "demo-seed"
TEMPLATE = "Master subscription agreement"
DEAL = "Northwind order triage"
PRODUCTS = (  # sku, name, unit price (EUR a year), description
    ("TEAM", "Team plan seat", "480", "One seat of the Team plan for a year"),
    ("ENT", "Enterprise platform", "36000", "The Enterprise platform licence for a year"),
    ("ONBOARD", "Onboarding package", "9500", "Two weeks with a solutions engineer"),
    ("SUPPORT", "Premium support", "6000", "A named engineer and 4-hour response, a year"),
)
POLICY = Policy.model_validate(
    {
        "bands": [
            {"below": "20000", "max_discount": "10"},
            {"below": "100000", "max_discount": "20"},
            {"below": None, "max_discount": "25"},
        ],
        "products": [{"sku": "ONBOARD", "max_discount": "0"}],
        "reviewer_above": "10",
        "admin_above": "20",
        "max_rounds": 3,
    }
)


async def seed(state: ApiState, tenant_id: str) -> list[str]:
    settings: SalesSettings = state.apps.settings_of("sales")
    now = state.now()

    async def records(conn: Conn) -> None:
        skus = {p["sku"] for p in await catalog.list_products(conn, tenant_id)}
        for sku, name, price, description in PRODUCTS:
            if sku not in skus:
                await catalog.create_product(
                    conn,
                    tenant_id,
                    sku=sku,
                    name=name,
                    unit_price=Decimal(price),
                    currency="EUR",
                    description=description,
                    now=now,
                )
        await pipelines.default_pipeline(conn, tenant_id, now)
        if await negotiation.current_policy(conn, tenant_id) is None:
            await negotiation.set_policy(conn, tenant_id, POLICY, actor=ACTOR, now=now)
        if not any(t["name"] == TEMPLATE for t in await contracts.list_templates(conn, tenant_id)):
            body = (SAMPLES / "contract.txt").read_text()
            await contracts.create_template(conn, tenant_id, name=TEMPLATE, body=body, now=now)

    await state.transact(records)
    await lead_import.import_leads(
        state.transact, tenant_id, (SAMPLES / "leads.csv").read_bytes(), now=now
    )
    await state.transact(lambda conn: _deal(conn, tenant_id, now))
    await _knowledge(state, tenant_id, settings.knowledge_base)
    return [
        "Sales: five leads, a catalog, a discount policy, a contract template and the "
        f"'{settings.knowledge_base}' knowledge base; the deal '{DEAL}' is on the Pipeline "
        "board. Mail the app sends lands in the local SMTP catcher (Sales: Email)."
    ]


async def _deal(conn: Conn, tenant_id: str, now: Any) -> None:
    if await deals.list_deals(conn, tenant_id, limit=1, q=DEAL):
        return
    company, _ = await companies.find_or_create_company(
        conn, tenant_id, now=now, name="Northwind Logistics"
    )
    contact, _ = await companies.find_or_create_contact(
        conn, tenant_id, now=now, name="Greta Hahn", email="greta.hahn@northwind.example"
    )
    by_sku = {p["sku"]: p for p in await catalog.list_products(conn, tenant_id)}
    await deals.create_deal(
        conn,
        tenant_id,
        title=DEAL,
        company_id=company["id"],
        contact_id=contact["id"],
        currency="EUR",
        lines=[
            {"product_id": by_sku["TEAM"]["id"], "quantity": Decimal(25)},
            {"product_id": by_sku["ONBOARD"]["id"], "quantity": Decimal(1)},
        ],
        actor=ACTOR,
        now=now,
    )


async def _knowledge(state: ApiState, tenant_id: str, name: str) -> None:
    """The product sheet in the knowledge base the SDR agent grounds its outreach in."""
    service = Knowledge(state.transact, state.query, state.platform.embedders)
    with suppress(Conflict):  # seeded by an earlier start
        await service.create(tenant_id, name, actor=ACTOR, description="Plans and services")
    sheet = SAMPLES / "products.md"
    added = await service.add(tenant_id, name, sheet.name, sheet.read_bytes(), title="Plans")
    if not added.changed:
        return

    async def ingest(conn: Conn) -> None:
        await start_ingestion(conn, tenant_id, added.document, Actor(ACTOR), state.now())

    await state.transact(ingest)
    state.committed([])  # wake the executor
