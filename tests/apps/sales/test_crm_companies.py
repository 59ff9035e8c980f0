"""Companies and contacts through the real API: create, get, patch, delete (refused while deals
or leads hold them), keyset pages newest first with search, and unique emails."""

from __future__ import annotations

from typing import Any

import httpx
from dirty_equals import IsDatetime, IsStr

from tests.apps.sales.conftest import SALES, Join

STAMPS = {"id": IsStr(), "created_at": IsStr(), "updated_at": IsStr()}


async def post(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    made = await client.post(f"{SALES}{path}", json=body)
    assert made.status_code == 201, made.text
    result: dict[str, Any] = made.json()
    return result


def error(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["message"]


async def test_company_crud(sales_member: Join) -> None:
    client = (await sales_member("acme")).client
    made = await post(
        client,
        "/companies",
        {"name": "Globex", "domain": "Globex.COM", "employees": 250, "country": "de"},
    )
    assert made == {
        "name": "Globex",
        "domain": "globex.com",
        "industry": None,
        "employees": 250,
        "country": "DE",
        **STAMPS,
    }
    got = await client.get(f"{SALES}/companies/{made['id']}")
    assert got.json() == made
    again = await client.post(f"{SALES}/companies", json={"name": "globex"})
    assert error(again) == (409, f"a company named 'Globex' exists ({made['id']}); use it")
    bad = await client.post(f"{SALES}/companies", json={"name": "X", "country": "Germany"})
    assert error(bad) == (422, "country 'Germany' is not an ISO 3166 code (like DE)")

    patched = await client.patch(
        f"{SALES}/companies/{made['id']}", json={"industry": "Energy", "domain": None}
    )
    assert patched.status_code == 200, patched.text
    assert patched.json() == made | {
        "industry": "Energy",
        "domain": None,
        "updated_at": IsStr(),
    }
    gone = await client.delete(f"{SALES}/companies/{made['id']}")
    assert gone.status_code == 204
    assert error(await client.get(f"{SALES}/companies/{made['id']}")) == (
        404,
        f"no company '{made['id']}'",
    )


async def test_pages_newest_first_with_search(sales_member: Join) -> None:
    client = (await sales_member("acme")).client
    names = ["Alpha Ltd", "Beta GmbH", "Gamma Inc", "Delta Ltd", "Epsilon SA"]
    for name in names:
        await post(client, "/companies", {"name": name})
    first = (await client.get(f"{SALES}/companies", params={"limit": 2})).json()
    assert [c["name"] for c in first["items"]] == ["Epsilon SA", "Delta Ltd"]
    second = (
        await client.get(f"{SALES}/companies", params={"limit": 2, "cursor": first["next_cursor"]})
    ).json()
    third = (
        await client.get(f"{SALES}/companies", params={"limit": 2, "cursor": second["next_cursor"]})
    ).json()
    assert [c["name"] for c in second["items"] + third["items"]] == [
        "Gamma Inc",
        "Beta GmbH",
        "Alpha Ltd",
    ]
    assert third["next_cursor"] is None
    found = (await client.get(f"{SALES}/companies", params={"q": "LTD"})).json()
    assert [c["name"] for c in found["items"]] == ["Delta Ltd", "Alpha Ltd"]
    junk = await client.get(f"{SALES}/companies", params={"cursor": "nonsense"})
    assert junk.status_code == 422


async def test_contacts_unique_email_and_filters(sales_member: Join) -> None:
    client = (await sales_member("acme")).client
    globex = await post(client, "/companies", {"name": "Globex"})
    initech = await post(client, "/companies", {"name": "Initech"})
    jane = await post(
        client,
        "/contacts",
        {"name": "Jane Doe", "email": " Jane@Globex.com ", "company_id": globex["id"]},
    )
    assert jane == {
        "name": "Jane Doe",
        "email": "jane@globex.com",
        "company_id": globex["id"],
        "title": None,
        "phone": None,
        **STAMPS,
    }
    twice = await client.post(
        f"{SALES}/contacts", json={"name": "J. Doe", "email": "JANE@globex.com"}
    )
    assert error(twice) == (
        409,
        f"the email jane@globex.com belongs to contact {jane['id']} (Jane Doe); "
        "update that contact instead",
    )
    bad = await client.post(f"{SALES}/contacts", json={"name": "Bob", "email": "bob-at-home"})
    assert error(bad) == (422, "'bob-at-home' is not an email address (like jane@example.com)")
    bob = await post(
        client,
        "/contacts",
        {"name": "Bob Slydell", "email": "bob@initech.com", "company_id": initech["id"]},
    )
    by_company = (
        await client.get(f"{SALES}/contacts", params={"company_id": initech["id"]})
    ).json()
    assert by_company == {"items": [bob], "next_cursor": None}
    by_email = (await client.get(f"{SALES}/contacts", params={"q": "globex"})).json()
    assert [c["id"] for c in by_email["items"]] == [jane["id"]]
    taken = await client.patch(f"{SALES}/contacts/{bob['id']}", json={"email": "jane@globex.com"})
    assert taken.status_code == 409
    renamed = await client.patch(f"{SALES}/contacts/{bob['id']}", json={"title": "Consultant"})
    assert renamed.json() == bob | {"title": "Consultant", "updated_at": IsStr()}
    assert IsDatetime(iso_string=True) == renamed.json()["updated_at"]
    assert (await client.delete(f"{SALES}/contacts/{bob['id']}")).status_code == 204
    assert (await client.get(f"{SALES}/contacts/{bob['id']}")).status_code == 404


async def test_delete_refused_while_leads_or_deals_hold_it(sales_member: Join) -> None:
    client = (await sales_member("acme")).client
    lead = await post(
        client,
        "/leads",
        {
            "company": {"name": "Globex"},
            "contact": {"name": "Jane Doe", "email": "jane@globex.com"},
        },
    )
    deal = await post(
        client,
        "/deals",
        {"title": "Globex rollout", "company_id": lead["company_id"], "currency": "EUR"},
    )
    refused = await client.delete(f"{SALES}/companies/{lead['company_id']}")
    assert error(refused) == (
        409,
        f"the company has deal(s) {deal['id']} and lead(s) {lead['id']}; delete or move them first",
    )
    contact = await client.delete(f"{SALES}/contacts/{lead['contact_id']}")
    assert error(contact) == (
        409,
        f"the contact is on lead(s) {lead['id']}; delete them or change their contact first",
    )
    assert (await client.delete(f"{SALES}/deals/{deal['id']}")).status_code == 204
    assert (await client.delete(f"{SALES}/leads/{lead['id']}")).status_code == 204
    assert (await client.delete(f"{SALES}/companies/{lead['company_id']}")).status_code == 204
    assert (await client.get(f"{SALES}/contacts/{lead['contact_id']}")).status_code == 404
