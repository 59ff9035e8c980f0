"""Knowledge bases as a user fills and searches them, on SQLite and PostgreSQL+pgvector."""

from __future__ import annotations

import pytest

from batonflow.errors import Conflict, NotFound
from batonflow.retrieval.service import Knowledge
from batonflow.store import kb as kb_store
from batonflow.store.db import Database
from batonflow.store.kb_search import Filters
from tests.retrieval.conftest import new_tenant

PRICING = b"""# Pricing

## Starter plan
The starter plan costs 20 dollars per month and covers up to five users.

## Enterprise plan
Enterprise pricing is negotiated per contract. Volume discounts start at 50 seats.

# Security
All customer data is encrypted at rest with AES-256 and in transit with TLS 1.3.
Single sign-on through SAML is available to enterprise customers.
"""

ONBOARDING = b"""<html><head><title>Onboarding</title></head><body>
<h1>Getting started</h1><p>Invite your teammates from the settings page.</p>
<h2>Support</h2><p>Our support desk answers within four business hours.</p>
</body></html>"""


async def fill(knowledge: Knowledge, tenant: str, name: str = "docs") -> dict[str, str]:
    await knowledge.create(tenant, name, actor="ada")
    ids = {}
    for source, data in (("pricing.md", PRICING), ("onboarding.html", ONBOARDING)):
        added = await knowledge.add(tenant, name, source, data, metadata={"team": source[:3]})
        await knowledge.ingest(tenant, added.document["id"])
        ids[source] = added.document["id"]
    return ids


async def counts(database: Database, tenant: str, kb: str) -> dict[str, int]:
    return await database.read(lambda conn: kb_store.count_chunks(conn, tenant, kb))


async def test_documents_are_chunked_by_heading_and_indexed_for_both_searches(
    knowledge: Knowledge, database: Database, tenant: str
) -> None:
    ids = await fill(knowledge, tenant)
    kb = await knowledge.get(tenant, "docs")
    assert (kb["documents"], kb["chunks"]) == (2, 5)
    assert await counts(database, tenant, kb["id"]) == {"chunks": 5, "keyword": 5, "vectors": 5}
    docs = {d["source"]: d for d in await knowledge.documents(tenant, "docs")}
    assert {
        s: (d["status"], d["chunk_count"], d["format"], d["title"]) for s, d in docs.items()
    } == {
        "pricing.md": ("ready", 3, "markdown", "pricing.md"),
        "onboarding.html": ("ready", 2, "html", "onboarding.html"),
    }
    found = await knowledge.search(tenant, ["docs"], "support desk hours", mode="keyword", k=1)
    assert [(p.document_id, p.heading_path, p.text) for p in found] == [
        (
            ids["onboarding.html"],
            ["Getting started", "Support"],
            "Our support desk answers within four business hours.",
        )
    ]
    assert found[0].highlight == (
        "Our <mark>support</mark> <mark>desk</mark> answers within four business "
        "<mark>hours</mark>."
    )


@pytest.mark.parametrize(
    ("query", "heading"),
    [
        ("how much does the enterprise plan cost", ["Pricing", "Enterprise plan"]),
        ("is my data encrypted", ["Security"]),
        ("who answers questions when I am stuck", ["Getting started", "Support"]),
    ],
)
async def test_every_mode_finds_the_passage_that_answers(
    knowledge: Knowledge, tenant: str, query: str, heading: list[str]
) -> None:
    await fill(knowledge, tenant)
    for mode in ("vector", "hybrid"):
        found = await knowledge.search(tenant, ["docs"], query, mode=mode, k=2)
        assert heading in [p.heading_path for p in found], mode


