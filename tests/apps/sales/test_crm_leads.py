"""Leads through the real API: created by ids or inline, status transitions, filters and pages,
the score the SDR agent writes, and the CSV import with its per-row report."""

from __future__ import annotations

from dirty_equals import IsStr

from batonflow.api.deps import ApiState
from batonflow.apps.sales import leads
from tests.apps.sales.conftest import SALES, Join
from tests.apps.sales.test_crm_companies import error, post

CSV = {"content-type": "text/csv"}
GOOD = b"""company,domain,industry,employees,country,contact_name,email,title,source,owner,budget,currency,notes
Globex,globex.com,Energy,250,DE,Jane Doe,Jane@Globex.com,CTO,event,sam,50000,EUR,Wants a pilot
Initech,initech.com,Software,40,US,Bob Slydell,bob@initech.com,Consultant,,,,,
"""
BAD = b"""company,contact_name,email,employees,country,budget,currency
Globex,Jane Doe,jane@globex.com,250,DE,50000,EUR
Umbrella,Alice,alice-at-umbrella,ten,Germany,1e5,
,Nobody,nobody@nowhere.com,,,100,XYZ
Hooli,Gavin Belson,gavin@hooli.com,5000,US,,
Pied Piper,Richard
"""


async def test_create_inline_and_by_id(sales_member: Join) -> None:
    client = (await sales_member("acme")).client
    made = await post(
        client,
        "/leads",
        {
            "company": {"name": "Globex", "industry": "Energy"},
            "contact": {"name": "Jane Doe", "email": "Jane@Globex.com", "title": "CTO"},
            "source": "event",
            "owner": "sam",
            "notes": "Met at the fair",
            "budget": "50000",
            "currency": "eur",
        },
    )
    assert made == {
        "id": IsStr(),
        "company_id": IsStr(),
        "contact_id": IsStr(),
        "source": "event",
        "status": "new",
        "owner": "sam",
        "notes": "Met at the fair",
        "budget": "50000",
        "currency": "EUR",
        "score": None,
        "score_reasons": None,
        "company": {
            "id": made["company_id"],
            "name": "Globex",
            "domain": None,
            "industry": "Energy",
            "employees": None,
            "country": None,
        },
        "contact": {
            "id": made["contact_id"],
            "name": "Jane Doe",
            "email": "jane@globex.com",
            "title": "CTO",
            "phone": None,
        },
        "created_at": IsStr(),
        "updated_at": IsStr(),
    }
    again = await post(
        client,
        "/leads",
        {"company": {"name": "GLOBEX"}, "contact": {"name": "Jane", "email": "jane@globex.com"}},
    )
    assert (again["company_id"], again["contact_id"], again["source"]) == (
        made["company_id"],
        made["contact_id"],
        "web",
    )
    by_id = await post(client, "/leads", {"contact_id": made["contact_id"], "source": "referral"})
    assert (by_id["company_id"], by_id["contact"]) == (made["company_id"], made["contact"])
    assert (await client.get(f"{SALES}/leads/{by_id['id']}")).json() == by_id
    nobody = await client.post(f"{SALES}/leads", json={"company": {"name": "Globex"}})
    assert error(nobody) == (
        422,
        "a lead needs a contact: contact_id, or contact with name and email",
    )
    unknown = await client.post(f"{SALES}/leads", json={"contact_id": "nope"})
    assert error(unknown) == (404, "no contact 'nope'")
    no_currency = await client.post(
        f"{SALES}/leads", json={"contact_id": made["contact_id"], "budget": "10"}
    )
    assert error(no_currency) == (422, "a budget needs its currency (like EUR)")


async def test_status_transitions(sales_member: Join) -> None:
    client = (await sales_member("acme")).client
    lead = await post(
        client,
        "/leads",
        {"company": {"name": "Globex"}, "contact": {"name": "Jane", "email": "j@globex.com"}},
    )
    url = f"{SALES}/leads/{lead['id']}"
    skipped = await client.patch(url, json={"status": "converted"})
    assert error(skipped) == (
        422,
        "a new lead cannot become converted; it can become qualified or disqualified",
    )
    for status in ("qualified", "contacted", "converted"):
        moved = await client.patch(url, json={"status": status})
        assert moved.status_code == 200, moved.text
        assert moved.json()["status"] == status
    final = await client.patch(url, json={"status": "new"})
    assert error(final) == (
        422,
        "a converted lead cannot become new; it can become nothing (it is final)",
    )
    unknown = await client.patch(url, json={"status": "won"})
    assert unknown.status_code == 422
    notes = await client.patch(url, json={"notes": "Signed", "owner": "kim"})
    assert (notes.json()["notes"], notes.json()["owner"], notes.json()["status"]) == (
        "Signed",
        "kim",
        "converted",
    )


