"""Reciprocal rank fusion: each list votes 1 / (k + rank) for the items it ranked; items are
ordered by the sum of their votes. It needs no score calibration between lists (bm25 and cosine
similarity live on different scales), and an item both lists rank well beats one that only one
list ranks first.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TypeVar

K = 60
T = TypeVar("T", bound=Hashable)


def rrf(rankings: Sequence[Sequence[T]], k: int = K) -> list[tuple[T, float]]:
    """Items of `rankings` (each best first) with their fused score, best first; ties keep the
    order in which the items were first seen."""
    scores: dict[T, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda pair: -pair[1])