async def test_the_same_content_again_is_a_no_op_and_a_changed_one_replaces_its_chunks(
    knowledge: Knowledge, database: Database, tenant: str
) -> None:
    ids = await fill(knowledge, tenant)
    again = await knowledge.add(tenant, "docs", "pricing.md", PRICING)
    twin = await knowledge.add(tenant, "docs", "copy-of-pricing.md", PRICING)
    assert (again.changed, again.document["id"]) == (False, ids["pricing.md"])
    assert (twin.changed, twin.document["id"]) == (False, ids["pricing.md"])

    changed = await knowledge.add(tenant, "docs", "pricing.md", b"# Pricing\nEverything is free.")
    assert (changed.changed, changed.document["id"], changed.document["status"]) == (
        True,
        ids["pricing.md"],
        "pending",
    )
    await knowledge.ingest(tenant, ids["pricing.md"])
    kb = await knowledge.get(tenant, "docs")
    assert await counts(database, tenant, kb["id"]) == {"chunks": 3, "keyword": 3, "vectors": 3}
    found = await knowledge.search(tenant, ["docs"], "enterprise volume discounts", mode="keyword")
    assert found == []
    free = await knowledge.search(tenant, ["docs"], "free", mode="keyword")
    assert [(p.citation, p.text) for p in free] == [
        (f"{ids['pricing.md'].replace('-', '')[-12:]}-0", "Everything is free.")
    ]


async def test_deleting_removes_every_chunk_and_vector(
    knowledge: Knowledge, database: Database, tenant: str
) -> None:
    ids = await fill(knowledge, tenant)
    kb = await knowledge.get(tenant, "docs")
    await knowledge.remove(tenant, "docs", ids["pricing.md"])
    assert await counts(database, tenant, kb["id"]) == {"chunks": 2, "keyword": 2, "vectors": 2}
    with pytest.raises(NotFound):
        await knowledge.document(tenant, "docs", ids["pricing.md"])
    await knowledge.delete(tenant, "docs")
    assert await counts(database, tenant, kb["id"]) == {"chunks": 0, "keyword": 0, "vectors": 0}
    assert await knowledge.all(tenant) == []


async def test_filters_confine_a_search_to_documents_and_metadata(
    knowledge: Knowledge, tenant: str
) -> None:
    ids = await fill(knowledge, tenant)
    for mode in ("keyword", "vector", "hybrid"):
        by_meta = await knowledge.search(
            tenant,
            ["docs"],
            "plan support pricing",
            mode=mode,
            filters=Filters(metadata={"team": "onb"}),
        )
        assert {p.document_id for p in by_meta} == {ids["onboarding.html"]}, mode
        by_doc = await knowledge.search(
            tenant,
            ["docs"],
            "plan support pricing",
            mode=mode,
            filters=Filters(document_ids=(ids["pricing.md"],)),
        )
        assert {p.document_id for p in by_doc} == {ids["pricing.md"]}, mode


async def test_another_tenants_passages_never_come_back(
    knowledge: Knowledge, database: Database, tenant: str
) -> None:
    await fill(knowledge, tenant)
    rival = await new_tenant(database, "rival")
    await knowledge.create(rival, "docs", actor="eve")
    secret = b"# Pricing\nRival enterprise plan pricing: 999 dollars per seat, encrypted support."
    added = await knowledge.add(rival, "docs", "secret.md", secret)
    await knowledge.ingest(rival, added.document["id"])
    for mode in ("keyword", "vector", "hybrid"):
        found = await knowledge.search(
            tenant, ["docs"], "rival enterprise pricing 999", mode=mode, k=20
        )
        assert found, mode
        assert all("Rival" not in p.text for p in found), mode
        theirs = await knowledge.search(rival, ["docs"], "enterprise pricing", mode=mode, k=20)
        assert [p.document_id for p in theirs] == [added.document["id"]], mode
    rival_kb = await knowledge.get(rival, "docs")
    with pytest.raises(NotFound):
        await knowledge.search(tenant, [rival_kb["id"]], "pricing")
    with pytest.raises(NotFound):
        await knowledge.document(tenant, rival_kb["id"], added.document["id"])
    with pytest.raises(NotFound):
        await knowledge.remove(tenant, "docs", added.document["id"])


async def test_names_are_unique_per_tenant(
    knowledge: Knowledge, database: Database, tenant: str
) -> None:
    await knowledge.create(tenant, "docs", actor="ada")
    with pytest.raises(Conflict):
        await knowledge.create(tenant, "docs", actor="ada")
    rival = await new_tenant(database, "rival")
    assert (await knowledge.create(rival, "docs", actor="eve"))["name"] == "docs"
