"""Tenant isolation over every sales route, on both databases.

Tenant A (acme) owns one of every object a sales route names by id: company, contact, lead,
product, pipeline, deal, proposal, agent run, offer, email, invoice, contract template and
contract. Tenant B (globex), an admin so that scopes are never the reason, calls every sales
route with a path parameter on A's objects. Each answer must be the 404 an id that does not
exist gets, body for body, and A's objects must read back exactly as before. B's lists hold
nothing of A's.

`ROUTES` is checked against the mounted routes: a sales route with a path parameter that is not
in it fails this suite until it gets its probe.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from dirty_equals import IsList, IsPartialDict, IsStr
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

from batonflow.api.deps import ApiState
from batonflow.apps.sales import deals, demo, proposals
from batonflow.store.db import Conn
from tests.apps.sales.conftest import SALES, Join, Member
from tests.apps.sales.smtp_fixtures import Inbox, smtp_server

__all__ = ["smtp_server"]


@dataclass(frozen=True)
class Probe:
    """How tenant B calls one route: which of A's objects fill the path, and with what body
    (a string value "@name" in it stands for A's object `name`)."""

    # path parameter -> name of one of A's objects, or "=value" for the value itself
    targets: tuple[dict[str, str], ...]
    json: dict[str, Any] | None = None


def one(**target: str) -> tuple[dict[str, str], ...]:
    return (target,)


LINES = {"lines": [{"description": "x", "quantity": "1", "unit_price": "1"}]}
DEAL = one(deal_id="deal")
INVOICE = one(invoice_id="invoice")
CONTRACT = one(contract_id="contract")
ROUTES: dict[tuple[str, str], Probe] = {
    ("GET", "/companies/{company_id}"): Probe(one(company_id="company")),
    ("PATCH", "/companies/{company_id}"): Probe(one(company_id="company"), {"name": "Theirs"}),
    ("DELETE", "/companies/{company_id}"): Probe(one(company_id="company")),
    ("GET", "/contacts/{contact_id}"): Probe(one(contact_id="contact")),
    ("PATCH", "/contacts/{contact_id}"): Probe(one(contact_id="contact"), {"name": "Theirs"}),
    ("DELETE", "/contacts/{contact_id}"): Probe(one(contact_id="contact")),
    ("GET", "/leads/{lead_id}"): Probe(one(lead_id="lead")),
    ("PATCH", "/leads/{lead_id}"): Probe(one(lead_id="lead"), {"notes": "theirs"}),
    ("DELETE", "/leads/{lead_id}"): Probe(one(lead_id="lead")),
    ("GET", "/leads/{lead_id}/timeline"): Probe(one(lead_id="lead")),
    ("POST", "/leads/{lead_id}/qualify"): Probe(one(lead_id="lead")),
    ("GET", "/products/{product_id}"): Probe(one(product_id="product")),
    ("PATCH", "/products/{product_id}"): Probe(one(product_id="product"), {"name": "Theirs"}),
    ("POST", "/products/{product_id}/retire"): Probe(one(product_id="product")),
    ("GET", "/pipelines/{pipeline_id}"): Probe(one(pipeline_id="pipeline")),
    ("PATCH", "/pipelines/{pipeline_id}"): Probe(one(pipeline_id="pipeline"), {"name": "Theirs"}),
    ("GET", "/pipelines/{pipeline_id}/board"): Probe(one(pipeline_id="pipeline")),
    ("GET", "/deals/{deal_id}"): Probe(DEAL),
    ("PATCH", "/deals/{deal_id}"): Probe(DEAL, {"title": "Theirs"}),
    ("DELETE", "/deals/{deal_id}"): Probe(DEAL),
    ("POST", "/deals/{deal_id}/move"): Probe(DEAL, {"stage_id": "@stage"}),
    ("GET", "/deals/{deal_id}/proposals"): Probe(DEAL),
    ("GET", "/deals/{deal_id}/timeline"): Probe(DEAL),
    ("GET", "/deals/{deal_id}/offers"): Probe(DEAL),
    ("POST", "/deals/{deal_id}/offers"): Probe(DEAL, {"discount": "1"}),
    ("POST", "/deals/{deal_id}/offers/{offer_id}/approve"): Probe(
        one(deal_id="deal", offer_id="offer")
    ),
    ("GET", "/proposals/{proposal_id}"): Probe(one(proposal_id="proposal")),
    ("POST", "/agents/{name}/run"): Probe(
        one(name="agent"),
        {"capability": "deal.advance", "input": {"deal_id": "@deal", "reason": "x"}, "wait": True},
    ),
    ("GET", "/agents/runs/{run_id}"): Probe(one(run_id="agent_run")),
    ("POST", "/reviews/{entity_type}/{entity_id}/decision"): Probe(
        tuple(
            {"entity_type": f"={kind}", "entity_id": kind}
            for kind in ("lead", "deal", "contract", "offer")
        ),
        {"decision": "approve", "comment": "not yours"},
    ),
    ("GET", "/emails/{email_id}"): Probe(one(email_id="email")),
    ("POST", "/emails/{email_id}/resend"): Probe(one(email_id="email")),
    ("GET", "/invoices/{invoice_id}"): Probe(INVOICE),
    ("GET", "/invoices/{invoice_id}/pdf"): Probe(INVOICE),
    ("GET", "/invoices/{invoice_id}/reminders"): Probe(INVOICE),
    ("GET", "/invoices/{invoice_id}/timeline"): Probe(INVOICE),
    ("PUT", "/invoices/{invoice_id}/lines"): Probe(INVOICE, LINES),
    ("POST", "/invoices/{invoice_id}/issue"): Probe(INVOICE),
    ("POST", "/invoices/{invoice_id}/void"): Probe(INVOICE),
    ("POST", "/invoices/{invoice_id}/payments"): Probe(INVOICE, {"amount": "1"}),
    ("GET", "/contract-templates/{template_id}"): Probe(one(template_id="template")),
    ("GET", "/contracts/{contract_id}"): Probe(CONTRACT),
    ("GET", "/contracts/{contract_id}/pdf"): Probe(CONTRACT),
    ("GET", "/contracts/{contract_id}/timeline"): Probe(CONTRACT),
    ("POST", "/contracts/{contract_id}/render"): Probe(CONTRACT, {"reason": "x", "terms": {}}),
    ("POST", "/contracts/{contract_id}/status"): Probe(CONTRACT, {"status": "in_review"}),
}
# Parameters that qualify an object rather than name one: the unknown-id call keeps them.
QUALIFIERS = {"entity_type", "name"}


def sales_id_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path under the sales prefix) of every mounted sales route with a parameter."""
    paths = [
        (route.path or "", route.methods or (), bool(route.param_convertors))
        for route in iter_route_contexts(app.routes)
    ]
    return {
        (method, path.removeprefix(SALES))
        for path, methods, has_parameter in paths
        if path.startswith(SALES + "/") and has_parameter
        for method in methods
    }


async def ok(client: httpx.AsyncClient, method: str, path: str, body: Any = None) -> Any:
    response = await client.request(method, SALES + path, json=body)
    assert response.status_code in (200, 201), (path, response.text)
    return response.json()


async def populate(state: ApiState, a: Member, inbox: Inbox) -> dict[str, str]:
    """One of every object a sales route names by id, in A's tenant: their ids by name."""
    await demo.seed(state, a.tenant_id)
    client = a.client
    lead = (await ok(client, "GET", "/leads"))["items"][0]
    deal = (await ok(client, "GET", "/deals"))["items"][0]
    template = (await ok(client, "GET", "/contract-templates"))[0]
    product = (await ok(client, "GET", "/products"))[0]
    invoice = await ok(client, "POST", "/invoices/from-deal", {"deal_id": deal["id"]})
    contract = await ok(
        client, "POST", "/contracts", {"deal_id": deal["id"], "template_id": template["id"]}
    )
    state.apps.settings["sales"] = inbox.settings()
    email = await ok(
        client,
        "POST",
        "/emails",
        {
            "key": "k1",
            "to": ["greta.hahn@northwind.example"],
            "subject": "Hello",
            "body": "Hi",
            "lead_id": lead["id"],
        },
    )
    assert len(inbox.arrived) == 1
    offer = await ok(client, "POST", f"/deals/{deal['id']}/offers", {"discount": "30"})

    async def propose(conn: Conn) -> dict[str, Any]:
        found = await deals.get_deal(conn, a.tenant_id, deal["id"])
        lines, totals = await proposals.price(conn, a.tenant_id, found, None)
        return await proposals.record(
            conn,
            a.tenant_id,
            deal["id"],
            lines=lines,
            totals=totals,
            text={
                "title": "Ours",
                "summary": "Ours",
                "lines": [{"sku": x["sku"], "statement": "Ours"} for x in lines],
            },
            note=None,
            model=None,
            run_id=None,
            call_key="isolation",
            now=state.now(),
        )

    proposal = await state.transact(propose)
    run = await client.post(
        f"{SALES}/agents/sales/run",
        json={
            "capability": "deal.advance",
            "input": {"deal_id": deal["id"], "reason": "ours"},
            "wait": True,
        },
    )
    assert run.status_code == 200, run.text
    return {
        "company": lead["company_id"],
        "contact": lead["contact_id"],
        "lead": lead["id"],
        "product": product["id"],
        "pipeline": deal["pipeline_id"],
        "stage": deal["stage_id"],
        "deal": deal["id"],
        "proposal": proposal["id"],
        "agent": "sales",
        "agent_run": run.json()["run_id"],
        "offer": offer["customer"]["id"],
        "email": email["id"],
        "invoice": invoice["id"],
        "template": template["id"],
        "contract": contract["id"],
    }


