"""Documents into structure, then into chunks.

`parse` gives a title and blocks (headings and paragraphs in order), which is all the chunker
needs, from plain text, Markdown (ATX headings, fenced code kept whole), HTML (`h1`-`h6` and
block elements) and PDF (pypdf, a section per page).

`chunk` follows that structure: a chunk never crosses a heading; paragraphs are packed up to
`max_tokens` (cut at sentence ends, then words, when too long), and a chunk that continues a
section starts with the previous one's last `overlap` tokens. Tokens are words and punctuation
marks: close to an embedding tokenizer's count, and tied to no model.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

from pydantic import BaseModel, Field, model_validator

from batonflow.errors import InvalidInput

FORMATS = ("text", "markdown", "html", "pdf")
_EXTENSIONS = {
    ".txt": "text",
    ".text": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
}
_CONTENT_TYPES = {
    "text/plain": "text",
    "text/markdown": "markdown",
    "text/html": "html",
    "application/pdf": "pdf",
}
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


@dataclass(frozen=True, slots=True)
class Block:
    """A heading (`level` 1-6) or a paragraph (`level` 0)."""

    text: str
    level: int = 0


@dataclass(slots=True)
class Parsed:
    title: str
    blocks: list[Block] = field(default_factory=list)


def detect_format(filename: str, content_type: str | None = None) -> str:
    """The format a file is read as, from its content type, else its name's extension."""
    if content_type:
        found = _CONTENT_TYPES.get(content_type.split(";")[0].strip().lower())
        if found:
            return found
    suffix = "." + filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    return _EXTENSIONS.get(suffix, "text")


def _paragraphs(text: str) -> list[Block]:
    parts = re.split(r"\n\s*\n", text.replace("\r\n", "\n"))
    return [Block(" ".join(part.split())) for part in parts if part.strip()]


def parse_text(text: str, title: str) -> Parsed:
    return Parsed(title, _paragraphs(text))


def parse_markdown(text: str, title: str) -> Parsed:
    blocks: list[Block] = []
    lines: list[str] = []
    fenced = False

    def flush() -> None:
        if lines:
            joined = "\n".join(lines) if fenced else " ".join(" ".join(lines).split())
            if joined.strip():
                blocks.append(Block(joined.strip()))
            lines.clear()

    for line in text.replace("\r\n", "\n").split("\n"):
        if _FENCE.match(line):
            if fenced:
                lines.append(line)
                flush()
                fenced = False
            else:
                flush()
                fenced = True
                lines.append(line)
            continue
        if fenced:
            lines.append(line)
            continue
        heading = _HEADING.match(line)
        if heading:
            flush()
            blocks.append(Block(heading.group(2), len(heading.group(1))))
        elif not line.strip():
            flush()
        else:
            lines.append(line)
    flush()
    first = next((b.text for b in blocks if b.level == 1), None)
    return Parsed(title or first or "", blocks)


class _HtmlBlocks(HTMLParser):
    BLOCK = frozenset(
        "p div li pre blockquote td th tr section article br dt dd table ul ol main header "
        "footer".split()
    )
    SKIP = frozenset({"script", "style", "noscript", "template", "head"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[Block] = []
        self.title = ""
        self._text: list[str] = []
        self._level = 0
        self._skip = 0
        self._in_title = False

    def _flush(self) -> None:
        text = " ".join("".join(self._text).split())
        if text:
            self.blocks.append(Block(text, self._level))
        self._text = []
        self._level = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        elif tag in self.SKIP:
            self._skip += 1
        elif re.fullmatch(r"h[1-6]", tag):
            self._flush()
            self._level = int(tag[1])
        elif tag in self.BLOCK:
            self._flush()

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag in self.SKIP:
            self._skip = max(0, self._skip - 1)
        elif re.fullmatch(r"h[1-6]", tag) or tag in self.BLOCK:
            self._flush()

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        elif not self._skip:
            self._text.append(data)


def parse_html(text: str, title: str) -> Parsed:
    parser = _HtmlBlocks()
    parser.feed(text)
    parser.close()
    parser._flush()
    return Parsed(title or " ".join(parser.title.split()), parser.blocks)


def parse_pdf(data: bytes, title: str) -> Parsed:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
        meta_title = (reader.metadata.title if reader.metadata else None) or ""
    except (PdfReadError, ValueError, KeyError) as exc:
        raise InvalidInput(f"the PDF could not be read: {exc}") from exc
    blocks: list[Block] = []
    for number, page in enumerate(pages, start=1):
        paragraphs = _paragraphs(page)
        if paragraphs:
            blocks.append(Block(f"Page {number}", 1))
            blocks.extend(paragraphs)
    return Parsed(title or str(meta_title), blocks)


def parse(data: bytes, fmt: str, title: str = "") -> Parsed:
    """A document's blocks; `fmt` is one of FORMATS."""
    if fmt == "pdf":
        return parse_pdf(data, title)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"a {fmt} document must be UTF-8 text") from exc
    if fmt == "markdown":
        return parse_markdown(text, title)
    if fmt == "html":
        return parse_html(text, title)
    if fmt == "text":
        return parse_text(text, title)
    raise InvalidInput(f"unknown document format '{fmt}'; one of {', '.join(FORMATS)}")


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
