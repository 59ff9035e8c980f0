"""Searching knowledge bases: keyword, vector, or hybrid (both lists fused by reciprocal rank,
then an optional rerank stage), always for one tenant and the knowledge bases given.

The query is embedded before the read transaction (a model must not run inside it); both
searches and the chunk rows are then one read. Every passage carries a citation id that stays
the same while its document is unchanged: the document's id and the chunk's position.
"""

from __future__ import annotations

import html
import re
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal, TypeVar

from batonflow.errors import InvalidInput
from batonflow.llm.ledger import CallScope
from batonflow.llm.records import CallRecord
from batonflow.retrieval.embeddings import Embedders
from batonflow.retrieval.rerank import Reranker
from batonflow.store import kb_search
from batonflow.store.db import Conn
from batonflow.store.kb_search import Filters

Mode = Literal["keyword", "vector", "hybrid"]
MODES = ("keyword", "vector", "hybrid")
T = TypeVar("T")
H = TypeVar("H", bound=Hashable)
Read = Callable[[Callable[[Conn], Awaitable[T]]], Awaitable[T]]
STOPWORDS = frozenset(
    "a an and are as at be by do does for from how i in is it of on or that the this to was "
    "what when where which who why will with you your can my we our".split()
)
_WORD = re.compile(r"\w+")


def rrf(rankings: Sequence[Sequence[H]], k: int = 60) -> list[tuple[H, float]]:
    """Reciprocal rank fusion: each list (best first) votes 1 / (k + rank) for its items, which
    are ordered by their summed votes (ties in the order first seen). It needs no calibration
    between lists (bm25 and cosine similarity live on different scales), and an item both lists
    rank well beats one that only one list ranks first."""
    scores: dict[H, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda pair: -pair[1])


@dataclass(frozen=True)
class Passage:
    citation: str
    chunk_id: int
    knowledge_base: str
    document_id: str
    title: str
    source: str
    heading_path: list[str]
    position: int
    text: str
    score: float
    highlight: str
    metadata: dict[str, Any]
    keyword_rank: int | None = None
    vector_rank: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def citation_id(document_id: str, position: int) -> str:
    return f"{document_id.replace('-', '')[-12:]}-{position}"


def terms(query: str) -> list[str]:
    """The query's search terms: lower-cased words, stop words dropped (unless nothing else)."""
    words = [w.lower() for w in _WORD.findall(query)]
    kept = [w for w in words if w not in STOPWORDS]
    return list(dict.fromkeys(kept or words))[:32]


def highlight(text: str, query_terms: Sequence[str]) -> str:
    """The text, HTML-escaped, with words that match a query term (or share its stem) marked."""
    stems = {t[: max(4, len(t) - 2)] if len(t) > 4 else t for t in query_terms}

    def mark(match: re.Match[str]) -> str:
        word = match.group(0)
        lower = word.lower()
        hit = any(lower == s or (len(s) >= 4 and lower.startswith(s)) for s in stems)
        return f"<mark>{html.escape(word)}</mark>" if hit else html.escape(word)

    out: list[str] = []
    last = 0
    for match in _WORD.finditer(text):
        out.append(html.escape(text[last : match.start()]))
        out.append(mark(match))
        last = match.end()
    out.append(html.escape(text[last:]))
    return "".join(out)


@dataclass(frozen=True)
class Searcher:
    """Search with a process's embedders and optional reranker."""

    embedders: Embedders

    async def search(
        self,
        read: Read[Any],
        tenant_id: str,
        kbs: Sequence[dict[str, Any]],
        query: str,
        *,
        mode: str = "hybrid",
        k: int = 5,
        filters: Filters = Filters(),  # noqa: B008
        reranker: Reranker | None = None,
        scope: CallScope | None = None,
        calls: list[CallRecord] | None = None,
    ) -> list[Passage]:
        """The best `k` passages; a paid embeddings call for the query is recorded as `scope`'s
        (by default the tenant's) and added to `calls`."""
        if mode not in MODES:
            raise InvalidInput(f"mode must be one of {', '.join(MODES)}")
        if not query.strip():
            raise InvalidInput("the query is empty")
        if not kbs:
            return []
        k = max(1, min(k, 100))
        depth = max(k * 4, 20) if mode == "hybrid" or reranker else k
        words = terms(query)
        models = {(kb["embedding_model"], int(kb["dimensions"])) for kb in kbs}
        if mode != "keyword" and len(models) > 1:
            raise InvalidInput("vector search needs knowledge bases with the same embedding model")
        vector = None
        if mode != "keyword":
            name, dims = next(iter(models))
            embedder = self.embedders.get(name, dims, scope or CallScope(tenant_id), calls)
            vector = (await embedder.embed([query]))[0]
        kb_ids = [kb["id"] for kb in kbs]
        names = {kb["id"]: kb["name"] for kb in kbs}

        async def work(conn: Conn) -> tuple[list[Any], list[Any], dict[int, dict[str, Any]]]:
            keyword = (
                await kb_search.keyword(conn, tenant_id, kb_ids, words, depth, filters)
                if mode != "vector"
                else []
            )
            nearest = (
                await kb_search.vector(
                    conn, tenant_id, kb_ids, int(kbs[0]["dimensions"]), vector, depth, filters
                )
                if vector is not None
                else []
            )
            ids = {i for i, _ in keyword} | {i for i, _ in nearest}
            return keyword, nearest, await kb_search.chunk_rows(conn, tenant_id, list(ids))

        keyword, nearest, rows = await read(work)
        keyword_rank = {chunk: rank for rank, (chunk, _) in enumerate(keyword, start=1)}
        vector_rank = {chunk: rank for rank, (chunk, _) in enumerate(nearest, start=1)}
        if mode == "keyword":
            ranked = keyword
        elif mode == "vector":
            ranked = nearest
        else:
            ranked = rrf([[c for c, _ in keyword], [c for c, _ in nearest]])
        ranked = [(chunk, score) for chunk, score in ranked if chunk in rows]
        if reranker is not None and ranked:
            scores = await reranker.scores(query, [_indexed(rows[c]) for c, _ in ranked])
            ranked = sorted(
                zip([c for c, _ in ranked], scores, strict=True), key=lambda pair: -pair[1]
            )
        passages = []
        for chunk, score in ranked[:k]:
            row = rows[chunk]
            passages.append(
                Passage(
                    citation=citation_id(row["document_id"], row["position"]),
                    chunk_id=chunk,
                    knowledge_base=names[row["kb_id"]],
                    document_id=row["document_id"],
                    title=row["title"],
                    source=row["source"],
                    heading_path=[p for p in row["heading"].split(" > ") if p],
                    position=row["position"],
                    text=row["text"],
                    score=round(float(score), 6),
                    highlight=highlight(row["text"], words),
                    metadata=row["metadata"] or {},
                    keyword_rank=keyword_rank.get(chunk),
                    vector_rank=vector_rank.get(chunk),
                )
            )
        return passages


def _indexed(row: dict[str, Any]) -> str:
    return f"{row['heading']}\n{row['text']}" if row["heading"] else str(row["text"])
