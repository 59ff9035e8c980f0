"""Paid retrieval models through the API, on SQLite and PostgreSQL+pgvector, against a loopback
server speaking their wire formats: `openai:<model>` knowledge bases embed through an
OpenAI-compatible `/embeddings` endpoint, each call in the ledger; `rerank: "hosted"` asks a
Cohere-style `/rerank` API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import select, text

from batonflow.api.app import create_app
from batonflow.apps.app import Apps, migration_branches
from batonflow.llm.registry import build_gateway
from batonflow.retrieval.service import Knowledge
from batonflow.settings import Settings
from batonflow.store import migrate
from batonflow.store import runs as run_store
from batonflow.store.db import Database, create_engine
from batonflow.store.llm_calls import DatabaseLedger, list_calls
from batonflow.store.tables import Base, LlmCall, table
from batonflow.workflows.checkpoint import SpecCache
from batonflow.workflows.executor import Executor
from batonflow_testkit.fakeretrieval import words
from batonflow_testkit.fakeserver import Fail, FakeProvider, Malformed
from tests.api.conftest import PASSWORD, client_for, core_apps
from tests.api.flows import settled
from tests.conftest import start
from tests.retrieval.conftest import KB_TABLES, registry, settings

GUIDE = b"""# Returns

## Refund window
Customers may return any product within 30 days for a full refund.

