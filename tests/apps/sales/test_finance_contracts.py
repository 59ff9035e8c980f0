"""Contracts through the API, on SQLite and PostgreSQL: templates, a deal's contract rendered in
the sandbox with the agreed terms, each render a new version, the status lifecycle (422 for a
move it does not allow), pages, the PDF, and other tenants."""

from __future__ import annotations

import io
from typing import Any

from dirty_equals import IsStr
from pypdf import PdfReader

from batonflow.api.deps import ApiState
from tests.apps.sales import finance_records as records
from tests.apps.sales.conftest import SALES, Join

TEMPLATE = """Master services agreement: {{ deal.title }}
Between the supplier and {{ company.name }} ({{ contact.name }}).
{% for line in lines %}- {{ line.description }}: {{ line.quantity }} x {{ line.unit_price }} = {{ line.net }} {{ deal.currency }}
{% endfor %}Total: {{ total }} {{ deal.currency }}, payable within {{ terms.payment_days }} days."""


async def setup(member: Any, state: ApiState) -> tuple[str, str]:
    company_id = await records.company(state.db, member.tenant_id)
    deal_id = await records.deal(
        state.db,
        member.tenant_id,
        company_id,
        [("Licences", "10", "120", "0.1"), ("Onboarding", "1", "2500", "0")],
        title="Rollout",
    )
    made = await member.client.post(
        f"{SALES}/contract-templates", json={"name": "MSA", "body": TEMPLATE}
    )
    assert made.status_code == 201, made.text
    return deal_id, made.json()["id"]


def terms_of(contract: dict[str, Any]) -> list[tuple[int, str]]:
    return [(v["version"], v["terms"]) for v in contract["versions"]]


EXPECTED = """Master services agreement: Rollout
Between the supplier and Globex (Hank Scorpio).
- Licences: 10 x 120 = 1080.00 EUR
- Onboarding: 1 x 2500 = 2500.00 EUR
Total: 3580.00 EUR, payable within {days} days."""


async def test_render_versions_and_lifecycle(sales_member: Join, sales_state: ApiState) -> None:
    acme = await sales_member("acme")
    deal_id, template_id = await setup(acme, sales_state)
    made = await acme.client.post(
        f"{SALES}/contracts",
        json={"deal_id": deal_id, "template_id": template_id, "terms": {"payment_days": 30}},
    )
    assert made.status_code == 201, made.text
    contract = made.json()
    assert contract == {
        "id": IsStr(),
        "deal_id": deal_id,
        "template_id": template_id,
        "title": "Contract: Rollout",
        "status": "draft",
        "version": 1,
        "created_at": IsStr(),
        "updated_at": IsStr(),
        "versions": [
            {
                "version": 1,
                "terms": EXPECTED.format(days=30),
                "actor": "admin@acme.example",
                "reason": "first draft",
                "created_at": IsStr(),
            }
        ],
    }
    path = f"{SALES}/contracts/{contract['id']}"

    async def move(status: str) -> Any:
        return await acme.client.post(f"{path}/status", json={"status": status})

    illegal = await move("signed")
    assert (illegal.status_code, illegal.json()["error"]["message"]) == (
        422,
        "a contract in draft can move to in_review, not to signed",
    )
    assert (await move("in_review")).json()["status"] == "in_review"
    again = await acme.client.post(
        f"{path}/render",
        json={"reason": "customer asked for 45 days", "terms": {"payment_days": 45}},
    )
    assert again.status_code == 200, again.text
    assert (again.json()["status"], again.json()["version"]) == ("draft", 2)
    assert terms_of(again.json()) == [(1, EXPECTED.format(days=30)), (2, EXPECTED.format(days=45))]
    for status in ("in_review", "approved", "sent", "signed"):
        moved = await move(status)
        assert moved.json()["status"] == status, moved.text
    final = await move("draft")
    assert (final.status_code, final.json()["error"]["message"]) == (
        422,
        "a contract in signed can move to nowhere (it is final), not to draft",
    )
    frozen = await acme.client.post(f"{path}/render", json={"reason": "late change"})
    assert frozen.status_code == 409, frozen.text

    pdf = await acme.client.get(f"{path}/pdf")
    assert (pdf.status_code, pdf.headers["content-type"]) == (200, "application/pdf")
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "Contract: Rollout" in text
    assert "Total: 3580.00 EUR, payable within 45 days." in text
    assert "Status signed" in " ".join(text.split())


