"""Ingestion as a workflow, on SQLite and PostgreSQL+pgvector: each new document is indexed by a
`kb-ingest` run (durable, retried, visible), which emits `kb.document.ingested`; a large upload
records its progress; a document that cannot be read fails its run and says why."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from batonflow.retrieval.service import EMBED_BATCH, Knowledge
from batonflow.retrieval.tools import start_ingestion
from batonflow.runs.service import Actor
from batonflow.store import runs as run_store
from batonflow.store.db import Conn, Database
from batonflow.workflows.executor import Executor

LARGE = "\n\n".join(
    f"## Policy {n}\nRule number {n} says that order {n} ships within {n % 7 + 1} days."
    for n in range(150)
).encode()


async def ingest_by_run(
    database: Database, executor: Executor, tenant: str, document: dict[str, Any]
) -> tuple[str, Any, list[Any]]:
    async def start(conn: Conn) -> Any:
        return await start_ingestion(conn, tenant, document, Actor("ada"), datetime.now(UTC))

    run = await database.write(start)
    statuses = await executor.drain([run.id], grace=60)

    async def read(conn: Conn) -> tuple[Any, list[Any]]:
        return (
            await run_store.get_run(conn, tenant, run.id),
            await run_store.list_events(conn, tenant, run.id),
        )

    stored, events = await database.read(read)
    return statuses[run.id], stored, events


async def test_a_document_is_indexed_by_a_kb_ingest_run_that_emits_an_event(
    database: Database, knowledge: Knowledge, tenant: str, executor: Executor
) -> None:
    await knowledge.create(tenant, "policies", actor="ada")
    added = await knowledge.add(tenant, "policies", "policies.md", LARGE)
    status, run, events = await ingest_by_run(database, executor, tenant, added.document)
    assert status == "succeeded", run.error
    assert (run.inputs, run.outputs) == (
        {"document_id": added.document["id"], "source": "policies.md"},
        {"status": "ready", "chunks": 150},
    )
    doc = await knowledge.document(tenant, "policies", added.document["id"])
    assert {k: doc[k] for k in ("status", "chunk_count", "progress_done", "progress_total")} == {
        "status": "ready",
        "chunk_count": 150,
        "progress_done": 150,
        "progress_total": 150,
    }
    assert doc["run_id"] == run.id
    [ingested] = [e for e in events if e.type == "kb.document.ingested"]
    assert (ingested.step_key, ingested.data) == (
        "ingest",
        {
            "knowledge_base": "policies",
            "document_id": doc["id"],
            "source": "policies.md",
            "title": "policies.md",
            "chunks": 150,
        },
    )
    found = await knowledge.search(tenant, ["policies"], "order 42 ships", mode="keyword", k=1)
    assert [p.heading_path for p in found] == [["Policy 42"]]


async def test_a_large_upload_reports_its_progress_batch_by_batch(
    knowledge: Knowledge, tenant: str
) -> None:
    await knowledge.create(tenant, "policies", actor="ada")
    added = await knowledge.add(tenant, "policies", "policies.md", LARGE)
    seen: list[tuple[int, int]] = []
    await knowledge.ingest(tenant, added.document["id"], progress=lambda *p: seen.append(p))
    assert EMBED_BATCH == 64
    assert seen == [(64, 150), (128, 150), (150, 150)]


async def test_a_document_that_cannot_be_read_fails_its_run_and_says_why(
    database: Database, knowledge: Knowledge, tenant: str, executor: Executor
) -> None:
    await knowledge.create(tenant, "policies", actor="ada")
    added = await knowledge.add(tenant, "policies", "broken.pdf", b"%PDF-1.4 not really a pdf")
    status, run, _ = await ingest_by_run(database, executor, tenant, added.document)
    doc = await knowledge.document(tenant, "policies", added.document["id"])
    assert (status, run.error["code"]) == ("failed", "input_invalid")
    assert (doc["status"], doc["error"], doc["chunk_count"]) == (
        "failed",
        run.error["message"],
        0,
    )
