"""Chunking that follows a document's structure: a chunk never crosses a heading; paragraphs
are packed up to `max_tokens` (cut at sentence ends, then words, when too long), and a chunk
that continues a section starts with the previous one's last `overlap` tokens. Tokens are words
and punctuation marks: close to an embedding tokenizer's count, and tied to no model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydantic import BaseModel, Field, model_validator

from batonflow.retrieval.extract import Block

_TOKEN = re.compile(r"\w+|[^\w\s]")
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[])")


class ChunkPolicy(BaseModel):
    """How a knowledge base cuts documents into chunks."""

    max_tokens: int = Field(default=200, ge=16, le=2000)
    overlap: int = Field(default=30, ge=0, le=500)

    @model_validator(mode="after")
    def _overlap_below_budget(self) -> ChunkPolicy:
        if self.overlap >= self.max_tokens:
            raise ValueError("overlap must be smaller than max_tokens")
        return self


@dataclass(frozen=True, slots=True)
class Chunk:
    position: int
    heading_path: tuple[str, ...]
    text: str
    tokens: int


def count_tokens(text: str) -> int:
    return len(_TOKEN.findall(text))


def _pieces(text: str, budget: int) -> list[str]:
    """A paragraph as pieces of at most `budget` tokens: whole sentences where they fit."""
    if count_tokens(text) <= budget:
        return [text]
    pieces: list[str] = []
    for sentence in _SENTENCE.split(text):
        if count_tokens(sentence) <= budget:
            pieces.append(sentence)
            continue
        words: list[str] = []
        used = 0
        for word in sentence.split():
            cost = count_tokens(word)
            if words and used + cost > budget:
                pieces.append(" ".join(words))
                words, used = [], 0
            words.append(word)
            used += cost
        if words:
            pieces.append(" ".join(words))
    return pieces


def _tail(pieces: list[str], overlap: int) -> list[str]:
    """The last pieces of a chunk that fit in `overlap` tokens (at least part of one)."""
    if overlap == 0 or not pieces:
        return []
    kept: list[str] = []
    used = 0
    for piece in reversed(pieces):
        cost = count_tokens(piece)
        if used + cost > overlap:
            if not kept:
                words = piece.split()
                kept.append(" ".join(words[-max(1, overlap // 2) :]))
            break
        kept.insert(0, piece)
        used += cost
    return kept


def _sections(blocks: list[Block]) -> list[tuple[tuple[str, ...], list[str]]]:
    path: list[tuple[int, str]] = []
    sections: list[tuple[tuple[str, ...], list[str]]] = []
    for block in blocks:
        if block.level:
            path = [(level, text) for level, text in path if level < block.level]
            path.append((block.level, block.text))
            sections.append((tuple(text for _, text in path), []))
        else:
            if not sections:
                sections.append(((), []))
            sections[-1][1].append(block.text)
    return [(heading, paras) for heading, paras in sections if paras]


def chunk(blocks: list[Block], policy: ChunkPolicy) -> list[Chunk]:
    """The chunks of a document's blocks, numbered from 0 in reading order."""
    chunks: list[Chunk] = []
    for heading, paragraphs in _sections(blocks):
        pieces = [piece for para in paragraphs for piece in _pieces(para, policy.max_tokens)]
        current: list[str] = []
        used = 0
        fresh = 0  # pieces in `current` not carried over from the previous chunk
        for piece in pieces:
            cost = count_tokens(piece)
            if current and fresh and used + cost > policy.max_tokens:
                chunks.append(_make(len(chunks), heading, current))
                current = _tail(current, policy.overlap)
                used = sum(count_tokens(p) for p in current)
                fresh = 0
                while current and used + cost > policy.max_tokens:
                    used -= count_tokens(current.pop(0))
            current.append(piece)
            used += cost
            fresh += 1
        if current and fresh:
            chunks.append(_make(len(chunks), heading, current))
    return chunks


def _make(position: int, heading: tuple[str, ...], pieces: list[str]) -> Chunk:
    text = "\n\n".join(pieces) if any("\n" in p for p in pieces) else " ".join(pieces)
    return Chunk(position, heading, text, count_tokens(text))
