"""Qualifying a lead through the API, on SQLite and PostgreSQL: the SDR agent scores it by the
tenant's rules and the model's reading of its notes (a loopback server speaking OpenAI's wire
format), as a durable run; the score, the reasons and the status land on the lead together, or,
when the model fails or answers out of schema, nothing does."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from dirty_equals import IsStr
from fastapi import FastAPI

from batonflow.api.app import create_app
from batonflow.api.deps import ApiState
from batonflow.apps.sales.tables import companies, contacts, leads
from batonflow.ids import new_id
from batonflow.settings import Settings
from batonflow.store.db import Conn
from batonflow_testkit.fakeserver import Behaviour, Fail, FakeProvider, Reply
from tests.api.conftest import with_provider
from tests.api.flows import settled
from tests.apps.sales.conftest import SALES, Join, sales_apps

MODEL = "openai:gpt-4.1-mini"
ENDED = ("succeeded", "failed", "dead")
WORKFLOW = "sales-lead-qualify"


@dataclass
class Rep:
    """The model: reads a lead's notes (`reading`), or writes an email citing the passages it
    was given (or `cite` instead); `broken` answers out of schema, `down` fails with a 500."""

    reading: dict[str, Any] = field(
        default_factory=lambda: {
            "intent": "replace spreadsheets this quarter",
            "concerns": ["migration effort"],
            "adjustment": 30,
            "why": "a dated, budgeted project",
        }
    )
    cite: list[str] | None = None
    broken: bool = False
    down: bool = False
    prompts: list[str] = field(default_factory=list)

    def __call__(self, path: str, body: dict[str, Any]) -> Behaviour:
        if path.endswith("/embeddings"):
            return Reply()
        prompt = body["messages"][-1]["content"]
        self.prompts.append(prompt)
        if self.down:
            return Fail(500, message="the model is down")
        if self.broken:
            return Reply(json.dumps({"intent": "buy", "adjustment": "lots"}))
        if any("Write a short first email" in str(m["content"]) for m in body["messages"]):
            given = re.findall(r"^Passage (\S+):$", prompt, re.M)
            return Reply(
                json.dumps(
                    {
                        "subject": "Faster closes for Nordfreight",
                        "body": "Hello Ada,\n\nOur ledger sync closes books in a day.\n\n"
                        "The sales team",
                        "citations": self.cite if self.cite is not None else given[:1],
                    }
                )
            )
        return Reply(json.dumps(self.reading))


@pytest.fixture
def rep() -> Rep:
    return Rep()


@pytest.fixture
async def sales_api(
    api_settings: Settings, monkeypatch: pytest.MonkeyPatch, rep: Rep
) -> AsyncIterator[FastAPI]:
    """The sales API with its agents calling the loopback model."""
    monkeypatch.setenv("BATONFLOW_SALES_MODEL", MODEL)
    async with FakeProvider(respond=rep) as server:
        settings = with_provider(api_settings, server, llm_max_retries=0)
        app = create_app(settings, apps=sales_apps())
        async with app.router.lifespan_context(app):
            yield app


async def add_lead(
    state: ApiState,
    tenant_id: str,
    *,
    company: str = "Nordfreight",
    industry: str | None = "Software",
    employees: int | None = 120,
    budget: str | None = "40000",
    currency: str | None = "EUR",
    title: str | None = "VP Finance",
    status: str = "new",
    notes: str = "Wants to replace spreadsheets before the Q3 close; budget approved.",
) -> str:
    """A lead of Ada Berg at `company`, stored as the CRM stores it; its id."""
    now = datetime.now(UTC)
    company_id, contact_id, lead_id = new_id(), new_id(), new_id()

    async def work(conn: Conn) -> None:
        stamp = {"tenant_id": tenant_id, "created_at": now, "updated_at": now}
        await conn.execute(
            sa.insert(companies).values(
                id=company_id, name=company, industry=industry, employees=employees, **stamp
            )
        )
        await conn.execute(
            sa.insert(contacts).values(
                id=contact_id,
                company_id=company_id,
                name="Ada Berg",
                email=f"ada@{company.lower()}.example",
                title=title,
                **stamp,
            )
        )
        await conn.execute(
            sa.insert(leads).values(
                id=lead_id,
                company_id=company_id,
                contact_id=contact_id,
                source="web",
                status=status,
                notes=notes,
                budget=None if budget is None else Decimal(budget),
                currency=currency,
                **stamp,
            )
        )

    await state.transact(work)
    return lead_id


async def stored(state: ApiState, tenant_id: str, lead_id: str) -> dict[str, Any]:
    async def work(conn: Conn) -> dict[str, Any]:
        row = (
            await conn.execute(
                sa.select(leads.c.status, leads.c.score, leads.c.score_reasons).where(
                    leads.c.tenant_id == tenant_id, leads.c.id == lead_id
                )
            )
        ).one()
        return dict(row._mapping)

    return await state.query(work)


def rules(rule: str, points: int, why: str) -> dict[str, Any]:
    return {"source": "rules", "rule": rule, "points": points, "why": why}


FIT = [
    rules("industry", 25, "software is a target industry"),
    rules("employees", 20, "120 employees is in the 50-250 band"),
    rules("budget", 20, "a budget of 40000 EUR is in the 25000-100000 band"),
    rules("title", 15, "the title 'VP Finance' has the keyword 'vp'"),
]


async def test_a_lead_is_qualified_by_its_rules_and_its_notes_as_a_run(
    sales_member: Join, sales_state: ApiState, rep: Rep
) -> None:
    acme = await sales_member("acme")
    lead_id = await add_lead(sales_state, acme.tenant_id)

    started = await acme.client.post(f"{SALES}/leads/{lead_id}/qualify")

    assert (started.status_code, started.json()) == (
        202,
        {"run_id": IsStr(), "lead_id": lead_id},
    )
    run = await settled(acme.client, started.json()["run_id"], ENDED)
    reasons = [
        *FIT,
        {"source": "model", "rule": "notes", "points": 15, "why": "a dated, budgeted project"},
    ]
    assert (run["workflow_id"], run["status"], run["inputs"]) == (
        "sales-lead-qualify",
        "succeeded",
        {"lead_id": lead_id},
    )
    assert run["outputs"] == {
        "qualified": {
            "lead_id": lead_id,
            "score": 95,  # 80 by the rules, +30 read in the notes bounded to +15
            "reasons": reasons,
            "status": "qualified",
            "rules_version": 0,
            "intent": "replace spreadsheets this quarter",
            "concerns": ["migration effort"],
            "model": MODEL,
            "prompt_version": 1,
        }
    }
    assert await stored(sales_state, acme.tenant_id, lead_id) == {
        "status": "qualified",
        "score": 95,
        "score_reasons": reasons,
    }
    (prompt,) = rep.prompts
    assert "Company: Nordfreight (industry: Software, employees: 120)" in prompt
    assert "Wants to replace spreadsheets before the Q3 close; budget approved." in prompt
    assert "from -15 to 15 points" in prompt


async def test_the_tenants_own_rules_and_threshold_disqualify(
    sales_member: Join, sales_state: ApiState, rep: Rep
) -> None:
    acme = await sales_member("acme")
    strict = {
        "industries": {"logistics": 40},
        "title_keywords": {"vp": 10},
        "threshold": 70,
        "model_weight": 5,
    }
    assert (await acme.client.put(f"{SALES}/scoring", json=strict)).status_code == 200
    rep.reading = {"intent": "browsing", "concerns": [], "adjustment": -12, "why": "no project"}
    lead_id = await add_lead(sales_state, acme.tenant_id)

    started = await acme.client.post(f"{SALES}/leads/{lead_id}/qualify")
    run = await settled(acme.client, started.json()["run_id"], ENDED)

    reasons = [  # software, 120 employees and a budget fire none of these rules
        rules("title", 10, "the title 'VP Finance' has the keyword 'vp'"),
        {"source": "model", "rule": "notes", "points": -5, "why": "no project"},
    ]
    assert run["outputs"]["qualified"] == {
        "lead_id": lead_id,
        "score": 5,
        "reasons": reasons,
        "status": "disqualified",
        "rules_version": 1,
        "intent": "browsing",
        "concerns": [],
        "model": MODEL,
        "prompt_version": 1,
    }
    assert (await stored(sales_state, acme.tenant_id, lead_id))["status"] == "disqualified"


async def test_a_lead_past_new_is_scored_and_keeps_its_status(
    sales_member: Join, sales_state: ApiState
) -> None:
    acme = await sales_member("acme")
    lead_id = await add_lead(sales_state, acme.tenant_id, status="contacted")

    started = await acme.client.post(f"{SALES}/leads/{lead_id}/qualify")
    run = await settled(acme.client, started.json()["run_id"], ENDED)

    assert (run["outputs"]["qualified"]["score"], run["outputs"]["qualified"]["status"]) == (
        95,
        "contacted",
    )
    lead = await stored(sales_state, acme.tenant_id, lead_id)
    assert (lead["status"], lead["score"]) == ("contacted", 95)


@pytest.mark.parametrize(
    ("failure", "code"), [("broken", "output_invalid"), ("down", "model_unavailable")]
)
async def test_a_model_that_fails_fails_the_step_retryably_and_writes_nothing(
    sales_member: Join, sales_state: ApiState, rep: Rep, failure: str, code: str
) -> None:
    setattr(rep, failure, True)
    acme = await sales_member("acme")
    lead_id = await add_lead(sales_state, acme.tenant_id)

    started = await acme.client.post(f"{SALES}/leads/{lead_id}/qualify")
    run = await settled(acme.client, started.json()["run_id"], ENDED)

    assert (run["status"], run["error"]["code"]) == ("dead", code)  # both attempts tried
    assert [step["attempt"] for step in run["steps"]] == [2]
    assert await stored(sales_state, acme.tenant_id, lead_id) == {
        "status": "new",
        "score": None,
        "score_reasons": None,
    }


async def test_another_tenants_lead_is_not_found(
    sales_member: Join, sales_state: ApiState, rep: Rep
) -> None:
    acme = await sales_member("acme")
    rival = await sales_member("rival")
    lead_id = await add_lead(sales_state, acme.tenant_id)

    stolen = await rival.client.post(f"{SALES}/leads/{lead_id}/qualify")
    missing = await acme.client.post(f"{SALES}/leads/nope/qualify")

    assert (stolen.status_code, stolen.json()["error"]["message"]) == (
        404,
        f"no lead '{lead_id}'",
    )
    assert (missing.status_code, missing.json()["error"]["message"]) == (404, "no lead 'nope'")
    assert rep.prompts == []
    assert (await rival.client.get("/api/v1/runs")).json()["items"] == []


async def test_leads_qualified_at_once_each_get_their_run(
    sales_member: Join, sales_state: ApiState
) -> None:
    acme = await sales_member("acme")
    lead_ids = [await add_lead(sales_state, acme.tenant_id, company=f"Co{n}") for n in range(4)]

    started = await asyncio.gather(
        *(acme.client.post(f"{SALES}/leads/{lead_id}/qualify") for lead_id in lead_ids)
    )

    assert [s.status_code for s in started] == [202] * 4
    runs = [await settled(acme.client, s.json()["run_id"], ENDED) for s in started]
    assert [(r["status"], r["inputs"]["lead_id"]) for r in runs] == [
        ("succeeded", lead_id) for lead_id in lead_ids
    ]
    versions = await acme.client.get("/api/v1/workflows", params={"workflow_id": WORKFLOW})
    assert [(v["workflow_id"], v["version"]) for v in versions.json()["items"]] == [(WORKFLOW, "1")]
