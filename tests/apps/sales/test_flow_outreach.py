"""The outreach pipeline as a sales team drives it through the API, on SQLite and PostgreSQL:
a lead imported from CSV, `POST /sales/pipeline/run` (idempotent under its key), the SDR agent
qualifying it and drafting a grounded email with the loopback model, a person editing the draft
by subject (`/sales/reviews/lead/{id}/decision`), and the edited email arriving at a real SMTP
server exactly once, the lead then `contacted`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from dirty_equals import IsStr
from fastapi import FastAPI

from batonflow.api.app import create_app
from batonflow.settings import Settings
from batonflow_testkit.fakeserver import FakeProvider
from tests.api.conftest import with_provider
from tests.api.flows import settled, store
from tests.apps.sales.conftest import SALES, Join, sales_apps
from tests.apps.sales.smtp_fixtures import Inbox, smtp_server
from tests.apps.sales.test_crm_companies import error
from tests.apps.sales.test_sdr_outreach import products
from tests.apps.sales.test_sdr_qualify import MODEL, Rep, rep

__all__ = ["rep", "smtp_server"]
FLOWS = Path(__file__).parents[3] / "src/batonflow/apps/sales/workflows"
LEADS = b"""company,domain,industry,employees,country,contact_name,email,title,source,budget,currency,notes
Nordfreight,nordfreight.example,Logistics,120,DE,Ada Berg,ada@nordfreight.example,VP Finance,web,40000,EUR,Month-end close takes five days; they live in spreadsheets.
"""
EDITED = "Hello Ada,\n\nOur ledger sync closes the month in one day.\n\nThe sales team"


@pytest.fixture
async def sales_api(
    api_settings: Settings, monkeypatch: pytest.MonkeyPatch, rep: Rep, smtp_server: Inbox
) -> AsyncIterator[FastAPI]:
    """The sales API: its agents call the loopback model, its mail goes to the SMTP server."""
    monkeypatch.setenv("BATONFLOW_SALES_MODEL", MODEL)
    monkeypatch.setenv("BATONFLOW_SALES_SMTP_PORT", str(smtp_server.port))
    monkeypatch.setenv("BATONFLOW_SALES_MAIL_FROM", "sales@acme.example")
    async with FakeProvider(respond=rep) as server:
        settings = with_provider(api_settings, server, llm_max_retries=0)
        app = create_app(settings, apps=sales_apps())
        async with app.router.lifespan_context(app):
            yield app


async def install(client: httpx.AsyncClient, *names: str) -> None:
    """Store the app's workflow files in the tenant, as start-up does."""
    for name in names:
        await store(client, (FLOWS / name).read_text(encoding="utf-8"), name)


async def imported_lead(client: httpx.AsyncClient) -> str:
    done = await client.post(
        f"{SALES}/leads/import", content=LEADS, headers={"content-type": "text/csv"}
    )
    assert done.status_code == 201, done.text
    (lead,) = (await client.get(f"{SALES}/leads")).json()["items"]
    return str(lead["id"])


async def run_pipeline(client: httpx.AsyncClient, body: dict[str, str], key: str) -> httpx.Response:
    return await client.post(f"{SALES}/pipeline/run", json=body, headers={"Idempotency-Key": key})


