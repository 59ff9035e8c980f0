"""Rerankers: a relevance score for each candidate passage (docs/retrieval.md). `local` scores a
passage by its best-matching sentence (blended with the whole passage), so one answering
sentence is not diluted by the rest as in whole-chunk vectors; `hosted` calls a rerank API in
the common wire format (`POST {base_url}/rerank`), as Cohere, Jina and compatible servers do.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import httpx
import numpy as np

from batonflow.errors import InvalidInput, ModelUnavailable
from batonflow.retrieval.embeddings import LocalEmbedder
from batonflow.settings import Settings

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
    """A rerank API: `POST {base_url}/rerank`; every candidate gets the score the API gives it."""

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
        url = self.base_url.rstrip("/") + "/rerank"
        client = self.client or httpx.AsyncClient(timeout=30)
        try:
            response = await client.post(url, json=body, headers=headers)
        except httpx.HTTPError as exc:
            raise ModelUnavailable(f"the rerank API at {url} failed: {exc!r}") from exc
        finally:
            if self.client is None:
                await client.aclose()
        if response.status_code >= 400:
            raise ModelUnavailable(
                f"the rerank API answered {response.status_code}: {response.text[:200]}"
            )
        scores: list[float | None] = [None] * len(passages)
        try:
            for result in response.json()["results"]:
                scores[int(result["index"])] = float(result["relevance_score"])
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            raise ModelUnavailable(
                f"the rerank API's answer is not a list of results with index and "
                f"relevance_score: {exc!r}"
            ) from exc
        # An API that returns fewer than top_n results leaves the rest last, in their order.
        floor = min((s for s in scores if s is not None), default=0.0) - 1.0
        return [floor if s is None else s for s in scores]


RERANKERS = ("none", "local", "hosted")


@dataclass(frozen=True)
class Rerankers:
    """Which reranker a search's `rerank` name means in this process (the hosted one from
    `BATONFLOW_RERANK_BASE_URL`, `_API_KEY` and `_MODEL`)."""

    base_url: str | None = None
    api_key: str | None = None
    model: str = "rerank-v3.5"

    @classmethod
    def of(cls, settings: Settings) -> Rerankers:
        key = settings.rerank_api_key
        return cls(
            base_url=settings.rerank_base_url,
            api_key=key.get_secret_value() if key is not None else None,
            model=settings.rerank_model,
        )

    def get(self, name: str | None) -> Reranker | None:
        """The reranker named (None: no rerank stage); `InvalidInput` for one this server
        cannot use."""
        if not name or name == "none":
            return None
        if name == "local":
            return LocalReranker()
        if name == "hosted":
            if not self.base_url:
                raise InvalidInput(
                    "this server has no hosted reranker (BATONFLOW_RERANK_BASE_URL is not set); "
                    "use rerank 'local' or 'none'"
                )
            return HostedReranker(self.base_url, self.model, self.api_key)
        raise InvalidInput(f"unknown reranker '{name}'; use one of {', '.join(RERANKERS)}")
