"""How people tell runs apart: a label made of a run's first text inputs, and a preview of its
inputs as short `key: value` texts.

Run ids begin with their timestamp, so runs started together look alike by id; what differs is
what they were started with (`Acme Corp · jane@acme.example`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

LABEL_WIDTH = 60
LABEL_PARTS = 3
PREVIEW_KEYS = 6
PREVIEW_WIDTH = 40
UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def clip(text: str, width: int) -> str:
    """`text` on one line, cut to `width` characters with `…` where it was cut."""
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def _texts(value: Any) -> list[str]:
    """The text-like parts of a value: strings and numbers, a list's items; not nested maps, and
    not ids (a UUID tells a person nothing)."""
    if isinstance(value, str):
        return [value] if value.strip() and not UUID.fullmatch(value.strip()) else []
    if isinstance(value, bool) or value is None:
        return []
    if isinstance(value, int | float):
        return [str(value)]
    if isinstance(value, list):
        return [text for item in value for text in _texts(item)][:LABEL_PARTS]
    return []


def run_label(inputs: Mapping[str, Any] | None) -> str:
    """The run's first text input values joined by ` · `; numbers only when it has no text;
    `""` when it has neither."""
    values = [text for value in (inputs or {}).values() for text in _texts(value)]
    words = [v for v in values if not _is_number(v)] or values
    return clip(" · ".join(" ".join(v.split()) for v in words[:LABEL_PARTS]), LABEL_WIDTH)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def inputs_preview(inputs: Mapping[str, Any] | None) -> dict[str, str]:
    """The first inputs, each value as one short line (lists and maps as compact JSON)."""
    out: dict[str, str] = {}
    for key, value in list((inputs or {}).items())[:PREVIEW_KEYS]:
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        out[key] = clip(text, PREVIEW_WIDTH)
    return out
