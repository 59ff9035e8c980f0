"""How people tell runs apart: a label made of a run's first text inputs, and a preview of its
inputs as short `key: value` texts.

Run ids begin with their timestamp, so runs started together look alike by id; what differs is
what they were started with (`Acme Corp · jane@acme.example`).

Both are computed for every run of a listed page, so each reads only as much of the inputs as it
can show: the label stops at its third text, a list's texts at its third, and a long value is
cut before it is put on one line (only its start can show).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from itertools import islice
from typing import Any

LABEL_WIDTH = 60
LABEL_PARTS = 3
PREVIEW_KEYS = 6
PREVIEW_WIDTH = 40
UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_JSON = json.JSONEncoder(ensure_ascii=False)  # json.dumps(value, ensure_ascii=False), built once


def clip(text: str, width: int) -> str:
    """`text` on one line, cut to `width` characters with `…` where it was cut."""
    end = 2 * width + 2
    while end < len(text):  # a long text: its start on one line decides, if it is long enough
        line = " ".join(text[:end].split())
        if len(line) > width:
            return line[: width - 1].rstrip() + "…"
        end *= 4
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1].rstrip() + "…"


def _texts(value: Any) -> list[str]:
    """The text-like parts of a value: strings and numbers, a list's first LABEL_PARTS; not
    nested maps, and not ids (a UUID tells a person nothing)."""
    if isinstance(value, str):
        text = value.strip()
        return [value] if text and not UUID.fullmatch(text) else []
    if isinstance(value, bool) or value is None:
        return []
    if isinstance(value, int | float):
        return [str(value)]
    if isinstance(value, list):
        found: list[str] = []
        for item in value:
            if isinstance(item, dict):
                continue  # maps hold no texts here: skip the call
            found += _texts(item)
            if len(found) >= LABEL_PARTS:
                return found[:LABEL_PARTS]
        return found
    return []


def run_label(inputs: Mapping[str, Any] | None) -> str:
    """The run's first text input values joined by ` · `; numbers only when it has no text;
    `""` when it has neither."""
    if not inputs:
        return ""
    words: list[str] = []  # the first texts that are not numbers
    first: list[str] = []  # the first texts of any kind
    for value in inputs.values():
        for text in _texts(value):
            if len(first) < LABEL_PARTS:
                first.append(text)
            if not _is_number(text):
                words.append(text)
                if len(words) == LABEL_PARTS:
                    return clip(" · ".join(words), LABEL_WIDTH)
    return clip(" · ".join(words or first), LABEL_WIDTH)


def _is_number(text: str) -> bool:
    """Whether `float` reads `text`. It needs a sign, a digit, a point or `inf`/`nan` first;
    checking that first spares most words the cost of a raised ValueError."""
    head = text.lstrip()[:1]
    if not head or not (head in "+-.iInN" or head.isdecimal()):
        return False
    try:
        float(text)
    except ValueError:
        return False
    return True


def inputs_preview(inputs: Mapping[str, Any] | None) -> dict[str, str]:
    """The first inputs, each value as one short line (lists and maps as compact JSON)."""
    if not inputs:
        return {}
    return {
        key: clip(value if isinstance(value, str) else _json_start(value), PREVIEW_WIDTH)
        for key, value in islice(inputs.items(), PREVIEW_KEYS)
    }


def _json_start(value: Any) -> str:
    """`value` as JSON, or, for a list or map too long to show whole, its first PREVIEW_WIDTH
    items as JSON: each item takes at least two characters with its separator, so what shows
    of the whole is all in its first items."""
    if value is None or isinstance(value, bool):
        return "null" if value is None else "true" if value else "false"
    if isinstance(value, int):
        return int.__repr__(value)  # as json writes numbers
    if isinstance(value, float) and math.isfinite(value):
        return float.__repr__(value)
    if isinstance(value, list) and len(value) > PREVIEW_WIDTH:
        value = value[:PREVIEW_WIDTH]
    elif isinstance(value, dict) and len(value) > PREVIEW_WIDTH:
        value = dict(islice(value.items(), PREVIEW_WIDTH))
    return _JSON.encode(value)