async def snapshot(client: httpx.AsyncClient, ids: dict[str, str]) -> dict[str, Any]:
    """Everything A reads about its objects, whole."""
    paths = [
        f"/companies/{ids['company']}",
        f"/contacts/{ids['contact']}",
        f"/leads/{ids['lead']}",
        f"/products/{ids['product']}",
        f"/pipelines/{ids['pipeline']}",
        f"/pipelines/{ids['pipeline']}/board",
        f"/deals/{ids['deal']}",
        f"/deals/{ids['deal']}/offers",
        f"/deals/{ids['deal']}/proposals",
        f"/proposals/{ids['proposal']}",
        f"/agents/runs/{ids['agent_run']}",
        f"/emails/{ids['email']}",
        f"/invoices/{ids['invoice']}",
        f"/invoices/{ids['invoice']}/reminders",
        f"/contract-templates/{ids['template']}",
        f"/contracts/{ids['contract']}",
        *LISTS,
    ]
    seen = {}
    for path in paths:
        response = await client.get(SALES + path)
        seen[path] = (response.status_code, response.json())
    return seen


LISTS = (
    "/companies",
    "/contacts",
    "/leads",
    "/products",
    "/pipelines",
    "/deals",
    "/emails",
    "/invoices",
    "/contracts",
    "/contract-templates",
)


