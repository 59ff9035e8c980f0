"""Documents attached to a session, through the API on SQLite and PostgreSQL: attached into the
session's own knowledge base and indexed, searched by the question and analysis agents (the
passages reach the model's prompt, and what it wrote names them as its sources), seen and
changed under the session's own rules, removed."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from batonflow.retrieval.search import citation_id
from tests.apps.scoping.conftest import Person, S, answer_stage, new_session, settled_stage, team
from tests.apps.scoping.model import Scoping

BRIEF = b"""# Supplier invoices

## Today
Suppliers email about 4,000 PDF invoices a month to the accounts payable team, who key each
one into the ERP by hand.
"""
PASSAGE = "Suppliers email about 4,000 PDF invoices a month to the accounts payable team"
KEEP = ("source", "title", "format", "size", "status", "error", "chunk_count")


async def attach(
    client: httpx.AsyncClient, session: str, source: str = "brief.md", body: bytes = BRIEF
) -> httpx.Response:
    return await client.post(
        f"{S}/{session}/documents",
        params={"source": source},
        content=body,
        headers={"Content-Type": "text/markdown"},
    )


async def indexed(client: httpx.AsyncClient, session: str, timeout: float = 60) -> dict[str, Any]:
    """The session's documents once none is waiting to be indexed."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        listing: dict[str, Any] = (await client.get(f"{S}/{session}/documents")).json()
        if all(d["status"] in ("ready", "failed") for d in listing["items"]):
            return listing
        assert loop.time() < deadline, listing
        await asyncio.sleep(0.05)


async def run_inputs(client: httpx.AsyncClient, run_id: str) -> dict[str, Any]:
    run = await client.get(f"/api/v1/runs/{run_id}")
    assert run.status_code == 200, run.text
    inputs: dict[str, Any] = run.json()["inputs"]
    return inputs


async def test_an_attached_document_shapes_the_questions_and_analysis(
    people: Person, script: Scoping
) -> None:
    ada = await people("acme")
    session = await new_session(ada)
    empty = await ada.get(f"{S}/{session}/documents")
    assert empty.json() == {"knowledge_base": None, "items": []}

    uploaded = await attach(ada, session)
    assert uploaded.status_code == 202, uploaded.text
    doc = uploaded.json()
    assert {k: doc[k] for k in KEEP} == {
        "source": "brief.md",
        "title": "brief.md",
        "format": "markdown",
        "size": len(BRIEF),
        "status": "pending",
        "error": None,
        "chunk_count": 0,
    }
    listing = await indexed(ada, session)
    [ready] = listing["items"]
    assert {k: ready[k] for k in ("id", *KEEP)} == {
        "id": doc["id"],
        "source": "brief.md",
        "title": "brief.md",
        "format": "markdown",
        "size": len(BRIEF),
        "status": "ready",
        "error": None,
        "chunk_count": 1,
    }
    # It lives in a knowledge base of the tenant's own, named for the session.
    kb = (await ada.get(f"/api/v1/knowledge-bases/{listing['knowledge_base']}")).json()
    assert (kb["name"], kb["documents"]) == (f"scoping-session-{session}", 1)
    again = await attach(ada, session)
    assert (again.status_code, again.json()["id"]) == (200, doc["id"])

    stage = await answer_stage(ada, session, 1, [])
    assert stage["status"] == "answering", stage["execution"]["error"]
    [question] = stage["questions"]
    source = {
        "citation": citation_id(doc["id"], 0),
        "document_id": doc["id"],
        "title": "brief.md",
        "source": "brief.md",
        "heading_path": ["Supplier invoices", "Today"],
    }
    assert question["sources"] == [source]
    asked = script.prompts[-1]
    assert PASSAGE in " ".join(asked.split())
    assert f"Passage {source['citation']}:" in asked
    run_id = stage["execution"]["run_id"]
    assert (await run_inputs(ada, run_id))["knowledge_base"] == listing["knowledge_base"]

    # The analysis reads the passages too, and records them.
    await ada.post(
        f"{S}/{session}/stages/1/answer",
        json={"question_id": question["id"], "answer": "The ERP stays"},
    )
    await settled_stage(ada, session, 1)
    assert (await ada.post(f"{S}/{session}/stages/1/done")).status_code == 200
    analysed = await settled_stage(ada, session, 1)
    assert (analysed["status"], analysed["analysis"]["sources"]) == ("analysed", [source])
    assert PASSAGE in " ".join(script.prompts[-1].split())


