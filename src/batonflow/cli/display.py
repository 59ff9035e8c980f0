"""How the CLI writes values for people: a time is UTC in ISO 8601 to the second with a `Z`, in
text and `--json` alike (lists add how long ago); a duration carries its unit; tables show an
id's last 12 characters (the random part), which every command accepts for the whole id; data is
written as indented `key: value` lines, never as escaped JSON.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from rich import box
from rich.table import Table

SHORT_ID = 12


def short_id(value: str) -> str:
    return value[-SHORT_ID:]


def when(moment: datetime | None) -> str | None:
    """`2026-12-03T11:34:16Z`: UTC to the second (a naive time is taken as UTC)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def ago(moment: datetime | None, now: datetime | None = None) -> str:
    """How long ago, coarsely: `just now`, `45 s ago`, `3 min ago`, `2 h ago`, `5 days ago`."""
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    seconds = ((now or datetime.now(UTC)) - moment).total_seconds()
    if seconds < 0:
        return "in the future"
    if seconds < 5:
        return "just now"
    if seconds < 60:
        return f"{seconds:.0f} s ago"
    if seconds < 3600:
        return f"{seconds // 60:.0f} min ago"
    if seconds < 86400 * 2:
        return f"{seconds // 3600:.0f} h ago"
    return f"{seconds // 86400:.0f} days ago"


def duration(seconds: float | None) -> str:
    """`420 ms`, `12.3 s`, `2 min 5 s`, `1 h 2 min`; empty for none."""
    if seconds is None:
        return ""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        minutes, rest = divmod(round(seconds), 60)
        return f"{minutes} min {rest} s"
    hours, rest = divmod(round(seconds), 3600)
    return f"{hours} h {rest // 60} min"


def data(value: Any, indent: int = 0) -> str:
    """`value` as indented lines: mappings as `key: value`, lists as `- item`, text as it
    reads (several lines are indented under their key), other scalars as JSON."""
    return "\n".join(_lines(value, " " * indent))


def _lines(value: Any, pad: str) -> list[str]:
    if isinstance(value, dict):
        if not value:
            return [f"{pad}{{}}"]
        lines: list[str] = []
        for key, item in value.items():
            lines += _keyed(f"{pad}{key}:", item, pad)
        return lines
    if isinstance(value, list):
        if not value:
            return [f"{pad}[]"]
        lines = []
        for item in value:
            lines += _keyed(f"{pad}-", item, pad)
        return lines
    return [pad + line for line in _scalar(value).split("\n")]


def _keyed(head: str, item: Any, pad: str) -> list[str]:
    inner = pad + "  "
    if isinstance(item, dict | list) and item:
        return [head, *_lines(item, inner)]
    text = _scalar(item) if not isinstance(item, dict | list) else _lines(item, "")[0]
    if "\n" in text:
        return [head, *(inner + line if line else "" for line in text.split("\n"))]
    return [f"{head} {text}"]


def _scalar(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, datetime):
        return when(value) or ""
    return json.dumps(value, default=str)


def one_line(value: Any, width: int = 40) -> str:
    """A short one-line summary of a value for a table cell (`…` where it was cut)."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def parse(text: str | None) -> datetime | None:
    """A time written by `when` (or any ISO 8601 time), back as a datetime."""
    return datetime.fromisoformat(text) if text else None


def table(*columns: str, title: str | None = None) -> Table:
    """A table that reads at 80 columns: no outer box, one space between columns, long cells
    wrapped in the last column rather than cut."""
    grid = Table(
        *columns,
        title=title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        padding=(0, 1),
        collapse_padding=True,
    )
    for column in grid.columns[:-1]:
        column.no_wrap = True
    return grid