def named(name: str, ids: dict[str, str]) -> str:
    return name.removeprefix("=") if name.startswith("=") else ids[name]


def filled(body: Any, ids: dict[str, str]) -> Any:
    text = json.dumps(body)
    for name, value in ids.items():
        text = text.replace(f'"@{name}"', json.dumps(value))
    return json.loads(text)


def without(values: list[str], response: httpx.Response) -> tuple[int, Any]:
    """The answer with `values` (the ids used) replaced, to compare across ids."""
    text = response.text
    for value in values:
        text = text.replace(value, "<id>")
    return response.status_code, json.loads(text)


async def test_another_tenant_gets_404_for_every_sales_id_and_changes_nothing(
    sales_api: FastAPI, sales_state: ApiState, sales_member: Join, smtp_server: Inbox
) -> None:
    a = await sales_member("acme")
    ids = await populate(sales_state, a, smtp_server)
    b = await sales_member("globex")
    before = await snapshot(a.client, ids)

    assert sales_id_routes(sales_api) == set(ROUTES), "sales routes with an id need a probe"
    probed = 0
    for (method, template), probe in ROUTES.items():
        for target in probe.targets:
            values = {param: named(name, ids) for param, name in target.items()}
            unknown = {
                name: str(uuid.uuid4()) for name in ids if name not in QUALIFIERS | {"agent"}
            }
            strange = {param: named(name, ids | unknown) for param, name in target.items()}
            body = filled(probe.json, ids)
            theirs = await b.client.request(method, SALES + template.format(**values), json=body)
            missing = await b.client.request(
                method,
                SALES + template.format(**strange),
                json=filled(probe.json, ids | unknown),
            )
            label = f"{method} {template} on {target}"
            assert theirs.status_code == 404, (label, theirs.text)
            used = [v for k, v in ids.items() if k not in ("agent",)]
            assert without(used, theirs) == without(list(unknown.values()), missing), label
            assert theirs.json() == {
                "error": {"code": "not_found", "message": IsStr(), "details": {}}
            }, label
            probed += 1
    assert probed >= len(ROUTES) + 3

    after = await snapshot(a.client, ids)
    assert after == before
    assert len(smtp_server.arrived) == 1  # B's resend sent nothing


async def test_another_tenants_lists_hold_nothing_of_its_objects(
    sales_state: ApiState, sales_member: Join, smtp_server: Inbox
) -> None:
    a = await sales_member("acme")
    ids = await populate(sales_state, a, smtp_server)
    b = await sales_member("globex")
    page: dict[str, Any] = {"items": [], "next_cursor": None}
    expected: dict[str, Any] = {
        "/companies": page,
        "/contacts": page,
        "/leads": page,
        "/deals": page,
        "/emails": page,
        "/invoices": page,
        "/contracts": page,
        "/products": [],
        "/contract-templates": [],
        # B's own default pipeline, made on B's first look; A's never shows (checked below).
        "/pipelines": IsList(IsPartialDict(name="Sales", is_default=True)),
        f"/emails?lead_id={ids['lead']}": page,
        f"/invoices?deal_id={ids['deal']}": page,
        f"/contracts?deal_id={ids['deal']}": page,
        f"/deals?company_id={ids['company']}": page,
    }
    for path, answer in expected.items():
        response = await b.client.get(SALES + path)
        assert (response.status_code, response.json()) == (200, answer), path
        for value in ids.values():
            if len(value) > 8:
                assert value not in response.text, (path, value)
    # A still sees its own, so the empty lists above are isolation, not emptiness.
    for path in LISTS:
        assert (await a.client.get(SALES + path)).json() not in ([], page), path