async def test_others_get_404_and_a_reader_cannot_attach_or_remove(people: Person) -> None:
    admin = await people("acme")
    ada = await people(admin=admin, email="ada@acme.example")
    bob = await people(admin=admin, email="bob@acme.example")
    cy = await people(admin=admin, email="cy@acme.example")
    session = await new_session(ada)
    doc = (await attach(ada, session)).json()
    await indexed(ada, session)

    rival = await people("rival")
    for client in (bob, rival):
        assert (await client.get(f"{S}/{session}/documents")).status_code == 404
        assert (await attach(client, session, "mine.md")).status_code == 404
        removed = await client.delete(f"{S}/{session}/documents/{doc['id']}")
        assert (removed.status_code, removed.json()["error"]["code"]) == (404, "not_found")

    # A read-only share (as the tenant's admin has) lists them, and changes nothing.
    shared = await ada.post(f"{S}/{session}/shares", json={"email": "cy@acme.example"})
    assert shared.status_code == 201, shared.text
    for reader in (cy, admin):
        listed = (await reader.get(f"{S}/{session}/documents")).json()["items"]
        assert [d["id"] for d in listed] == [doc["id"]]
        refused = await attach(reader, session, "mine.md")
        assert (refused.status_code, refused.json()["error"]["code"]) == (403, "forbidden")
        assert (await reader.delete(f"{S}/{session}/documents/{doc['id']}")).status_code == 403
    assert [d["id"] for d in (await indexed(ada, session))["items"]] == [doc["id"]]


async def test_a_removed_document_is_no_longer_searched(people: Person, script: Scoping) -> None:
    ada = await people("acme")
    session = await new_session(ada)
    doc = (await attach(ada, session)).json()
    kb_id = (await indexed(ada, session))["knowledge_base"]

    removed = await ada.delete(f"{S}/{session}/documents/{doc['id']}")
    assert removed.status_code == 204
    assert (await ada.get(f"{S}/{session}/documents")).json() == {
        "knowledge_base": kb_id,
        "items": [],
    }
    missing = await ada.delete(f"{S}/{session}/documents/{doc['id']}")
    assert missing.json()["error"]["message"] == (
        f"the session '{session}' has no document '{doc['id']}'"
    )

    stage = await answer_stage(ada, session, 1, [])
    assert stage["questions"][0]["sources"] == []
    assert "Passage " not in script.prompts[-1]
    assert (await run_inputs(ada, stage["execution"]["run_id"]))["knowledge_base"] == ""

    # Deleting the session deletes its knowledge base.
    assert (await ada.delete(f"{S}/{session}")).status_code == 204
    assert (await ada.get(f"/api/v1/knowledge-bases/{kb_id}")).status_code == 404


async def test_the_sessions_knowledge_base_is_the_owners_and_the_admins_alone(
    people: Person,
) -> None:
    admin, ada, bob, viewer, cy = await team(people)
    session = await new_session(ada)
    doc = (await attach(ada, session)).json()
    kb_id = (await indexed(ada, session))["knowledge_base"]
    name = f"scoping-session-{session}"
    shared = await ada.post(
        f"{S}/{session}/shares", json={"email": "cy@acme.example", "access": "edit"}
    )
    assert shared.status_code == 201, shared.text
    ada_id = (await ada.get("/api/v1/me")).json()["user"]["id"]
    kbs = "/api/v1/knowledge-bases"
    search = {"query": "supplier invoices", "mode": "keyword"}

    for seer in (ada, admin):
        listed = (await seer.get(kbs)).json()["items"]
        assert [(k["id"], k["name"], k["private_to"]) for k in listed] == [(kb_id, name, ada_id)]
        for ref in (kb_id, name):
            assert (await seer.get(f"{kbs}/{ref}")).json()["private_to"] == ada_id
        found = (await seer.post(f"{kbs}/{kb_id}/search", json=search)).json()["items"]
        assert [p["document_id"] for p in found] == [doc["id"]]

    # Everyone else, the people it is shared with included, finds no such knowledge base:
    # they read the session's documents through the session.
    for other in (bob, viewer, cy):
        assert (await other.get(kbs)).json() == {"items": []}
        for ref in (kb_id, name):
            for path in ("", "/documents", f"/documents/{doc['id']}"):
                missing = await other.get(f"{kbs}/{ref}{path}")
                assert (missing.status_code, missing.json()["error"]["code"]) == (
                    404,
                    "not_found",
                ), path
            assert (await other.post(f"{kbs}/{ref}/search", json=search)).status_code == 404
    for writer in (bob, cy):
        upload = await writer.post(
            f"{kbs}/{kb_id}/documents", params={"source": "mine.md"}, content=b"# Mine"
        )
        assert upload.status_code == 404
        assert (await writer.delete(f"{kbs}/{kb_id}/documents/{doc['id']}")).status_code == 404
        assert (await writer.delete(f"{kbs}/{kb_id}")).status_code == 404
    assert [d["id"] for d in (await indexed(ada, session))["items"]] == [doc["id"]]
    assert (await cy.get(f"{S}/{session}/documents")).json()["knowledge_base"] == kb_id

    # An admin's upload through the knowledge-base API is indexed by a run as private as the
    # knowledge base, which can therefore read it.
    upload = await admin.post(
        f"{kbs}/{kb_id}/documents",
        params={"source": "notes.md"},
        content=b"# Notes\n\nThe ERP stays.",
        headers={"Content-Type": "text/markdown"},
    )
    assert upload.status_code == 202, upload.text
    listing = await indexed(ada, session)
    assert {d["source"]: d["status"] for d in listing["items"]} == {
        "brief.md": "ready",
        "notes.md": "ready",
    }
    run = (await admin.get(f"/api/v1/runs/{upload.json()['run_id']}")).json()
    assert (run["workflow_id"], run["private_to"]) == ("kb-ingest", ada_id)
