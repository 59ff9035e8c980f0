"""The negotiation through the API, on SQLite and PostgreSQL: an admin sets the discount policy
(a version per change), a customer's counter-offers are answered by code within it round by
round, a round beyond policy is approved by a person with the role it needs, and another
tenant's deal is a 404."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from dirty_equals import IsDatetime, IsStr
from fastapi import FastAPI
from sqlalchemy import Connection

from batonflow.api.deps import ApiState
from batonflow.apps.sales import negotiation_tables as nt
from batonflow.apps.sales import tables as t
from batonflow.ids import new_id
from batonflow.store.db import Conn
from batonflow.store.tables import Base
from tests.api.conftest import PASSWORD, client_for
from tests.apps.sales.conftest import SALES, Join

POLICY: dict[str, Any] = {
    "bands": [
        {"below": "10000", "max_discount": "10"},
        {"below": "50000", "max_discount": "15"},
        {"below": None, "max_discount": "20"},
    ],
    "products": [{"sku": "SEAT", "max_discount": "12", "floor_price": "80"}],
    "reviewer_above": "20",
    "admin_above": "30",
    "max_rounds": 3,
}
# 200 seats at 100 and 10 training days at 1000: 30000 EUR, in the 15 % band.
LINES = (("SEAT", "200", "100"), ("TRAINING", "10", "1000"))


Write = Callable[[Callable[[Conn], Awaitable[None]]], Awaitable[None]]


async def seed_deal(
    state: ApiState | Write, tenant_id: str, lines: tuple[tuple[str, str, str], ...] = LINES
) -> str:
    """A deal with `lines` (SKU, quantity, unit price), inserted as the CRM would, through the
    API's database or a `write` transaction: its id."""
    now = datetime(2026, 12, 1, tzinfo=UTC)
    deal_id = new_id()

    async def work(conn: Conn) -> None:
        stamp = {"tenant_id": tenant_id, "created_at": now}
        company, pipeline, stage = new_id(), new_id(), new_id()
        await conn.execute(
            t.companies.insert().values(id=company, name="Globex", updated_at=now, **stamp)
        )
        await conn.execute(
            t.pipelines.insert().values(id=pipeline, name="Sales", is_default=True, **stamp)
        )
        await conn.execute(
            t.stages.insert().values(
                id=stage,
                tenant_id=tenant_id,
                pipeline_id=pipeline,
                position=0,
                name="Negotiation",
                kind="open",
                probability=60,
                required_fields=[],
            )
        )
        await conn.execute(
            t.deals.insert().values(
                id=deal_id,
                pipeline_id=pipeline,
                stage_id=stage,
                company_id=company,
                title="Globex seats",
                currency="EUR",
                updated_at=now,
                **stamp,
            )
        )
        for position, (sku, quantity, price) in enumerate(lines, start=1):
            product = new_id()
            await conn.execute(
                t.products.insert().values(
                    id=product,
                    sku=sku,
                    name=sku.title(),
                    description="",
                    unit_price=Decimal(price),
                    currency="EUR",
                    active=True,
                    **stamp,
                )
            )
            await conn.execute(
                t.deal_lines.insert().values(
                    id=new_id(),
                    tenant_id=tenant_id,
                    deal_id=deal_id,
                    position=position,
                    product_id=product,
                    description=sku,
                    quantity=Decimal(quantity),
                    unit_price=Decimal(price),
                    discount=Decimal(0),
                )
            )

    await (state.transact if isinstance(state, ApiState) else state)(work)
    return deal_id


async def with_role(
    app: FastAPI, admin: httpx.AsyncClient, name: str, role: str
) -> httpx.AsyncClient:
    """A member of the admin's tenant with `role`, signed in."""
    email = f"{name}@acme.example"
    invitation = await admin.post("/api/v1/invitations", json={"email": email, "role": role})
    async with client_for(app) as anonymous:
        joined = await anonymous.post(
            "/api/v1/auth/register",
            json={
                "invitation": invitation.json()["token"],
                "email": email,
                "password": PASSWORD,
                "name": name.title(),
            },
        )
    assert joined.status_code == 201, joined.text
    return client_for(app, joined.json()["access_token"])


def error(code: str, message: str, **details: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}


def lines(*pairs: tuple[str, str]) -> list[dict[str, Any]]:
    """Terms' lines: (discount, net) for the seat line and the training line."""
    return [
        {"position": n, "sku": sku, "discount": discount, "net": net}
        for n, (sku, (discount, net)) in enumerate(
            zip(("SEAT", "TRAINING"), pairs, strict=True), start=1
        )
    ]


