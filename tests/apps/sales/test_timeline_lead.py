"""A lead's timeline through the API, on SQLite and PostgreSQL, after the outreach pipeline
worked on it for real: imported, the run started, the SDR agent's score with its reasons, the
draft's review edited by a person, the email sent and the lead contacted; another tenant's lead
is 404."""

from __future__ import annotations

from typing import Any

from dirty_equals import IsStr

from tests.api.flows import settled
from tests.apps.sales.conftest import SALES, Join
from tests.apps.sales.smtp_fixtures import Inbox, smtp_server
from tests.apps.sales.test_crm_companies import error
from tests.apps.sales.test_flow_outreach import (
    EDITED,
    imported_lead,
    install,
    run_pipeline,
    sales_api,
)
from tests.apps.sales.test_sdr_outreach import products
from tests.apps.sales.test_sdr_qualify import rep

__all__ = ["rep", "sales_api", "smtp_server"]
ADMIN = "admin@acme.example"
SCORED = (
    "Scored 70: 120 employees is in the 50-250 band (+20); a budget of 40000 EUR is in the "
    "25000-100000 band (+20); the title 'VP Finance' has the keyword 'vp' (+15); a dated, "
    "budgeted project (+15)."
)


async def test_a_lead_timeline_shows_its_run_review_score_and_email(
    sales_member: Join, smtp_server: Inbox
) -> None:
    acme = await sales_member("acme")
    await products(acme.client)
    await install(acme.client, "sales-outreach.yaml")
    lead_id = await imported_lead(acme.client)
    run_id = (await run_pipeline(acme.client, {"lead_id": lead_id}, "tl-1")).json()["run_id"]
    waiting = await settled(acme.client, run_id, ("waiting", "failed", "dead"), 60)
    (review,) = waiting["reviews"]
    draft = (await acme.client.get(f"/api/v1/reviews/{review['id']}")).json()["subject"]
    decided = await acme.client.post(
        f"{SALES}/reviews/lead/{lead_id}/decision",
        json={"decision": "edit", "data": draft | {"body": EDITED}, "comment": "warmer"},
    )
    assert decided.status_code == 200, decided.text
    done = await settled(acme.client, run_id, ("succeeded", "failed", "dead"), 60)
    assert done["status"] == "succeeded", done["error"]

    got = await acme.client.get(f"{SALES}/leads/{lead_id}/timeline")
    assert got.status_code == 200, got.text
    lead = (await acme.client.get(f"{SALES}/leads/{lead_id}")).json()
    email_id = done["outputs"]["email"]["email_id"]
    (audit_id,) = [e["links"]["audit_id"] for e in got.json()["events"] if "audit_id" in e["links"]]
    run = {"run_id": run_id}
    asked = run | {"review_id": review["id"]}
    assert (lead["score"], lead["status"]) == (70, "contacted")
    assert got.json() == {
        "entity": "lead",
        "entity_id": lead_id,
        "events": [
            event(
                "lead.created",
                "system",
                "batonflow",
                "Lead created for Ada Berg at Nordfreight (source web).",
            ),
            event(
                "run.started", "user", "admin@acme.example", "Started the sales-outreach run.", run
            ),
            event(
                "lead.scored",
                "agent",
                "agent:sales-sdr",
                "Scored 70: 120 employees is in the 50-250 band (+20); a budget of 40000 EUR "
                "is in the 25000-100000 band (+20); the title 'VP Finance' has the keyword "
                "'vp' (+15); a dated, budgeted project (+15).",
                run,
            ),
            event(
                "review.requested",
                "system",
                "batonflow",
                "Step approve waits for a review by reviewer or admin.",
                asked,
            ),
            event(
                "review.edited",
                "user",
                "admin@acme.example",
                "admin@acme.example edited and approved step approve: warmer.",
                asked | {"audit_id": audit_id},
            ),
            event(
                "email.sent",
                "agent",
                "sales@acme.example",
                "Email 'Faster closes for Nordfreight' to ada@nordfreight.example sent.",
                run | {"email_id": email_id},
            ),
            event(
                "lead.updated",
                "system",
                "batonflow",
                "Lead last changed: status contacted, score 70.",
            ),
            event("run.succeeded", "system", "batonflow", "The sales-outreach run succeeded.", run),
        ],
    }
    times = [e["at"] for e in got.json()["events"]]
    assert times == sorted(times)

    umbrella = await sales_member("umbrella")
    hidden = await umbrella.client.get(f"{SALES}/leads/{lead_id}/timeline")
    assert error(hidden) == (404, f"no lead '{lead_id}'")


def event(
    kind: str, actor_kind: str, actor: str, summary: str, links: dict[str, str] | None = None
) -> dict[str, Any]:
    return {
        "at": IsStr(regex=r"\d{4}-\d\d-\d\dT.*Z"),
        "kind": kind,
        "actor_kind": actor_kind,
        "actor": actor,
        "summary": summary,
        "links": links or {},
    }


async def test_a_lead_timeline_shows_a_qualify_run_and_a_cancelled_outreach_with_its_audit(
    sales_member: Join, smtp_server: Inbox
) -> None:
    acme = await sales_member("acme")
    await products(acme.client)
    await install(acme.client, "sales-outreach.yaml")
    lead_id = await imported_lead(acme.client)
    started = await acme.client.post(f"{SALES}/leads/{lead_id}/qualify")
    assert started.status_code == 202, started.text
    qualify = started.json()["run_id"]
    assert (await settled(acme.client, qualify, ("succeeded", "failed", "dead"), 60))[
        "status"
    ] == "succeeded"
    outreach = (await run_pipeline(acme.client, {"lead_id": lead_id}, "tl-2")).json()["run_id"]
    waiting = await settled(acme.client, outreach, ("waiting", "failed", "dead"), 60)
    (review,) = waiting["reviews"]
    cancelled = await acme.client.post(
        f"/api/v1/runs/{outreach}/cancel", json={"reason": "they asked us to wait"}
    )
    assert cancelled.status_code == 200, cancelled.text

    got = (await acme.client.get(f"{SALES}/leads/{lead_id}/timeline")).json()
    (audit_id,) = [e["links"]["audit_id"] for e in got["events"] if "audit_id" in e["links"]]
    first, second = {"run_id": qualify}, {"run_id": outreach}
    asked = second | {"review_id": review["id"]}
    assert got["events"] == [
        event(
            "lead.created",
            "system",
            "batonflow",
            "Lead created for Ada Berg at Nordfreight (source web).",
        ),
        event("run.started", "user", ADMIN, "Started the sales-lead-qualify run.", first),
        event("lead.scored", "agent", "agent:sales-sdr", SCORED, first),
        event(
            "run.succeeded", "system", "batonflow", "The sales-lead-qualify run succeeded.", first
        ),
        event("run.started", "user", ADMIN, "Started the sales-outreach run.", second),
        event(
            "lead.updated", "system", "batonflow", "Lead last changed: status qualified, score 70."
        ),
        event("lead.scored", "agent", "agent:sales-sdr", SCORED, second),
        event(
            "review.requested",
            "system",
            "batonflow",
            "Step approve waits for a review by reviewer or admin.",
            asked,
        ),
        event(
            "run.cancelled", "system", "batonflow", "The sales-outreach run was cancelled.", second
        ),
        event("review.cancelled", "user", ADMIN, f"{ADMIN} cancelled step approve.", asked),
        event(
            "audit.run.cancel",
            "user",
            ADMIN,
            "A run was cancelled: they asked us to wait.",
            second | {"audit_id": audit_id},
        ),
    ]
