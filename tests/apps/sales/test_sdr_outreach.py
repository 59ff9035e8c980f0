"""Drafting the first email to a lead, on SQLite and PostgreSQL: the SDR agent searches the
tenant's product knowledge base (ingested through the API) for the company's industry and the
lead's notes, and the loopback model writes a subject and a body citing the passages it was
given; a citation of anything else is refused, and a missing knowledge base says what to do."""

from __future__ import annotations

import re
from typing import Any

import httpx

from batonflow.api.deps import ApiState
from tests.api.flows import settled, start, store
from tests.api.test_knowledge import indexed
from tests.apps.sales.conftest import Join
from tests.apps.sales.test_sdr_qualify import ENDED, MODEL, Rep, add_lead, rep, sales_api

__all__ = ["rep", "sales_api"]  # the loopback model and the API calling it

PRODUCTS = b"""# Ledger sync

## Month-end close
Ledger sync reconciles freight invoices against the general ledger nightly, so logistics
finance teams close the month in one day instead of five.

## Spreadsheet import
Existing spreadsheets import in one step, keeping every historical entry.
"""

OUTREACH = """
id: outreach-draft
version: "1"
inputs:
  lead_id: {type: string}
  knowledge_bases: {type: array, default: []}
steps:
  - id: draft
    kind: agent
    capability: outreach.draft
    retry: {max_attempts: 2, backoff: {initial: 0.1, multiplier: 2, max: 1}}
    args:
      lead_id: "{{ inputs.lead_id }}"
      knowledge_bases: "{{ inputs.knowledge_bases or none }}"
outputs:
  draft: "{{ state.draft }}"
"""


async def products(client: httpx.AsyncClient, name: str = "products") -> None:
    created = await client.post("/api/v1/knowledge-bases", json={"name": name})
    assert created.status_code == 201, created.text
    upload = await client.post(
        f"/api/v1/knowledge-bases/{name}/documents",
        params={"source": "ledger-sync.md"},
        content=PRODUCTS,
        headers={"Content-Type": "text/markdown"},
    )
    assert (await indexed(client, upload))["status"] == "ready"


async def draft(client: httpx.AsyncClient, lead_id: str, **inputs: Any) -> Any:
    await store(client, OUTREACH, "outreach.yaml")
    run = await start(client, "outreach-draft", {"lead_id": lead_id, **inputs})
    return await settled(client, run["id"], ENDED, timeout=60)


# What the product document says under each heading, as the passages give it.
SECTIONS = {
    "Month-end close": "Ledger sync reconciles freight invoices against the general ledger "
    "nightly, so logistics finance teams close the month in one day instead of five.",
    "Spreadsheet import": "Existing spreadsheets import in one step, keeping every historical "
    "entry.",
}
PASSAGE = re.compile(r"^Passage (\S+):\n<<untrusted [^>]*>>\n[^\n]* > ([^>\n]+)$", re.M)


def given(prompt: str) -> dict[str, str]:
    """The passages the prompt gave the model: citation id to the section's heading."""
    return {citation: heading.strip() for citation, heading in PASSAGE.findall(prompt)}


async def logistics_lead(state: ApiState, tenant_id: str) -> str:
    return await add_lead(
        state,
        tenant_id,
        industry="Logistics",
        notes="Month-end close takes five days; they live in spreadsheets.",
    )


def email(lead_id: str, citation: str, heading: str) -> dict[str, Any]:
    return {
        "lead_id": lead_id,
        "to": "ada@nordfreight.example",
        "subject": "Faster closes for Nordfreight",
        "body": "Hello Ada,\n\nOur ledger sync closes books in a day.\n\nThe sales team",
        "citations": [{"id": citation, "document": "ledger-sync.md", "text": SECTIONS[heading]}],
        "model": MODEL,
        "prompt_version": 1,
    }


async def test_a_first_email_is_grounded_in_the_product_knowledge_and_cites_it(
    sales_member: Join, sales_state: ApiState, rep: Rep
) -> None:
    acme = await sales_member("acme")
    await products(acme.client)
    lead_id = await logistics_lead(sales_state, acme.tenant_id)

    run = await draft(acme.client, lead_id)

    assert run["status"] == "succeeded", run["error"]
    (prompt,) = rep.prompts
    passages = given(prompt)
    assert sorted(passages.values()) == sorted(SECTIONS)  # both sections were retrieved
    first = next(iter(passages))  # the model cites the first passage it was given
    assert run["outputs"] == {"draft": email(lead_id, first, passages[first])}
    assert "Month-end close takes five days; they live in spreadsheets." in prompt
    assert "Company: Nordfreight (industry: Logistics, employees: 120)" in prompt


async def test_the_knowledge_bases_to_ground_in_can_be_named(
    sales_member: Join, sales_state: ApiState, rep: Rep
) -> None:
    acme = await sales_member("acme")
    await products(acme.client, "catalog")
    lead_id = await logistics_lead(sales_state, acme.tenant_id)

    run = await draft(acme.client, lead_id, knowledge_bases=["catalog"])

    assert run["status"] == "succeeded", run["error"]
    passages = given(rep.prompts[-1])
    first = next(iter(passages))
    assert run["outputs"] == {"draft": email(lead_id, first, passages[first])}


async def test_citing_a_passage_it_was_not_given_is_refused_and_retried(
    sales_member: Join, sales_state: ApiState, rep: Rep
) -> None:
    rep.cite = ["made-up-0"]
    acme = await sales_member("acme")
    await products(acme.client)
    lead_id = await logistics_lead(sales_state, acme.tenant_id)

    run = await draft(acme.client, lead_id)

    assert (run["status"], run["outputs"]) == ("dead", None)
    assert run["error"]["code"] == "output_invalid"
    assert "made-up-0" in run["error"]["message"]
    assert [step["attempt"] for step in run["steps"]] == [2]  # tried again, refused again


async def test_without_the_knowledge_base_the_step_fails_saying_what_to_do(
    sales_member: Join, sales_state: ApiState, rep: Rep
) -> None:
    acme = await sales_member("acme")
    lead_id = await logistics_lead(sales_state, acme.tenant_id)

    run = await draft(acme.client, lead_id)

    assert (run["status"], run["error"]["code"]) == ("failed", "step_failed")
    assert run["error"]["message"] == (
        "no knowledge base 'products'; create the knowledge base products and add product "
        "documents to it, or name the knowledge bases to use"
    )
    assert [step["attempt"] for step in run["steps"]] == [1]  # not worth trying again
    assert rep.prompts == []


async def test_an_agent_run_of_another_tenant_cannot_read_the_lead(
    sales_member: Join, sales_state: ApiState, rep: Rep
) -> None:
    acme = await sales_member("acme")
    rival = await sales_member("rival")
    await products(rival.client)
    lead_id = await logistics_lead(sales_state, acme.tenant_id)

    run = await draft(rival.client, lead_id)

    assert (run["status"], run["error"]["code"], run["error"]["message"]) == (
        "failed",
        "step_failed",
        f"no lead '{lead_id}'",
    )
    assert rep.prompts == []
