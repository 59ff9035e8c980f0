"""Rerankers: given a query and candidate passages, a relevance score for each.

- `local`: the local embedding model scores each candidate by its best-matching sentence (the
  largest cosine similarity between the query and any of the passage's sentences, blended with
  the whole passage's). A passage that answers the query in one sentence among others is not
  diluted by the rest, which whole-chunk vectors are.
- `hosted`: a rerank API speaking the widely used wire format (`POST {base_url}/rerank` with
  `model`, `query`, `documents`, `top_n`; the answer's `results` carry `index` and
  `relevance_score`), as Cohere, Jina and compatible self-hosted servers do.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import httpx
import numpy as np

from batonflow.errors import ConfigError, ModelUnavailable
from batonflow.retrieval.embeddings import LocalEmbedder

_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")


class Reranker(Protocol):
    name: str

    async def scores(self, query: str, passages: Sequence[str]) -> list[float]: ...


class LocalReranker:
    name = "local"

    def __init__(self, embedder: LocalEmbedder | None = None) -> None:
        self._embedder = embedder or LocalEmbedder()

    async def scores(self, query: str, passages: Sequence[str]) -> list[float]:
        if not passages:
            return []
        sentences: list[str] = []
        owner: list[int] = []
        for index, passage in enumerate(passages):
            parts = [s for s in _SENTENCE.split(passage) if len(s.split()) >= 3] or [passage]
            sentences.extend(parts)
            owner.extend([index] * len(parts))
        vectors = await self._embedder.embed([query, *passages, *sentences])
        q = vectors[0]
        whole = vectors[1 : 1 + len(passages)] @ q
        best = np.full(len(passages), -1.0, dtype=np.float32)
        for index, similarity in zip(owner, vectors[1 + len(passages) :] @ q, strict=True):
            best[index] = max(best[index], similarity)
        return [float(0.5 * w + 0.5 * b) for w, b in zip(whole, best, strict=True)]


@dataclass
class HostedReranker:
    base_url: str
    model: str
    api_key: str | None = None
    client: httpx.AsyncClient | None = None
    name: str = "hosted"

    async def scores(self, query: str, passages: Sequence[str]) -> list[float]:
        if not passages:
            return []
        body = {
            "model": self.model,
            "query": query,
            "documents": list(passages),
            "top_n": len(passages),
        }
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        client = self.client or httpx.AsyncClient(timeout=30)
        try:
            response = await client.post(
                self.base_url.rstrip("/") + "/rerank", json=body, headers=headers
            )
        except httpx.HTTPError as exc:
            raise ModelUnavailable(f"the rerank API failed: {exc}") from exc
        finally:
            if self.client is None:
                await client.aclose()
        if response.status_code >= 400:
            raise ModelUnavailable(
                f"the rerank API answered {response.status_code}: {response.text[:200]}"
            )
        scores = [0.0] * len(passages)
        for result in response.json()["results"]:
            scores[int(result["index"])] = float(result["relevance_score"])
        return scores


def reranker(
    name: str | None,
    *,
    base_url: str | None = None,
    model: str | None = None,
    api_key: str | None = None,
) -> Reranker | None:
    """The reranker a search asks for by name (None: no rerank stage)."""
    if not name or name == "none":
        return None
    if name == "local":
        return LocalReranker()
    if name == "hosted":
        if not base_url:
            raise ConfigError("the hosted reranker needs BATONFLOW_RERANK_BASE_URL")
        return HostedReranker(base_url, model or "rerank-v3.5", api_key)
    raise ConfigError(f"unknown reranker '{name}'; use local or hosted")
