"""Answering from retrieved passages: how an `llm` step frames them and checks the citations.
The passages are data: each under a `Passage <id>:` line, framed as untrusted text
(`llm/untrusted.py`). The answer's `citations` are listed as an `enum` of the given ids, so the
gateway's structured-output check re-asks on an unknown id (and a grammar cannot produce one).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from typing import Any

from batonflow.errors import TemplateError
from batonflow.llm.untrusted import frame as untrusted

GROUNDING = (
    "Answer from the passages in the user's message. Cite every passage you use by its id "
    "in `citations`; cite no other ids."
)
_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,80}$")
ONE_LINE = '^[^\\x00-\\x1f"\\\\]{1,200}$'
ANSWER_SCHEMA: dict[str, Any] = {
    "type": "object",
    # One line of at most 200 characters: the local model's grammar would otherwise let a raw
    # newline into the string (not valid JSON), and a small model might not stop.
    "properties": {"answer": {"type": "string", "pattern": ONE_LINE}},
    "required": ["answer"],
}
FIELDS = ("citation", "text")


def passages_of(value: Any) -> list[dict[str, Any]]:
    """The passages an `llm` step's `context` names: a `retrieve` step's result, its
    `passages`, or a list of them (each with at least `citation` and `text`)."""
    if isinstance(value, Mapping) and "passages" in value:
        value = value["passages"]
    if not isinstance(value, list | tuple):
        raise TemplateError(f"context gave {type(value).__name__}, not a list of passages")
    passages = []
    for index, item in enumerate(value):
        if not isinstance(item, Mapping) or any(key not in item for key in FIELDS):
            raise TemplateError(f"context item {index} is not a passage with citation and text")
        if not _ID.match(str(item["citation"])):
            raise TemplateError(f"context item {index}'s citation is not a plain id")
        passages.append(dict(item))
    return passages


def frame(prompt: str, passages: Sequence[Mapping[str, Any]]) -> str:
    """The user message: the instructions, then each passage, framed as data."""
    lines = [prompt.rstrip()]
    for p in passages:
        where = " > ".join([str(p.get("title") or ""), *p.get("heading_path", [])]).strip(" >")
        lines += ["", f"Passage {p['citation']}:"]
        lines.append(untrusted(f"{where}\n{p['text']}" if where else str(p["text"]), "passage"))
    return "\n".join(lines)


def system_for(system: str | None) -> str:
    return f"{system.rstrip()}\n\n{GROUNDING}" if system else GROUNDING


def schema_for(schema: Mapping[str, Any] | None, ids: Sequence[str]) -> dict[str, Any]:
    """The answer's schema (the step's, or `{answer}`) with `citations`: one or more of `ids`."""
    out = copy.deepcopy(dict(schema or ANSWER_SCHEMA))
    if out.get("type") != "object":
        raise TemplateError("an llm step with context needs an object output_schema")
    citations: dict[str, Any] = {"type": "array", "items": {"type": "string"}, "maxItems": 0}
    if ids:  # nothing retrieved: nothing to cite
        given = list(dict.fromkeys(ids))
        citations = {  # at most each id once: a small model might otherwise repeat one
            "type": "array",
            "items": {"type": "string", "enum": given},
            "minItems": 1,
            "maxItems": len(given),
        }
    out["properties"] = {**out.get("properties", {}), "citations": citations}
    out["required"] = [*[r for r in out.get("required", []) if r != "citations"], "citations"]
    return out


def sources(value: Mapping[str, Any], passages: Sequence[Mapping[str, Any]]) -> list[Any]:
    """The passages the answer cites, in its order, as where-from records."""
    by_id = {p["citation"]: p for p in passages}
    cited = []
    for citation in dict.fromkeys(value.get("citations", [])):
        p = by_id[citation]
        cited.append(
            {
                "citation": citation,
                "title": p.get("title", ""),
                "source": p.get("source", ""),
                "heading_path": list(p.get("heading_path", [])),
                "document_id": p.get("document_id", ""),
            }
        )
    return cited