async def test_filters_pages_and_score(sales_member: Join, sales_state: ApiState) -> None:
    member = await sales_member("acme")
    client = member.client
    made = []
    for n, (source, owner) in enumerate(
        [("web", "sam"), ("event", "kim"), ("web", "kim"), ("web", "sam")]
    ):
        made.append(
            await post(
                client,
                "/leads",
                {
                    "company": {"name": f"Company {n}"},
                    "contact": {"name": f"Person {n}", "email": f"p{n}@c{n}.com"},
                    "source": source,
                    "owner": owner,
                    "notes": "needs SSO" if n == 2 else "",
                },
            )
        )
    reasons = [{"rule": "industry", "points": 30, "why": "Energy is a target industry"}]
    await sales_state.transact(
        lambda conn: leads.set_score(conn, member.tenant_id, made[2]["id"], 80, reasons)
    )
    await sales_state.transact(
        lambda conn: leads.set_status(conn, member.tenant_id, made[1]["id"], "qualified")
    )

    async def ids(**params: str | int) -> list[str]:
        page = (await client.get(f"{SALES}/leads", params=params)).json()
        return [lead["id"] for lead in page["items"]]

    assert await ids() == [m["id"] for m in reversed(made)]
    assert await ids(source="web", owner="sam") == [made[3]["id"], made[0]["id"]]
    assert await ids(status="qualified") == [made[1]["id"]]
    assert await ids(min_score=50) == [made[2]["id"]]
    assert await ids(q="sso") == [made[2]["id"]]
    assert await ids(q="p1@c1") == [made[1]["id"]]
    scored = (await client.get(f"{SALES}/leads/{made[2]['id']}")).json()
    assert (scored["score"], scored["score_reasons"]) == (80, reasons)
    first = (await client.get(f"{SALES}/leads", params={"limit": 3})).json()
    rest = (
        await client.get(f"{SALES}/leads", params={"limit": 3, "cursor": first["next_cursor"]})
    ).json()
    assert [x["id"] for x in first["items"] + rest["items"]] == [m["id"] for m in reversed(made)]
    assert rest["next_cursor"] is None


async def test_csv_import_reports_bad_rows_and_keeps_good_ones(sales_member: Join) -> None:
    client = (await sales_member("acme")).client
    done = await client.post(f"{SALES}/leads/import", content=GOOD, headers=CSV)
    assert done.status_code == 201, done.text
    assert done.json() == {
        "rows": 2,
        "leads_created": 2,
        "duplicates": 0,
        "companies_created": 2,
        "contacts_created": 2,
        "errors": [],
    }
    page = (await client.get(f"{SALES}/leads")).json()["items"]
    jane = next(lead for lead in page if lead["contact"]["email"] == "jane@globex.com")
    assert (jane["source"], jane["owner"], jane["budget"], jane["currency"], jane["notes"]) == (
        "event",
        "sam",
        "50000",
        "EUR",
        "Wants a pilot",
    )
    assert jane["company"] == {
        "id": jane["company_id"],
        "name": "Globex",
        "domain": "globex.com",
        "industry": "Energy",
        "employees": 250,
        "country": "DE",
    }
    twice = await client.post(
        f"{SALES}/leads/import",
        files={"file": ("leads.csv", GOOD, "text/csv")},
    )
    assert twice.json() == {
        "rows": 2,
        "leads_created": 0,
        "duplicates": 2,
        "companies_created": 0,
        "contacts_created": 0,
        "errors": [],
    }
    contacts = (await client.get(f"{SALES}/contacts")).json()["items"]
    assert sorted(c["email"] for c in contacts) == ["bob@initech.com", "jane@globex.com"]

    bad = await client.post(f"{SALES}/leads/import", content=BAD, headers=CSV)
    assert bad.status_code == 201, bad.text
    assert bad.json() == {
        "rows": 5,
        "leads_created": 2,
        "duplicates": 0,
        "companies_created": 1,
        "contacts_created": 1,
        "errors": [
            {
                "row": 3,
                "column": "email",
                "message": "'alice-at-umbrella' is not an email address (like jane@example.com)",
            },
            {
                "row": 3,
                "column": "employees",
                "message": "'ten' is not a count (a whole number, like 250)",
            },
            {
                "row": 3,
                "column": "country",
                "message": "'Germany' is not an ISO 3166 code (like DE)",
            },
            {"row": 3, "column": "budget", "message": "'1e5' is not a plain decimal (like 1234.5)"},
            {"row": 4, "column": "company", "message": "every row needs company"},
            {
                "row": 4,
                "column": "currency",
                "message": IsStr(regex=r"currency 'XYZ' is not one we bill in; use one of .*"),
            },
            {"row": 6, "column": "", "message": "2 cells where the header has 7; fix the row"},
        ],
    }
    names = [
        lead["company"]["name"] for lead in (await client.get(f"{SALES}/leads")).json()["items"]
    ]
    assert sorted(names) == ["Globex", "Globex", "Hooli", "Initech"]  # Globex: from "import"


async def test_csv_file_problems(sales_member: Join) -> None:
    client = (await sales_member("acme")).client
    columns = "company,domain,industry,employees,country,contact_name,email,title,source,"
    columns += "owner,budget,currency,notes"
    cases = [
        (b"name,email\nx,y\n", f"unknown column(s) 'name'; the columns are {columns}"),
        (b"company,email\nx,y@z.com\n", "the header lacks the required column(s) contact_name"),
        (b"company,contact_name,email\n", "the CSV has a header but no rows"),
        (b"\xff\xfe", "the CSV is not UTF-8 text; save it as UTF-8"),
    ]
    for data, message in cases:
        refused = await client.post(f"{SALES}/leads/import", content=data, headers=CSV)
        assert error(refused) == (422, message)
    assert (await client.get(f"{SALES}/leads")).json() == {"items": [], "next_cursor": None}