async def test_the_policy_is_versioned_and_only_an_admin_sets_it(
    sales_member: Join, sales_api: FastAPI
) -> None:
    acme = await sales_member("acme")
    none = await acme.client.get(f"{SALES}/policy")
    assert (none.status_code, none.json()) == (
        404,
        error(
            "not_found",
            "the tenant has no discount policy yet; an admin sets one with PUT "
            "/api/v1/sales/policy or `batonflow sales policy set FILE.json`",
        ),
    )

    first = await acme.client.put(f"{SALES}/policy", json=POLICY)
    assert (first.status_code, first.json()) == (
        200,
        {
            "version": 1,
            "policy": {
                **POLICY,
                "products": [{"sku": "SEAT", "max_discount": "12", "floor_price": "80"}],
            },
            "changed_by": "admin@acme.example",
            "changed_at": IsDatetime(iso_string=True),
        },
    )
    second = await acme.client.put(f"{SALES}/policy", json=POLICY | {"max_rounds": 5})
    assert (second.json()["version"], second.json()["policy"]["max_rounds"]) == (2, 5)
    assert (await acme.client.get(f"{SALES}/policy")).json() == second.json()

    async with await with_role(sales_api, acme.client, "olga", "operator") as olga:
        refused = await olga.put(f"{SALES}/policy", json=POLICY)
        assert (refused.status_code, refused.json()) == (
            403,
            error(
                "forbidden",
                "olga@acme.example lacks the scope 'admin' this endpoint needs",
                scope="admin",
            ),
        )
        assert (await olga.get(f"{SALES}/policy")).json()["version"] == 2


async def test_a_policy_that_does_not_hold_together_is_a_422_saying_what_to_fix(
    sales_member: Join,
) -> None:
    acme = await sales_member("acme")
    unordered = POLICY | {
        "bands": [
            {"below": "50000", "max_discount": "15"},
            {"below": "10000", "max_discount": "10"},
            {"max_discount": "120"},
        ]
    }
    bad = await acme.client.put(f"{SALES}/policy", json=unordered)
    assert bad.status_code == 422
    assert bad.json()["error"]["details"]["issues"] == [
        "body.bands.2.max_discount: Value error, a band's max_discount is a percentage from 0 "
        "to 100, not 120"
    ]
    overlapping = POLICY | {"bands": [*unordered["bands"][:2], {"max_discount": "20"}]}
    bad = await acme.client.put(f"{SALES}/policy", json=overlapping)
    assert bad.json()["error"]["details"]["issues"] == [
        "body: Value error, band 2 (below 10000) overlaps or precedes band 1 (below 50000); "
        "list the bands smallest first, each below a larger amount"
    ]
    assert (await acme.client.get(f"{SALES}/policy")).status_code == 404  # nothing stored


async def test_within_policy_we_accept_the_customers_terms(
    sales_member: Join, sales_state: ApiState
) -> None:
    acme = await sales_member("acme")
    await acme.client.put(f"{SALES}/policy", json=POLICY)
    deal = await seed_deal(sales_state, acme.tenant_id)

    made = await acme.client.post(
        f"{SALES}/deals/{deal}/offers", json={"discount": "12", "message": "12 % and we sign"}
    )

    within = ["12 % overall is within the maximum of 15 % for deals below 50000 EUR"]
    common = {
        "id": IsStr(),
        "deal_id": deal,
        "round": 1,
        "discount": "12",
        "net_amount": "26400",
        "currency": "EUR",
        "reply": "",
        "verdict": "within",
        "verdict_reasons": within,
        "role_needed": None,
        "policy_version": 1,
        "approved_by": None,
        "approved_at": None,
        "run_id": None,
        "actor": "admin@acme.example",
        "created_at": IsDatetime(iso_string=True),
    }
    assert (made.status_code, made.json()) == (
        201,
        {
            "customer": common
            | {
                "party": "customer",
                "action": "counter",
                "terms": {
                    "asked": {"discount": "12", "message": "12 % and we sign"},
                    "lines": lines(("12", "17600.00"), ("12", "8800.00")),
                },
                "reasoning": "",
            },
            "response": common
            | {
                "party": "us",
                "action": "accept",
                "terms": {
                    "lines": lines(("12", "17600.00"), ("12", "8800.00")),
                    "basis": "the customer's terms are within the discount policy, so we "
                    "accept them",
                },
                "reasoning": "the customer's terms are within the discount policy, so we "
                "accept them",
            },
        },
    )
    listed = await acme.client.get(f"{SALES}/deals/{deal}/offers")
    assert listed.json() == [made.json()["customer"], made.json()["response"]]


