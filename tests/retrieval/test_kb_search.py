"""The store's keyword search stays confined and exact when other tenants' and other knowledge
bases' matches outrank the tenant's by the hundreds, on SQLite and PostgreSQL+pgvector."""

from __future__ import annotations

import numpy as np

from batonflow.retrieval.service import Knowledge
from batonflow.store import kb as kb_store
from batonflow.store import kb_search
from batonflow.store.db import Database
from tests.retrieval.conftest import new_tenant


async def stored(
    database: Database, knowledge: Knowledge, tenant: str, kb_name: str, texts: list[str]
) -> list[int]:
    """`texts` as the chunks of one document of `kb_name`, written straight to the store."""
    kb = await knowledge.get(tenant, kb_name)
    added = await knowledge.add(tenant, kb_name, f"{len(texts)}.txt", str(texts).encode())
    rows = [
        {"position": i, "heading": "", "text": text, "tokens": len(text.split())}
        for i, text in enumerate(texts)
    ]
    vectors = np.zeros((len(texts), 384), dtype=np.float32)
    vectors[:, 0] = 1.0
    return await database.write(
        lambda conn: kb_store.replace_chunks(conn, tenant, kb, added.document["id"], rows, vectors)
    )


async def test_the_tenants_matches_are_found_under_hundreds_of_better_ones(
    database: Database, knowledge: Knowledge, tenant: str
) -> None:
    rival = await new_tenant(database, "rival")
    await knowledge.create(rival, "loud", actor="eve")
    await stored(database, knowledge, rival, "loud", ["refund refund window"] * 1700)
    await knowledge.create(tenant, "docs", actor="ada")
    await knowledge.create(tenant, "other", actor="ada")
    await stored(database, knowledge, tenant, "other", ["refund window refund"] * 300)
    mine = await stored(
        database,
        knowledge,
        tenant,
        "docs",
        [
            "A refund is paid back within a week, whatever the reason for the return was.",
            "Shipping takes two days.",
            "The refund window is thirty days long, counted from the delivery of the order.",
        ],
    )
    docs = await knowledge.get(tenant, "docs")

    async def search(k: int) -> list[int]:
        found = await database.read(
            lambda conn: kb_search.keyword(conn, tenant, [docs["id"]], ["refund", "window"], k)
        )
        return [chunk for chunk, _ in found]

    assert await search(1) == [mine[2]]
    assert await search(5) == [mine[2], mine[0]]