async def test_outreach_runs_from_a_lead_to_one_email_sent_as_the_reviewer_edited_it(
    sales_member: Join, smtp_server: Inbox, rep: Rep
) -> None:
    acme = await sales_member("acme")
    await products(acme.client)
    await install(acme.client, "sales-outreach.yaml")
    lead_id = await imported_lead(acme.client)

    started = await run_pipeline(acme.client, {"lead_id": lead_id}, "outreach-1")
    assert started.status_code == 201, started.text
    assert started.json() == {
        "run_id": IsStr(),
        "workflow_id": "sales-outreach",
        "status": "queued",
    }
    run_id = started.json()["run_id"]
    again = await run_pipeline(acme.client, {"lead_id": lead_id}, "outreach-1")
    assert (again.status_code, again.json()["run_id"]) == (200, run_id)

    waiting = await settled(acme.client, run_id, ("waiting", "succeeded", "failed", "dead"), 60)
    assert waiting["status"] == "waiting", waiting["error"]
    (review,) = waiting["reviews"]
    draft = (await acme.client.get(f"/api/v1/reviews/{review['id']}")).json()["subject"]
    assert {k: draft[k] for k in ("to", "subject", "body")} == {
        "to": "ada@nordfreight.example",
        "subject": "Faster closes for Nordfreight",
        "body": "Hello Ada,\n\nOur ledger sync closes books in a day.\n\nThe sales team",
    }
    assert [c["document"] for c in draft["citations"]] == ["ledger-sync.md"]
    assert smtp_server.arrived == []  # nothing goes out before a person decides

    edited = draft | {"body": EDITED}
    decided = await acme.client.post(
        f"{SALES}/reviews/lead/{lead_id}/decision",
        json={"decision": "edit", "data": edited, "comment": "warmer"},
    )
    assert decided.status_code == 200, decided.text
    assert {k: decided.json()[k] for k in ("id", "status", "decision", "data")} == {
        "id": review["id"],
        "status": "edited",
        "decision": "edit",
        "data": edited,
    }

    done = await settled(acme.client, run_id, ("succeeded", "failed", "dead"), 60)
    assert done["status"] == "succeeded", done["error"]
    email = done["outputs"]["email"]
    lead = (await acme.client.get(f"{SALES}/leads/{lead_id}")).json()
    assert done["outputs"] == {
        "score": lead["score"],
        "status": "contacted",
        "email": {
            "email_id": IsStr(),
            "message_id": IsStr(),
            "thread_id": email["message_id"],
            "status": "sent",
        },
    }
    [arrived] = smtp_server.arrived  # exactly once
    message = arrived.message
    assert (arrived.recipients, message["Subject"], message["Message-ID"]) == (
        ["ada@nordfreight.example"],
        "Faster closes for Nordfreight",
        email["message_id"],
    )
    assert message.get_content().replace("\r\n", "\n").strip() == EDITED
    assert (lead["status"], lead["score"] >= 50) == ("contacted", True)
    logged = (await acme.client.get(f"{SALES}/emails/{email['email_id']}")).json()
    assert (logged["lead_id"], logged["status"], logged["body"]) == (lead_id, "sent", EDITED)

    nothing = await acme.client.post(
        f"{SALES}/reviews/lead/{lead_id}/decision", json={"decision": "approve"}
    )
    assert error(nothing) == (
        404,
        f"no open review for lead '{lead_id}': no sales-outreach run working on it waits for "
        "a decision",
    )


async def test_another_tenant_can_neither_run_nor_decide_on_the_lead(
    sales_member: Join, smtp_server: Inbox
) -> None:
    acme, umbrella = await sales_member("acme"), await sales_member("umbrella")
    await products(acme.client)
    await install(acme.client, "sales-outreach.yaml")
    lead_id = await imported_lead(acme.client)
    started = await run_pipeline(acme.client, {"lead_id": lead_id}, "outreach-2")
    waiting = await settled(acme.client, started.json()["run_id"], ("waiting", "failed"), 60)
    assert waiting["status"] == "waiting", waiting["error"]

    run = await run_pipeline(umbrella.client, {"lead_id": lead_id}, "outreach-2")
    assert error(run) == (404, f"no lead '{lead_id}'")
    decide = await umbrella.client.post(
        f"{SALES}/reviews/lead/{lead_id}/decision", json={"decision": "approve"}
    )
    assert error(decide) == (404, f"no lead '{lead_id}'")
    assert smtp_server.arrived == []
    both = await acme.client.post(
        f"{SALES}/pipeline/run", json={"lead_id": lead_id, "deal_id": "d"}
    )
    assert error(both) == (
        422,
        "name exactly one of `lead_id` (outreach) or `deal_id` (the deal)",
    )