async def test_beyond_policy_we_counter_and_a_reviewer_approves_the_customers_terms(
    sales_member: Join, sales_state: ApiState, sales_api: FastAPI
) -> None:
    acme = await sales_member("acme")
    await acme.client.put(f"{SALES}/policy", json=POLICY)
    deal = await seed_deal(sales_state, acme.tenant_id)

    made = (await acme.client.post(f"{SALES}/deals/{deal}/offers", json={"total": "25000"})).json()

    customer, response = made["customer"], made["response"]
    assert customer["terms"]["lines"] == lines(("16.6667", "16666.66"), ("16.6667", "8333.33"))
    assert (customer["verdict"], customer["role_needed"], customer["verdict_reasons"]) == (
        "needs_approval",
        "reviewer",
        [
            "line 1 (SEAT) at 16.6667 % off is above the product's maximum of 12 %",
            "16.67 % overall is above the maximum of 15 % for deals below 50000 EUR",
        ],
    )
    assert (response["action"], response["verdict"], response["discount"]) == (
        "counter",
        "within",
        "13",
    )
    assert response["terms"]["lines"] == lines(("12", "17600.00"), ("15", "8500.00"))
    assert response["reasoning"] == (
        "the customer's terms are beyond policy (line 1 (SEAT) at 16.6667 % off is above the "
        "product's maximum of 12 %; 16.67 % overall is above the maximum of 15 % for deals "
        "below 50000 EUR); we counter with the most the policy lets us give on our own "
        "(line 1: 12 %, line 2: 15 %), 13 % overall; a person with the reviewer role may "
        "approve the customer's terms"
    )

    approve = f"{SALES}/deals/{deal}/offers/{customer['id']}/approve"
    async with await with_role(sales_api, acme.client, "olga", "operator") as olga:
        refused = await olga.post(approve)
        assert (refused.status_code, refused.json()) == (
            403,
            error(
                "forbidden",
                "olga@acme.example may not approve round 1: it needs the reviewer role (or admin)",
                role="reviewer",
            ),
        )
    async with await with_role(sales_api, acme.client, "rita", "reviewer") as rita:
        approved = await rita.post(approve)
        assert approved.status_code == 200, approved.text
        again = await rita.post(approve)
    assert approved.json() == {
        "customer": customer
        | {"approved_by": "rita@acme.example", "approved_at": IsDatetime(iso_string=True)},
        "response": customer
        | {
            "id": IsStr(),
            "party": "us",
            "action": "accept",
            "terms": {
                "lines": customer["terms"]["lines"],
                "basis": "approved by rita@acme.example",
            },
            "reasoning": "rita@acme.example, with the authority of the reviewer role, approved the "
            "customer's terms beyond policy, so we accept them",
            "approved_by": "rita@acme.example",
            "approved_at": IsDatetime(iso_string=True),
            "actor": "rita@acme.example",
            "created_at": IsDatetime(iso_string=True),
        },
    }
    assert (again.status_code, again.json()) == (
        409,
        error("conflict", "round 1 was approved by rita@acme.example already"),
    )
    listed = (await acme.client.get(f"{SALES}/deals/{deal}/offers")).json()
    assert [(o["round"], o["party"], o["action"]) for o in listed] == [
        (1, "customer", "counter"),
        (1, "us", "counter"),
        (1, "us", "accept"),
    ]


async def test_an_admins_approval_is_needed_above_the_admin_threshold(
    sales_member: Join, sales_state: ApiState, sales_api: FastAPI
) -> None:
    acme = await sales_member("acme")
    await acme.client.put(f"{SALES}/policy", json=POLICY)
    deal = await seed_deal(sales_state, acme.tenant_id)
    made = await acme.client.post(f"{SALES}/deals/{deal}/offers", json={"lines": {"2": "40"}})
    customer = made.json()["customer"]
    assert (customer["role_needed"], customer["discount"]) == ("admin", "13.33")

    approve = f"{SALES}/deals/{deal}/offers/{customer['id']}/approve"
    async with await with_role(sales_api, acme.client, "rita", "reviewer") as rita:
        refused = await rita.post(approve)
    assert refused.json() == error(
        "forbidden",
        "rita@acme.example may not approve round 1: it needs the admin role",
        role="admin",
    )
    assert (await acme.client.post(approve)).json()["response"][
        "approved_by"
    ] == "admin@acme.example"