async def test_templates_that_cannot_render_say_why(
    sales_member: Join, sales_state: ApiState
) -> None:
    acme = await sales_member("acme")
    deal_id, template_id = await setup(acme, sales_state)
    broken = await acme.client.post(
        f"{SALES}/contract-templates", json={"name": "Broken", "body": "{% for x in %}"}
    )
    assert broken.status_code == 422, broken.text
    assert broken.json()["error"]["message"].startswith("the template text does not parse")
    twice = await acme.client.post(
        f"{SALES}/contract-templates", json={"name": "MSA", "body": "plain text"}
    )
    assert twice.status_code == 409, twice.text

    # the template reads terms.payment_days, which these terms lack
    missing = await acme.client.post(
        f"{SALES}/contracts", json={"deal_id": deal_id, "template_id": template_id}
    )
    assert missing.status_code == 422, missing.text
    assert missing.json()["error"]["message"].startswith("the contract template cannot be rendered")
    sneaky = await acme.client.post(
        f"{SALES}/contract-templates",
        json={"name": "Sneaky", "body": "{{ deal.__class__.__mro__ }}"},
    )
    refused = await acme.client.post(
        f"{SALES}/contracts",
        json={"deal_id": deal_id, "template_id": sneaky.json()["id"]},
    )
    assert refused.status_code == 422, refused.text


async def test_pages_filters_and_other_tenants(sales_member: Join, sales_state: ApiState) -> None:
    acme = await sales_member("acme")
    deal_id, template_id = await setup(acme, sales_state)
    made = []
    for days in (10, 20, 30):
        answer = await acme.client.post(
            f"{SALES}/contracts",
            json={
                "deal_id": deal_id,
                "template_id": template_id,
                "title": f"Contract {days}",
                "terms": {"payment_days": days},
            },
        )
        made.append(answer.json())
    await acme.client.post(
        f"{SALES}/contracts/{made[0]['id']}/status", json={"status": "in_review"}
    )
    first = (await acme.client.get(f"{SALES}/contracts", params={"limit": 2})).json()
    rest = (
        await acme.client.get(
            f"{SALES}/contracts", params={"limit": 2, "cursor": first["next_cursor"]}
        )
    ).json()
    assert [c["title"] for c in first["items"] + rest["items"]] == [
        "Contract 30",
        "Contract 20",
        "Contract 10",
    ]
    assert rest["next_cursor"] is None
    assert all(c["versions"] is None for c in first["items"])
    reviewing = (await acme.client.get(f"{SALES}/contracts", params={"status": "in_review"})).json()
    assert [c["id"] for c in reviewing["items"]] == [made[0]["id"]]

    other = await sales_member("umbrella")
    for path in (
        f"contracts/{made[0]['id']}",
        f"contracts/{made[0]['id']}/pdf",
        f"contract-templates/{template_id}",
    ):
        assert (await other.client.get(f"{SALES}/{path}")).status_code == 404
    assert (await other.client.get(f"{SALES}/contracts")).json()["items"] == []
    assert (await other.client.get(f"{SALES}/contract-templates")).json() == []
    theirs = await other.client.post(
        f"{SALES}/contracts", json={"deal_id": deal_id, "template_id": template_id}
    )
    assert theirs.status_code == 404, theirs.text


async def test_an_approved_contract_rendered_again_goes_back_to_draft(
    sales_member: Join, sales_state: ApiState
) -> None:
    acme = await sales_member("acme")
    deal_id, template_id = await setup(acme, sales_state)
    made = await acme.client.post(
        f"{SALES}/contracts",
        json={"deal_id": deal_id, "template_id": template_id, "terms": {"payment_days": 30}},
    )
    path = f"{SALES}/contracts/{made.json()['id']}"
    for status in ("in_review", "approved"):
        await acme.client.post(f"{path}/status", json={"status": status})
    again = await acme.client.post(
        f"{path}/render", json={"reason": "net 60 agreed", "terms": {"payment_days": 60}}
    )
    body = again.json()
    assert (body["status"], body["version"]) == ("draft", 2)
    assert [(v["version"], v["reason"]) for v in body["versions"]] == [
        (1, "first draft"),
        (2, "net 60 agreed"),
    ]
    assert body["versions"][1]["terms"].endswith("payable within 60 days.")
    back = await acme.client.post(f"{path}/status", json={"status": "sent"})
    assert (back.status_code, back.json()["error"]["message"]) == (
        422,
        "a contract in draft can move to in_review, not to sent",
    )
