"""Invoices through the API, on SQLite and PostgreSQL: drafts with their totals (tax rounded
once per invoice), from a deal's lines, issuing with gap-free numbers (also 20 at once), frozen
once issued, void keeping the number, pages and filters, payments, overdue, and tenant
isolation."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from dirty_equals import IsStr

from batonflow.api.deps import ApiState
from batonflow.apps.sales import invoices
from batonflow.store.db import Conn
from tests.apps.sales import finance_records as records
from tests.apps.sales.conftest import SALES, Join

TODAY = datetime.now(UTC).date()


def line(description: str, quantity: str, price: str, discount: str = "0") -> dict[str, Any]:
    return {
        "description": description,
        "quantity": quantity,
        "unit_price": price,
        "discount": discount,
    }


def shown(
    position: int, description: str, quantity: str, price: str, discount: str, net: str
) -> dict[str, Any]:
    return {
        "position": position,
        "product_id": None,
        "description": description,
        "quantity": quantity,
        "unit_price": price,
        "discount": discount,
        "net": net,
    }


async def draft(client: Any, company_id: str, **more: Any) -> dict[str, Any]:
    body = {
        "company_id": company_id,
        "currency": "EUR",
        "lines": [line("Widget", "1", "10")],
        "tax_rate": "0.2",
    } | more
    made = await client.post(f"{SALES}/invoices", json=body)
    assert made.status_code == 201, made.text
    return dict(made.json())


async def test_draft_totals_issue_freeze_and_void(
    sales_member: Join, sales_state: ApiState
) -> None:
    acme = await sales_member("acme")
    company_id = await records.company(sales_state.db, acme.tenant_id)
    lines = [line("Bolt", "1", "0.335") for _ in range(3)]
    made = await draft(acme.client, company_id, lines=lines, tax_rate="0.075", notes="Thanks")
    assert made == {
        "id": IsStr(),
        "deal_id": None,
        "company_id": company_id,
        "number": None,
        "currency": "EUR",
        "status": "draft",
        "terms_days": 30,
        "issue_date": None,
        "due_date": None,
        "tax_rate": "0.075",
        # each line 0.335 -> 0.34; tax on 1.02 is 0.0765 -> 0.08 (per line it would be 0.09)
        "subtotal": "1.02",
        "tax": "0.08",
        "total": "1.10",
        "paid": "0.00",
        "balance": "1.10",
        "notes": "Thanks",
        "created_at": IsStr(),
        "updated_at": IsStr(),
        "lines": [shown(n, "Bolt", "1", "0.335", "0", "0.34") for n in (1, 2, 3)],
        "payments": [],
    }
    changed = await acme.client.put(
        f"{SALES}/invoices/{made['id']}/lines",
        json={"lines": [line("Bolt", "3", "0.335")], "tax_rate": "0.075"},
    )
    assert changed.status_code == 200, changed.text
    assert [changed.json()[k] for k in ("subtotal", "tax", "total")] == ["1.01", "0.08", "1.09"]

    issued = await acme.client.post(f"{SALES}/invoices/{made['id']}/issue")
    assert issued.status_code == 200, issued.text
    assert {k: issued.json()[k] for k in ("number", "status", "issue_date", "due_date")} == {
        "number": f"INV-{TODAY.year}-0001",
        "status": "sent",
        "issue_date": TODAY.isoformat(),
        "due_date": (TODAY + timedelta(days=30)).isoformat(),
    }
    frozen = await acme.client.put(
        f"{SALES}/invoices/{made['id']}/lines", json={"lines": [line("Bolt", "1", "1")]}
    )
    assert (frozen.status_code, frozen.json()["error"]["message"]) == (
        409,
        f"invoice INV-{TODAY.year}-0001 is issued: its lines and totals are frozen "
        "(void it and bill a new one)",
    )
    again = await acme.client.post(f"{SALES}/invoices/{made['id']}/issue")
    assert again.status_code == 409, again.text

    voided = await acme.client.post(f"{SALES}/invoices/{made['id']}/void")
    assert (voided.json()["status"], voided.json()["number"]) == ("void", f"INV-{TODAY.year}-0001")
    second = await draft(acme.client, company_id)
    issued = await acme.client.post(f"{SALES}/invoices/{second['id']}/issue")
    assert issued.json()["number"] == f"INV-{TODAY.year}-0002"


async def test_from_deal_copies_its_lines_in_yen(sales_member: Join, sales_state: ApiState) -> None:
    acme = await sales_member("acme")
    company_id = await records.company(sales_state.db, acme.tenant_id)
    deal_id = await records.deal(
        sales_state.db,
        acme.tenant_id,
        company_id,
        [("Licences", "3", "333.5", "0"), ("Training", "2", "50000", "0.1")],
        currency="JPY",
    )
    made = await acme.client.post(
        f"{SALES}/invoices/from-deal",
        json={"deal_id": deal_id, "tax_rate": "0.1", "terms_days": 14},
    )
    assert made.status_code == 201, made.text
    body = made.json()
    assert {k: body[k] for k in ("deal_id", "company_id", "currency", "terms_days")} == {
        "deal_id": deal_id,
        "company_id": company_id,
        "currency": "JPY",
        "terms_days": 14,
    }
    # 3 x 333.5 = 1000.5 -> 1001; 2 x 50000 less 10 % = 90000; tax 10 % of 91001 = 9100.1
    assert [(x["description"], x["net"]) for x in body["lines"]] == [
        ("Licences", "1001"),
        ("Training", "90000"),
    ]
    assert [body[k] for k in ("subtotal", "tax", "total")] == ["91001", "9100", "100101"]

    empty = await records.deal(sales_state.db, acme.tenant_id, company_id, [])
    refused = await acme.client.post(f"{SALES}/invoices/from-deal", json={"deal_id": empty})
    assert (refused.status_code, refused.json()["error"]["message"]) == (
        422,
        f"deal '{empty}' has no line items to invoice; add some first",
    )


async def test_from_deal_bills_the_discounts_the_negotiation_agreed(
    sales_member: Join, sales_state: ApiState
) -> None:
    acme = await sales_member("acme")
    company_id = await records.company(sales_state.db, acme.tenant_id)
    deal_id = await records.deal(
        sales_state.db,
        acme.tenant_id,
        company_id,
        [("Licences", "10", "100", "0"), ("Training", "1", "500", "0")],
    )
    policy = {
        "bands": [{"below": None, "max_discount": "10"}],
        "reviewer_above": "10",
        "admin_above": "20",
    }
    assert (await acme.client.put(f"{SALES}/policy", json=policy)).status_code == 200
    # 5 % off every line is within policy: we accept, and the invoice bills those terms.
    agreed = await acme.client.post(f"{SALES}/deals/{deal_id}/offers", json={"discount": "5"})
    assert agreed.status_code == 201, agreed.text
    assert agreed.json()["response"]["action"] == "accept"
    made = await acme.client.post(f"{SALES}/invoices/from-deal", json={"deal_id": deal_id})
    assert made.status_code == 201, made.text
    body = made.json()
    assert [(x["description"], x["discount"], x["net"]) for x in body["lines"]] == [
        ("Licences", "0.05", "950.00"),
        ("Training", "0.05", "475.00"),
    ]
    assert [body[k] for k in ("subtotal", "tax", "total")] == ["1425.00", "0.00", "1425.00"]


async def test_twenty_concurrent_issues_take_numbers_one_to_twenty(
    sales_member: Join, sales_state: ApiState
) -> None:
    acme = await sales_member("acme")
    company_id = await records.company(sales_state.db, acme.tenant_id)
    drafts = [await draft(acme.client, company_id) for _ in range(20)]
    answers = await asyncio.gather(
        *(acme.client.post(f"{SALES}/invoices/{d['id']}/issue") for d in drafts)
    )
    assert [a.status_code for a in answers] == [200] * 20
    numbers = sorted(a.json()["number"] for a in answers)
    assert numbers == [f"INV-{TODAY.year}-{n:04d}" for n in range(1, 21)]

    other = await sales_member("globex")  # another tenant counts from 1
    theirs = await records.company(sales_state.db, other.tenant_id)
    mine = await draft(other.client, theirs)
    issued = await other.client.post(f"{SALES}/invoices/{mine['id']}/issue")
    assert issued.json()["number"] == f"INV-{TODAY.year}-0001"


async def test_a_failed_issue_leaves_no_gap(sales_member: Join, sales_state: ApiState) -> None:
    acme = await sales_member("acme")
    company_id = await records.company(sales_state.db, acme.tenant_id)
    first = await draft(acme.client, company_id)

    async def issue_then_fail(conn: Conn) -> None:
        await invoices.issue(conn, acme.tenant_id, first["id"], today=TODAY, now=datetime.now(UTC))
        raise RuntimeError("the transaction fails after the number was taken")

    with pytest.raises(RuntimeError, match="fails after the number was taken"):
        await sales_state.transact(issue_then_fail)
    issued = await acme.client.post(f"{SALES}/invoices/{first['id']}/issue")
    assert issued.json()["number"] == f"INV-{TODAY.year}-0001"


async def test_payments_until_paid_and_overpayment(
    sales_member: Join, sales_state: ApiState
) -> None:
    acme = await sales_member("acme")
    company_id = await records.company(sales_state.db, acme.tenant_id)
    made = await draft(acme.client, company_id)  # 10 + 20 % = 12.00
    pay = f"{SALES}/invoices/{made['id']}/payments"
    early = await acme.client.post(pay, json={"amount": "5"})
    assert (early.status_code, early.json()["error"]["message"]) == (
        409,
        f"invoice {made['id']} is draft; only an issued, unpaid invoice takes payments",
    )
    number = (await acme.client.post(f"{SALES}/invoices/{made['id']}/issue")).json()["number"]
    part = await acme.client.post(
        pay, json={"amount": "5", "paid_on": "2026-03-05", "reference": "wire 1"}
    )
    assert part.status_code == 201, part.text
    assert {k: part.json()[k] for k in ("status", "paid", "balance")} == {
        "status": "sent",
        "paid": "5.00",
        "balance": "7.00",
    }
    fine = await acme.client.post(pay, json={"amount": "0.001"})
    assert (fine.status_code, fine.json()["error"]["message"]) == (
        422,
        "0.001 has more decimals than EUR has; round it to the currency",
    )
    over = await acme.client.post(pay, json={"amount": "7.01"})
    assert (over.status_code, over.json()["error"]["message"]) == (
        422,
        f"7.01 EUR is more than the balance of invoice {number}, 7.00 EUR; "
        "record at most the balance",
    )
    rest = await acme.client.post(pay, json={"amount": "7", "reference": "wire 2"})
    assert {k: rest.json()[k] for k in ("status", "paid", "balance")} == {
        "status": "paid",
        "paid": "12.00",
        "balance": "0.00",
    }
    assert rest.json()["payments"] == [
        {
            "id": IsStr(),
            "amount": "5.00",
            "paid_on": "2026-03-05",
            "reference": "wire 1",
            "actor": "admin@acme.example",
            "created_at": IsStr(),
        },
        {
            "id": IsStr(),
            "amount": "7.00",
            "paid_on": TODAY.isoformat(),
            "reference": "wire 2",
            "actor": "admin@acme.example",
            "created_at": IsStr(),
        },
    ]
    void = await acme.client.post(f"{SALES}/invoices/{made['id']}/void")
    assert void.status_code == 409, void.text


async def test_mark_overdue_only_touches_issued_unpaid_past_due(
    sales_member: Join, sales_state: ApiState
) -> None:
    acme = await sales_member("acme")
    company_id = await records.company(sales_state.db, acme.tenant_id)
    due_soon = await draft(acme.client, company_id, terms_days=0)
    still_draft = await draft(acme.client, company_id, terms_days=0)
    await acme.client.post(f"{SALES}/invoices/{due_soon['id']}/issue")
    today = TODAY
    marked = await sales_state.transact(
        lambda conn: invoices.mark_overdue(conn, acme.tenant_id, today)
    )
    assert marked == 0  # due today: not yet overdue
    later = today + timedelta(days=1)
    marked = await sales_state.transact(
        lambda conn: invoices.mark_overdue(conn, acme.tenant_id, later)
    )
    assert marked == 1
    got = [
        (await acme.client.get(f"{SALES}/invoices/{i['id']}")).json()["status"]
        for i in (due_soon, still_draft)
    ]
    assert got == ["overdue", "draft"]


async def test_pages_filters_and_other_tenants(sales_member: Join, sales_state: ApiState) -> None:
    acme = await sales_member("acme")
    one = await records.company(sales_state.db, acme.tenant_id, "Globex")
    two = await records.company(sales_state.db, acme.tenant_id, "Initech")
    deal_id = await records.deal(sales_state.db, acme.tenant_id, two, [("Seat", "1", "9", "0")])
    made = [await draft(acme.client, one) for _ in range(3)]
    by_deal = await acme.client.post(f"{SALES}/invoices/from-deal", json={"deal_id": deal_id})
    await acme.client.post(f"{SALES}/invoices/{made[0]['id']}/issue")

    seen, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await acme.client.get(f"{SALES}/invoices", params=params)).json()
        seen += [i["id"] for i in page["items"]]
        assert all("lines" not in i or i["lines"] is None for i in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [by_deal.json()["id"]] + [m["id"] for m in reversed(made)]

    def ids(params: dict[str, str]) -> Any:
        return acme.client.get(f"{SALES}/invoices", params=params)

    assert [i["id"] for i in (await ids({"status": "sent"})).json()["items"]] == [made[0]["id"]]
    assert [i["id"] for i in (await ids({"company_id": two})).json()["items"]] == [
        by_deal.json()["id"]
    ]
    assert [i["id"] for i in (await ids({"deal_id": deal_id})).json()["items"]] == [
        by_deal.json()["id"]
    ]
    bad = await ids({"status": "lost"})
    assert bad.status_code == 422, bad.text

    other = await sales_member("umbrella")
    for path in ("", "/pdf"):
        hidden = await other.client.get(f"{SALES}/invoices/{made[0]['id']}{path}")
        assert hidden.status_code == 404, hidden.text
    assert (await other.client.get(f"{SALES}/invoices")).json() == {
        "items": [],
        "next_cursor": None,
    }
    stolen = await other.client.post(f"{SALES}/invoices/{made[1]['id']}/issue")
    assert stolen.status_code == 404
    theirs = await other.client.post(
        f"{SALES}/invoices",
        json={"company_id": one, "currency": "EUR", "lines": [line("x", "1", "1")]},
    )
    assert (theirs.status_code, theirs.json()["error"]["message"]) == (
        422,
        f"no company '{one}'; bill one of the tenant's companies",
    )
    own = await records.company(sales_state.db, other.tenant_id)
    deal_line = (await acme.client.get(f"{SALES}/invoices/{by_deal.json()['id']}")).json()
    product_id = deal_line["lines"][0]["product_id"]
    cross: list[tuple[dict[str, Any], str]] = [
        ({"deal_id": deal_id}, f"no deal '{deal_id}'; leave deal_id out or name a deal of yours"),
        (
            {"lines": [line("x", "1", "1") | {"product_id": product_id}]},
            f"line 1: no product '{product_id}'",
        ),
    ]
    for change, message in cross:
        body: dict[str, Any] = {
            "company_id": own,
            "currency": "EUR",
            "lines": [line("x", "1", "1")],
        }
        body |= change
        refused = await other.client.post(f"{SALES}/invoices", json=body)
        assert (refused.status_code, refused.json()["error"]["message"]) == (422, message)


async def test_bad_input_says_what_to_fix(sales_member: Join, sales_state: ApiState) -> None:
    acme = await sales_member("acme")
    company_id = await records.company(sales_state.db, acme.tenant_id)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"currency": "XYZ"}, "currency 'XYZ' is not one we bill in"),
        ({"tax_rate": "7.5"}, "a tax rate is a fraction from 0 to 1 (0.075 is 7.5 %), not 7.5"),
        ({"lines": [line("Bolt", "0", "1")]}, "line 1: the quantity must be above 0"),
        ({"lines": [line("Bolt", "1", "1", "1.5")]}, "line 1: a discount is a fraction"),
    ]
    for change, message in cases:
        body: dict[str, Any] = {
            "company_id": company_id,
            "currency": "EUR",
            "lines": [line("Bolt", "1", "1")],
        } | change
        answer = await acme.client.post(f"{SALES}/invoices", json=body)
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"]["message"].startswith(message), answer.json()


async def test_numbers_start_again_each_year(sales_member: Join, sales_state: ApiState) -> None:
    acme = await sales_member("acme")
    company_id = await records.company(sales_state.db, acme.tenant_id)
    days = [date(2026, 12, 30), date(2026, 12, 31), date(2027, 1, 1), date(2027, 1, 2)]
    numbers = []
    for day in days:
        made = await draft(acme.client, company_id, terms_days=14)

        async def work(conn: Conn, invoice_id: str = made["id"], on: date = day) -> Any:
            return await invoices.issue(
                conn, acme.tenant_id, invoice_id, today=on, now=datetime.now(UTC)
            )

        issued = await sales_state.transact(work)
        numbers.append((issued["number"], issued["issue_date"], issued["due_date"]))
    assert numbers == [
        ("INV-2026-0001", date(2026, 12, 30), date(2027, 1, 13)),
        ("INV-2026-0002", date(2026, 12, 31), date(2027, 1, 14)),
        ("INV-2027-0001", date(2027, 1, 1), date(2027, 1, 15)),
        ("INV-2027-0002", date(2027, 1, 2), date(2027, 1, 16)),
    ]
