"""Knowledge bases through the HTTP API: create, upload Markdown and PDF, search, isolation."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fpdf import FPDF

from tests.api.conftest import Signup
from tests.api.flows import settled

GUIDE = b"""# Returns

## Refund window
Customers may return any product within 30 days for a full refund.

## Damaged goods
Damaged goods are replaced free of charge after a photo is sent to support.
"""


async def indexed(client: httpx.AsyncClient, upload: httpx.Response) -> dict[str, Any]:
    """The uploaded document once its `kb-ingest` run has finished."""
    assert upload.status_code == 202, upload.text
    doc = upload.json()
    assert (doc["status"], doc["chunk_count"]) == ("pending", 0)
    run = await settled(client, doc["run_id"], ("succeeded", "failed", "dead"))
    assert (run["workflow_id"], run["status"], run["inputs"]) == (
        "kb-ingest",
        "succeeded",
        {"document_id": doc["id"], "source": doc["source"]},
    )
    got = await client.get(f"/api/v1/knowledge-bases/{doc['kb_id']}/documents/{doc['id']}")
    return got.json()  # type: ignore[no-any-return]


def pdf(text: str) -> bytes:
    document = FPDF()
    document.add_page()
    document.set_font("helvetica", size=12)
    document.multi_cell(0, 8, text)
    return bytes(document.output())


async def test_a_user_fills_a_knowledge_base_and_searches_it(signup: Signup) -> None:
    admin = await signup("acme")
    created = await admin.client.post(
        "/api/v1/knowledge-bases", json={"name": "support", "description": "policies"}
    )
    assert created.status_code == 201
    assert created.json()["embedding_model"] == "local:minilm-l6-v2"
    markdown = await admin.client.post(
        "/api/v1/knowledge-bases/support/documents",
        params={"source": "returns.md", "metadata": '{"lang": "en"}'},
        content=GUIDE,
        headers={"Content-Type": "text/markdown"},
    )
    ready = await indexed(admin.client, markdown)
    picked = ("status", "chunk_count", "progress_done", "progress_total", "format", "metadata")
    assert {k: ready[k] for k in picked} == {
        "status": "ready",
        "chunk_count": 2,
        "progress_done": 2,
        "progress_total": 2,
        "format": "markdown",
        "metadata": {"lang": "en"},
    }
    again = await admin.client.post(
        "/api/v1/knowledge-bases/support/documents",
        params={"source": "returns.md"},
        content=GUIDE,
    )
    assert (again.status_code, again.json()["id"]) == (200, markdown.json()["id"])
    scanned = await admin.client.post(
        "/api/v1/knowledge-bases/support/documents",
        params={"source": "shipping.pdf"},
        content=pdf("Shipping\n\nOrders ship within two business days from our warehouse."),
        headers={"Content-Type": "application/pdf"},
    )
    pdf_doc = await indexed(admin.client, scanned)
    assert (pdf_doc["format"], pdf_doc["status"]) == ("pdf", "ready")
    history = f"/api/v1/runs/{pdf_doc['run_id']}/events/history"
    events = (await admin.client.get(history)).json()
    [ingested] = [e for e in events["items"] if e["type"] == "kb.document.ingested"]
    assert ingested["data"] == {
        "knowledge_base": "support",
        "document_id": pdf_doc["id"],
        "source": "shipping.pdf",
        "title": "shipping.pdf",
        "chunks": 1,
    }

    listing = (await admin.client.get("/api/v1/knowledge-bases")).json()["items"]
    assert [(kb["name"], kb["documents"], kb["chunks"]) for kb in listing] == [("support", 2, 3)]
    found = await admin.client.post(
        "/api/v1/knowledge-bases/support/search",
        json={"query": "how long do orders take to ship", "mode": "keyword", "k": 1},
    )
    assert found.status_code == 200
    [passage] = found.json()["items"]
    assert (passage["source"], passage["heading_path"], passage["keyword_rank"]) == (
        "shipping.pdf",
        ["Page 1"],
        1,
    )
    assert "<mark>ship</mark>" in passage["highlight"]

    rival = await signup("rival")
    assert (await rival.client.get("/api/v1/knowledge-bases/support")).status_code == 404
    stolen = await rival.client.post(
        "/api/v1/knowledge-bases/support/search", json={"query": "refund", "mode": "keyword"}
    )
    assert stolen.status_code == 404
    doc = markdown.json()["id"]
    assert (
        await rival.client.delete(f"/api/v1/knowledge-bases/{created.json()['id']}/documents/{doc}")
    ).status_code == 404
    deleted = await admin.client.delete(f"/api/v1/knowledge-bases/support/documents/{doc}")
    assert deleted.status_code == 204
    docs = (await admin.client.get("/api/v1/knowledge-bases/support/documents")).json()["items"]
    assert [d["source"] for d in docs] == ["shipping.pdf"]


async def test_hybrid_search_with_the_local_reranker(signup: Signup, api_db_url: str) -> None:
    if not api_db_url.startswith("sqlite"):
        pytest.skip("the machine's PostgreSQL has no pgvector; tests/retrieval cover pgvector")
    admin = await signup("acme")
    await admin.client.post("/api/v1/knowledge-bases", json={"name": "support"})
    upload = await admin.client.post(
        "/api/v1/knowledge-bases/support/documents", params={"source": "r.md"}, content=GUIDE
    )
    await indexed(admin.client, upload)
    found = await admin.client.post(
        "/api/v1/knowledge-bases/support/search",
        json={"query": "my parcel arrived broken", "mode": "hybrid", "rerank": "local", "k": 1},
    )
    assert [p["heading_path"] for p in found.json()["items"]] == [["Returns", "Damaged goods"]]
