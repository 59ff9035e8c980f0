"""Tenant isolation of the finance routes, on both databases: another tenant's admin calls every
finance route that names an object by id on acme's objects, and each answer is the 404 an id that
does not exist gets; acme's objects read back as before. Every such route must have its probe
here (checked against the app's routes)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

from batonflow.api.deps import ApiState
from tests.api.conftest import client_for
from tests.apps.sales import finance_records as records
from tests.apps.sales.conftest import SALES, Join

LINES = {"lines": [{"description": "x", "quantity": "1", "unit_price": "1"}]}
# (method, path) -> the JSON body it is called with
PROBES: dict[tuple[str, str], dict[str, Any] | None] = {
    ("GET", "/invoices/{invoice_id}"): None,
    ("GET", "/invoices/{invoice_id}/pdf"): None,
    ("GET", "/invoices/{invoice_id}/reminders"): None,
    ("GET", "/invoices/{invoice_id}/timeline"): None,
    ("PUT", "/invoices/{invoice_id}/lines"): LINES,
    ("POST", "/invoices/{invoice_id}/issue"): None,
    ("POST", "/invoices/{invoice_id}/void"): None,
    ("POST", "/invoices/{invoice_id}/payments"): {"amount": "1"},
    ("GET", "/contract-templates/{template_id}"): None,
    ("GET", "/contracts/{contract_id}"): None,
    ("GET", "/contracts/{contract_id}/pdf"): None,
    ("GET", "/contracts/{contract_id}/timeline"): None,
    ("POST", "/contracts/{contract_id}/render"): {"reason": "probe", "terms": {}},
    ("POST", "/contracts/{contract_id}/status"): {"status": "in_review"},
}
FINANCE_IDS = ("{invoice_id}", "{contract_id}", "{template_id}")


def finance_routes(app: FastAPI) -> set[tuple[str, str]]:
    paths = [(route.path or "", route.methods or ()) for route in iter_route_contexts(app.routes)]
    return {
        (method, path.removeprefix(SALES))
        for path, methods in paths
        if any(p in path for p in FINANCE_IDS)
        for method in methods
    }


async def test_another_tenant_gets_404_on_every_finance_route(
    sales_api: FastAPI, sales_member: Join, sales_state: ApiState
) -> None:
    assert finance_routes(sales_api) == set(PROBES)
    acme = await sales_member("acme")
    company_id = await records.company(sales_state.db, acme.tenant_id)
    deal_id = await records.deal(sales_state.db, acme.tenant_id, company_id, [("S", "1", "5", "0")])
    draft = (
        await acme.client.post(f"{SALES}/invoices/from-deal", json={"deal_id": deal_id})
    ).json()
    issued = (
        await acme.client.post(f"{SALES}/invoices/from-deal", json={"deal_id": deal_id})
    ).json()
    await acme.client.post(f"{SALES}/invoices/{issued['id']}/issue")
    template = (
        await acme.client.post(
            f"{SALES}/contract-templates", json={"name": "T", "body": "{{ deal.title }}"}
        )
    ).json()
    contract = (
        await acme.client.post(
            f"{SALES}/contracts", json={"deal_id": deal_id, "template_id": template["id"]}
        )
    ).json()
    ids = {"template_id": template["id"], "contract_id": contract["id"]}
    before = {
        path: (await acme.client.get(f"{SALES}{path}")).json()
        for path in (
            f"/invoices/{draft['id']}",
            f"/invoices/{issued['id']}",
            f"/contracts/{contract['id']}",
            f"/contract-templates/{template['id']}",
        )
    }

    globex = await sales_member("globex")
    for (method, path), body in PROBES.items():
        for invoice_id in (draft["id"], issued["id"]) if "{invoice_id}" in path else ("-",):
            url = SALES + path.format(invoice_id=invoice_id, **ids)
            theirs = await globex.client.request(method, url, json=body)
            missing = await globex.client.request(
                method,
                SALES + path.format(invoice_id="nope", contract_id="nope", template_id="nope"),
                json=body,
            )
            assert (theirs.status_code, method, path) == (404, method, path), theirs.text
            assert theirs.json()["error"]["code"] == missing.json()["error"]["code"] == "not_found"
    after = {path: (await acme.client.get(f"{SALES}{path}")).json() for path in before}
    assert after == before


async def test_reading_needs_runs_read_and_changing_runs_write(
    sales_api: FastAPI, sales_member: Join, sales_state: ApiState
) -> None:
    acme = await sales_member("acme")
    company_id = await records.company(sales_state.db, acme.tenant_id)
    deal_id = await records.deal(sales_state.db, acme.tenant_id, company_id, [("S", "1", "5", "0")])
    draft = (
        await acme.client.post(f"{SALES}/invoices/from-deal", json={"deal_id": deal_id})
    ).json()
    made = await acme.client.post(
        "/api/v1/api-keys",
        json={"name": "reader", "scopes": ["runs:read"]},
    )
    async with client_for(sales_api, made.json()["key"]) as reader:
        reads = [
            (await reader.get(f"{SALES}{path}")).status_code
            for path in (
                "/invoices",
                f"/invoices/{draft['id']}",
                "/contracts",
                "/contract-templates",
            )
        ]
        writes = [
            (await reader.post(f"{SALES}{path}", json=body)).status_code
            for path, body in (
                ("/invoices/from-deal", {"deal_id": deal_id}),
                (f"/invoices/{draft['id']}/issue", None),
                (f"/invoices/{draft['id']}/payments", {"amount": "1"}),
                ("/contract-templates", {"name": "T", "body": "x"}),
            )
        ]
    assert (reads, writes) == ([200] * 4, [403] * 4)
