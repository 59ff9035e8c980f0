"""The charter: written from the five analysed stages, served as JSON, Markdown and PDF (its
text extracted and checked), versioned with the model and prompt versions, diffed, signed off."""

from __future__ import annotations

import io

from pypdf import PdfReader

from batonflow.apps.scoping.agents import PROMPTS
from tests.apps.scoping.conftest import Person, S, answer_stage, new_session
from tests.apps.scoping.model import Scoping, charter_draft
from tests.apps.scoping.test_stages import ANSWERS


async def charter_written(client: object, session: str) -> dict[str, object]:
    """Ask for a charter and wait until its run has ended and its version is listed."""
    import asyncio

    path = f"{S}/{session}/charter/versions"
    before = len((await client.get(path)).json()["items"])  # type: ignore[attr-defined]
    started = await client.post(f"{S}/{session}/charter")  # type: ignore[attr-defined]
    assert started.status_code == 201, started.text
    for _ in range(1200):
        running = (await client.get(f"{S}/{session}")).json()["running"]  # type: ignore[attr-defined]
        got = (await client.get(path)).json()  # type: ignore[attr-defined]
        if running is None and len(got["items"]) > before:
            return got  # type: ignore[no-any-return]
        await asyncio.sleep(0.05)
    raise AssertionError("the charter was not written")


async def test_the_charter_versions_formats_diff_and_sign_off(
    people: Person, script: Scoping
) -> None:
    admin = await people("acme")
    ada = await people(admin=admin, email="ada@acme.example")
    fin = await people(admin=admin, email="fin@acme.example")
    ops = await people(admin=admin, email="ops@acme.example")
    session = await new_session(ada, "Invoice automation")
    early = await ada.post(f"{S}/{session}/charter")
    assert early.status_code == 409
    assert early.json()["error"]["details"] == {"stages": [1, 2, 3, 4, 5]}
    for number in range(1, 6):
        await answer_stage(ada, session, number, ANSWERS)

    versions = await charter_written(ada, session)
    assert [(v["version"], v["model"], v["prompts"]) for v in versions["items"]] == [  # type: ignore[index]
        (1, "openai:gpt-4.1-mini", PROMPTS)
    ]
    got = (await ada.get(f"{S}/{session}/charter")).json()
    charter = got["charter"]
    assert {k: v for k, v in charter.items() if k not in ("title", "qa_log")} == charter_draft("v1")
    assert charter["title"] == "Invoice automation"
    assert len(charter["qa_log"]) == 25
    assert charter["qa_log"][2] == {
        "stage": 1,
        "stage_title": "Problem and context",
        "question": "Stage 1, question 3: which option fits?",
        "answer": None,
    }

    md = await ada.get(f"{S}/{session}/charter", params={"format": "md"})
    assert md.headers["content-type"] == "text/markdown; charset=utf-8"
    assert md.text.startswith("# Project charter: Invoice automation (version 1)\n\n")
    assert "- [must] Read PDF invoices\n" in md.text
    assert "- Poor scans (likelihood medium, impact high); mitigation: Manual review queue\n" in (
        md.text
    )
    assert "### Stage 5: Plan: milestones, timeline, resources and budget\n" in md.text

    # A second version; the diff names what changed.
    script.charter_tag = "v2"
    await charter_written(ada, session)
    diff = (await ada.get(f"{S}/{session}/charter/diff", params={"from": 1, "to": 2})).json()
    assert diff["changed"] == ["problem_statement"]
    assert "-Invoices are keyed by hand (v1)\n+Invoices are keyed by hand (v2)\n" in diff["diff"]
    assert diff["diff"].startswith("--- version 1\n+++ version 2\n")
    first = (await ada.get(f"{S}/{session}/charter", params={"version": 1})).json()
    assert first["charter"]["problem_statement"] == "Invoices are keyed by hand (v1)"

    # Sign-off: the owner names a stakeholder, who approves once.
    asked = await ada.post(
        f"{S}/{session}/charter/signoffs", json={"email": "fin@acme.example", "role": "sponsor"}
    )
    assert asked.status_code == 201, asked.text
    assert [(s["name"], s["role"], s["decision"]) for s in asked.json()["signoffs"]] == [
        ("Fin", "sponsor", "pending")
    ]
    not_named = await ada.post(f"{S}/{session}/charter/signoff", json={"decision": "approved"})
    assert not_named.status_code == 403
    approved = await fin.post(
        f"{S}/{session}/charter/signoff", json={"decision": "approved", "comment": "Go ahead"}
    )
    assert approved.status_code == 200, approved.text
    signed = approved.json()["signoffs"][0]
    assert (signed["decision"], signed["comment"]) == ("approved", "Go ahead")
    again = await fin.post(f"{S}/{session}/charter/signoff", json={"decision": "changes_requested"})
    assert again.status_code == 409
    # A review per stakeholder: a second one requests changes, each decision kept apart.
    await ada.post(
        f"{S}/{session}/charter/signoffs", json={"email": "ops@acme.example", "role": "operations"}
    )
    changes = await ops.post(
        f"{S}/{session}/charter/signoff",
        json={"decision": "changes_requested", "comment": "Add the ERP cut-over"},
    )
    assert changes.status_code == 200, changes.text
    assert [
        (s["name"], s["role"], s["decision"], s["comment"]) for s in changes.json()["signoffs"]
    ] == [
        ("Fin", "sponsor", "approved", "Go ahead"),
        ("Ops", "operations", "changes_requested", "Add the ERP cut-over"),
    ]
    # Sign-off is per version: version 1 has none.
    assert (await ada.get(f"{S}/{session}/charter", params={"version": 1})).json()["signoffs"] == []

    pdf = await fin.get(f"{S}/{session}/charter", params={"format": "pdf"})
    assert pdf.headers["content-type"] == "application/pdf"
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    flat = " ".join(text.split())
    for expected in [
        "Project charter: Invoice automation (version 2)",
        "Problem statement",
        "Invoices are keyed by hand (v2)",
        "[must] Read PDF invoices",
        "Poor scans (likelihood medium, impact high); mitigation: Manual review queue",
        "Budget: 40,000 EUR",
        "Appendix: questions and answers",
        "Q: Stage 5, question 5: which option fits?",
        "Fin (sponsor): approved on",
        "Go ahead",
        "Ops (operations): requested changes on",
        "Add the ERP cut-over",
    ]:
        assert expected in flat, expected
