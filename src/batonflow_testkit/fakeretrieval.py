"""What the loopback `FakeProvider` answers to `POST .../embeddings` (OpenAI's wire format) and
`POST .../rerank` (Cohere's and Jina's): deterministic stand-ins for meaning, so tests can say
exactly what a search finds and what it costs."""

from __future__ import annotations

import hashlib
import re
from typing import Any


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def hashed_vector(text: str, dimensions: int) -> list[float]:
    """A text's words counted into `dimensions` buckets by a stable hash (the fake's meaning)."""
    vector = [0.0] * dimensions
    for word in words(text):
        vector[int(hashlib.sha256(word.encode()).hexdigest(), 16) % dimensions] += 1.0
    return vector


def embeddings_answer(body: dict[str, Any], dimensions: int) -> dict[str, Any]:
    inputs = body.get("input", [])
    texts = [inputs] if isinstance(inputs, str) else list(inputs)
    size = int(body.get("dimensions") or dimensions)
    return {
        "object": "list",
        "data": [
            {"object": "embedding", "index": i, "embedding": hashed_vector(text, size)}
            for i, text in enumerate(texts)
        ],
        "model": body.get("model", "fake"),
        "usage": {
            "prompt_tokens": sum(len(words(t)) for t in texts),
            "total_tokens": sum(len(words(t)) for t in texts),
        },
    }


def rerank_answer(body: dict[str, Any]) -> dict[str, Any]:
    query = set(words(str(body.get("query", ""))))
    documents = [d if isinstance(d, str) else d.get("text", "") for d in body.get("documents", [])]
    scored = [
        (i, round(len(query & set(words(doc))) / max(len(query), 1), 6))
        for i, doc in enumerate(documents)
    ]
    scored.sort(key=lambda pair: (-pair[1], pair[0]))
    top_n = int(body.get("top_n") or len(scored))
    return {
        "id": "rerank-fake",
        "results": [{"index": i, "relevance_score": score} for i, score in scored[:top_n]],
        "meta": {"billed_units": {"search_units": 1}},
    }