async def test_after_the_round_limit_we_refuse_standing_by_our_last_offer(
    sales_member: Join, sales_state: ApiState
) -> None:
    acme = await sales_member("acme")
    await acme.client.put(f"{SALES}/policy", json=POLICY | {"max_rounds": 2})
    deal = await seed_deal(sales_state, acme.tenant_id)
    offers = f"{SALES}/deals/{deal}/offers"
    first = (await acme.client.post(offers, json={"discount": "20"})).json()
    second = (await acme.client.post(offers, json={"discount": "18"})).json()
    assert [first["customer"]["round"], second["customer"]["round"]] == [1, 2]
    assert first["response"]["terms"]["lines"] == lines(("12", "17600.00"), ("15", "8500.00"))
    old_round = f"{offers}/{first['customer']['id']}/approve"
    stale = await acme.client.post(old_round)
    assert stale.json() == error(
        "conflict", "round 1 was followed by round 2; approve the latest round"
    )

    third = (await acme.client.post(offers, json={"discount": "14"})).json()

    assert (third["customer"]["verdict"], third["customer"]["verdict_reasons"]) == (
        "refused",
        [
            "round 3 is beyond the policy's limit of 2 rounds",
            "line 1 (SEAT) at 14 % off is above the product's maximum of 12 %",
        ],
    )
    assert (third["response"]["action"], third["response"]["terms"]["lines"]) == (
        "refuse",
        second["response"]["terms"]["lines"],
    )
    assert third["response"]["reasoning"] == (
        "the customer has had the 2 rounds the policy allows, so we stand by our last offer"
    )


async def test_bad_counter_offers_are_422s_and_store_nothing(
    sales_member: Join, sales_state: ApiState
) -> None:
    acme = await sales_member("acme")
    deal = await seed_deal(sales_state, acme.tenant_id)
    offers = f"{SALES}/deals/{deal}/offers"
    no_policy = await acme.client.post(offers, json={"discount": "5"})
    assert no_policy.status_code == 409
    await acme.client.put(f"{SALES}/policy", json=POLICY)

    both = await acme.client.post(offers, json={"discount": "5", "total": "100"})
    assert both.json()["error"]["details"]["issues"] == [
        "body: Value error, a counter-offer asks for exactly one of `discount` (percent off "
        "every line), `lines` (percent by line position) or `total` (the net total); got "
        "['discount', 'total']"
    ]
    for body, message in [
        ({"total": "40000"}, "a target total is from 0 to the deal's list value of 30000 EUR, not 40000"),
        ({"lines": {"3": "5"}}, "the deal has no line 3; its lines are [1, 2]"),
        ({"discount": "101"}, "line 1's discount is a percentage from 0 to 100, not 101"),
    ]:  # fmt: skip
        bad = await acme.client.post(offers, json=body)
        assert (bad.status_code, bad.json()) == (422, error("input_invalid", message))
    assert (await acme.client.get(offers)).json() == []


async def test_another_tenants_deal_is_not_found(sales_member: Join, sales_state: ApiState) -> None:
    acme, initech = await sales_member("acme"), await sales_member("initech")
    await acme.client.put(f"{SALES}/policy", json=POLICY)
    await initech.client.put(f"{SALES}/policy", json=POLICY)
    deal = await seed_deal(sales_state, acme.tenant_id)
    made = (await acme.client.post(f"{SALES}/deals/{deal}/offers", json={"discount": "40"})).json()
    offers = f"{SALES}/deals/{deal}/offers"

    for response in [
        await initech.client.get(offers),
        await initech.client.post(offers, json={"discount": "5"}),
        await initech.client.post(f"{offers}/{made['customer']['id']}/approve"),
    ]:
        assert (response.status_code, response.json()) == (
            404,
            error("not_found", f"no deal '{deal}'"),
        )
    assert len((await acme.client.get(offers)).json()) == 2


def _differences(sync: Connection) -> list[Any]:
    ours = {nt.discount_policies.name, nt.offers.name}

    def only_ours(obj: Any, name: str | None, kind: str, reflected: bool, other: Any) -> bool:
        table = obj if kind == "table" else getattr(obj, "table", None)
        return getattr(table, "name", name) in ours

    declared = sa.MetaData()
    Base.metadata.tables["tenants"].to_metadata(declared)
    for table in t.metadata.tables.values():
        table.to_metadata(declared)
    context = MigrationContext.configure(
        sync, opts={"compare_type": True, "include_object": only_ours}
    )
    return list(compare_metadata(context, declared))


async def test_the_migration_creates_the_tables_as_declared(sales_state: ApiState) -> None:
    async with sales_state.engine.connect() as conn:
        assert await conn.run_sync(_differences) == []