## Damaged goods
Damaged goods are replaced free of charge after a photo is sent to support.
"""
SEARCH = "/api/v1/knowledge-bases/support/search"


@pytest.fixture(params=["sqlite", "pgvector"])
async def kb_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'api.db'}"
    url: str = request.getfixturevalue("pgvector_url")
    engine = create_engine(url)
    await migrate.upgrade(engine, branches=migration_branches(Apps()))
    names = ", ".join(t.name for t in Base.metadata.sorted_tables)
    async with engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {names}, {KB_TABLES} CASCADE"))
    await engine.dispose()
    return url


@pytest.fixture
async def provider() -> AsyncIterator[FakeProvider]:
    async with FakeProvider() as server:
        yield server


def app_settings(tmp_path: Path, url: str, **more: Any) -> Settings:
    return Settings(
        dev=True,
        data_dir=tmp_path,
        database_url=url,
        poll_seconds=0.05,
        worker_id="hosted-test",
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        **more,
    )


@dataclass
class Served:
    app: FastAPI
    admin: httpx.AsyncClient


async def serve(settings: Settings) -> AsyncIterator[Served]:
    app = create_app(settings, apps=core_apps())
    async with app.router.lifespan_context(app), client_for(app) as anonymous:
        registered = await anonymous.post(
            "/api/v1/auth/register",
            json={
                "tenant": "acme",
                "email": "admin@acme.example",
                "password": PASSWORD,
                "name": "Admin",
            },
        )
        assert registered.status_code == 201, registered.text
        async with client_for(app, registered.json()["access_token"]) as admin:
            yield Served(app, admin)


@pytest.fixture
async def hosted(kb_url: str, provider: FakeProvider, tmp_path: Path) -> AsyncIterator[Served]:
    """The API with an embeddings endpoint and a rerank API, both on the loopback `provider`."""
    settings = app_settings(
        tmp_path,
        kb_url,
        embeddings_base_url=provider.openai_url,
        embeddings_api_key=SecretStr("sk-embed-test"),
        rerank_base_url=provider.openai_url,
        rerank_api_key=SecretStr("rk-rerank-test"),
        rerank_model="rerank-test",
    )
    async for served in serve(settings):
        yield served


@pytest.fixture
async def plain(kb_url: str, tmp_path: Path) -> AsyncIterator[Served]:
    """The API configured with neither."""
    async for served in serve(app_settings(tmp_path, kb_url)):
        yield served


async def ledger(served: Served, kb_url: str) -> list[dict[str, Any]]:
    engine = create_engine(kb_url)
    calls = table(LlmCall)
    columns = [calls.c[n] for n in ("run_id", "step_key", "provider", "model", "status")]
    columns += [calls.c[n] for n in ("input_tokens", "output_tokens", "cost_usd", "price_version")]
    async with engine.connect() as conn:
        rows = await conn.execute(select(*columns).order_by(calls.c.created_at, calls.c.id))
        found = [dict(row._mapping) for row in rows]
    await engine.dispose()
    return found


async def upload(admin: httpx.AsyncClient, model: str) -> dict[str, Any]:
    """A knowledge base on `model` (64 dimensions from an endpoint) holding GUIDE, indexed."""
    dimensions = 384 if model.startswith("local:") else 64
    created = await admin.post(
        "/api/v1/knowledge-bases",
        json={"name": "support", "embedding_model": model, "dimensions": dimensions},
    )
    assert created.status_code == 201, created.text
    assert (created.json()["embedding_model"], created.json()["dimensions"]) == (model, dimensions)
    sent = await admin.post(
        "/api/v1/knowledge-bases/support/documents",
        params={"source": "returns.md"},
        content=GUIDE,
        headers={"Content-Type": "text/markdown"},
    )
    assert sent.status_code == 202, sent.text
    run = await settled(admin, sent.json()["run_id"], ("succeeded", "failed", "dead"))
    doc = await admin.get(f"/api/v1/knowledge-bases/support/documents/{sent.json()['id']}")
    return {"run": run, "document": doc.json()}


def chunk_words(text_: str) -> int:
    return len(words(text_))


async def test_an_openai_knowledge_base_embeds_through_the_endpoint_and_each_call_is_accounted(
    hosted: Served, provider: FakeProvider, kb_url: str
) -> None:
    done = await upload(hosted.admin, "openai:text-embedding-3-small")
    assert (done["run"]["status"], done["document"]["status"]) == ("succeeded", "ready")
    assert done["document"]["chunk_count"] == 2
    [ingest] = provider.requests
    chunks = [
        "Returns > Refund window\nCustomers may return any product within 30 days for a full "
        "refund.",
        "Returns > Damaged goods\nDamaged goods are replaced free of charge after a photo is "
        "sent to support.",
    ]
    assert (ingest.path, ingest.headers["authorization"], ingest.body) == (
        "/v1/embeddings",
        "Bearer sk-embed-test",
        {"model": "text-embedding-3-small", "input": chunks, "encoding_format": "float"},
    )

    found = await hosted.admin.post(
        SEARCH, json={"query": "photo of damaged goods", "mode": "vector", "k": 1}
    )
    assert found.status_code == 200, found.text
    assert [p["heading_path"] for p in found.json()["items"]] == [["Returns", "Damaged goods"]]
    assert provider.requests[-1].body["input"] == ["photo of damaged goods"]

    tokens = sum(chunk_words(c) for c in chunks)
    run_id = done["run"]["id"]
    assert await ledger(hosted, kb_url) == [
        {
            "run_id": run_id,
            "step_key": "ingest",
            "provider": "openai",
            "model": "text-embedding-3-small",
            "status": "ok",
            "input_tokens": tokens,
            "output_tokens": 0,
            "cost_usd": Decimal("0.02") * tokens / 1_000_000,
            "price_version": "2026-11-01",
        },
        {
            "run_id": None,
            "step_key": None,
            "provider": "openai",
            "model": "text-embedding-3-small",
            "status": "ok",
            "input_tokens": 4,
            "output_tokens": 0,
            "cost_usd": Decimal("0.02") * 4 / 1_000_000,
            "price_version": "2026-11-01",
        },
    ]
    # The ingestion run shows its embeddings call like any model call.
    listed = (await hosted.admin.get(f"/api/v1/runs/{run_id}/llm-calls")).json()["items"]
    assert [(c["model"], c["input_tokens"], c["status"]) for c in listed] == [
        ("text-embedding-3-small", tokens, "ok")
    ]


async def test_a_model_the_price_table_leaves_out_is_recorded_unpriced_and_failures_are_too(
    hosted: Served, provider: FakeProvider, kb_url: str
) -> None:
    done = await upload(hosted.admin, "openai:house-embedder")
    assert done["document"]["status"] == "ready"
    provider.script(Fail(503, message="embedder down"))
    failed = await hosted.admin.post(SEARCH, json={"query": "refund window", "mode": "hybrid"})
    assert (failed.status_code, failed.json()["error"]["code"]) == (502, "model_unavailable")
    assert "the embeddings endpoint answered 503" in failed.json()["error"]["message"]
    provider.script(Malformed())
    broken = await hosted.admin.post(SEARCH, json={"query": "refund window", "mode": "vector"})
    assert broken.status_code == 502
    assert "not an embeddings list" in broken.json()["error"]["message"]
    rows = await ledger(hosted, kb_url)
    assert [
        (r["model"], r["status"], r["input_tokens"], r["cost_usd"], r["price_version"])
        for r in rows
    ] == [
        ("house-embedder", "ok", 32, None, None),
        ("house-embedder", "error", 0, None, None),
        ("house-embedder", "error", 0, None, None),
    ]
    # Keyword search needs no embedding: nothing more is called or recorded.
    seen = len(provider.requests)
    keyword = await hosted.admin.post(SEARCH, json={"query": "refund window", "mode": "keyword"})
    assert [p["heading_path"] for p in keyword.json()["items"]][:1] == [
        ["Returns", "Refund window"]
    ]
    assert len(provider.requests) == seen


async def test_the_hosted_reranker_orders_the_candidates_by_the_apis_scores(
    hosted: Served, provider: FakeProvider
) -> None:
    await upload(hosted.admin, "local:minilm-l6-v2")
    found = await hosted.admin.post(
        SEARCH,
        json={"query": "replaced photo support", "mode": "keyword", "rerank": "hosted", "k": 2},
    )
    assert found.status_code == 200, found.text
    assert [(p["heading_path"], p["score"]) for p in found.json()["items"]] == [
        (["Returns", "Damaged goods"], 1.0),
    ]
    [asked] = provider.requests
    assert (asked.path, asked.headers["authorization"]) == ("/v1/rerank", "Bearer rk-rerank-test")
    assert asked.body == {
        "model": "rerank-test",
        "query": "replaced photo support",
        "documents": [
            "Returns > Damaged goods\nDamaged goods are replaced free of charge after a photo "
            "is sent to support."
        ],
        "top_n": 1,
    }
    both = await hosted.admin.post(
        SEARCH, json={"query": "photo refund window", "mode": "hybrid", "rerank": "hosted", "k": 2}
    )
    assert [(p["heading_path"], p["score"]) for p in both.json()["items"]] == [
        (["Returns", "Refund window"], 0.666667),
        (["Returns", "Damaged goods"], 0.333333),
    ]
    assert len(provider.requests[-1].body["documents"]) == 2  # every fused candidate

    provider.script(Fail(500, message="reranker down"))
    failed = await hosted.admin.post(
        SEARCH, json={"query": "refund", "mode": "keyword", "rerank": "hosted"}
    )
    assert (failed.status_code, failed.json()["error"]["code"]) == (502, "model_unavailable")
    assert failed.json()["error"]["message"].startswith("the rerank API answered 500")


async def test_an_unconfigured_server_says_what_to_set(plain: Served) -> None:
    refused = await plain.admin.post(
        "/api/v1/knowledge-bases",
        json={"name": "support", "embedding_model": "openai:text-embedding-3-small"},
    )
    assert refused.status_code == 422
    assert "BATONFLOW_EMBEDDINGS_BASE_URL is not set" in refused.json()["error"]["message"]
    await upload(plain.admin, "local:minilm-l6-v2")
    hosted = await plain.admin.post(SEARCH, json={"query": "refund", "rerank": "hosted"})
    assert (hosted.status_code, hosted.json()["error"]["message"]) == (
        422,
        "this server has no hosted reranker (BATONFLOW_RERANK_BASE_URL is not set); "
        "use rerank 'local' or 'none'",
    )


FIND = """
id: find-hosted
version: 1
inputs:
  question: {type: string}
