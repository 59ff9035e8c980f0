"""Documents into structure: a title and blocks (headings and paragraphs in order), which is all
the chunker needs, from plain text, Markdown (ATX headings, fenced code kept whole), HTML
(`h1`-`h6` and block elements) and PDF (pypdf, a section per page).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

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