steps:
  - id: find
    kind: retrieve
    knowledge_base: support
    query: "{{ inputs.question }}"
    k: 2
    mode: vector
    rerank: hosted
outputs:
  passages: "{{ state.find.passages }}"
"""


async def test_a_retrieve_step_embeds_and_reranks_hosted_and_its_calls_are_the_runs(
    database: Database, tenant: str, provider: FakeProvider, tmp_path: Path
) -> None:
    configured = settings(tmp_path).model_copy(
        update={
            "embeddings_base_url": provider.openai_url,
            "rerank_base_url": provider.openai_url,
        }
    )
    gateway = build_gateway(configured, DatabaseLedger(database))
    # The executor builds its embedders and rerankers from the settings, on the gateway's ledger.
    executor = Executor(
        database.engine, registry(gateway), configured, specs=SpecCache(), gateway=gateway
    )
    knowledge = Knowledge(database.write, database.read, executor.step_context.embedders)
    await knowledge.create(
        tenant,
        "support",
        actor="tester",
        embedding_model="openai:text-embedding-3-large",
        dimensions=64,
    )
    added = await knowledge.add(tenant, "support", "returns.md", GUIDE)
    await knowledge.ingest(tenant, added.document["id"])
    try:
        row = await start(
            database.engine, tenant, FIND, {"question": "photo refund window"}, executor.registry
        )
        status = await executor.drain([row.id], grace=60)
    finally:
        executor.close()
    stored = await database.read(lambda conn: run_store.get_run(conn, tenant, row.id))
    assert status[row.id] == "succeeded", stored.error
    assert [(p["heading_path"], p["score"]) for p in stored.outputs["passages"]] == [
        (["Returns", "Refund window"], 0.666667),
        (["Returns", "Damaged goods"], 0.333333),
    ]
    assert [r.path for r in provider.requests] == ["/v1/embeddings", "/v1/embeddings", "/v1/rerank"]
    calls = await database.read(lambda conn: list_calls(conn, tenant, row.id))
    assert [
        (c["step_key"], c["attempt"], c["model"], c["input_tokens"], c["cost_usd"]) for c in calls
    ] == [("find", 1, "text-embedding-3-large", 3, Decimal("0.13") * 3 / 1_000_000)]
    events = await database.read(lambda conn: run_store.list_events(conn, tenant, row.id))
    [call] = [e.data for e in events if e.type == "llm.call"]
    assert (call["model"], call["input_tokens"], call["cost_usd"]) == (
        "text-embedding-3-large",
        3,
        str(Decimal("0.13") * 3 / 1_000_000),
    )
