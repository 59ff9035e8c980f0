"""Bounds on a structured reply's JSON schema, and the longest reply they allow.

A small model under grammar-constrained decoding (`llm/local.py`) may write one string until
`max_tokens` cuts the JSON short, and then does so again on every retry. A schema whose every
string and list is bounded has a longest reply; asking for that many tokens (at a token a
character, which a small model repeating short tokens comes close to) lets the grammar close the
JSON before the cap. Any other model's reply is checked against the same bounds.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

NUMBER = 24  # characters of the longest number a reply writes
SPACE = 4  # characters of whitespace the grammar lets a model put around each key or item


def bounded(
    schema: Mapping[str, Any],
    lengths: Mapping[str, int],
    items: Mapping[str, int],
    *,
    length: int,
) -> dict[str, Any]:
    """A copy of `schema` (a pydantic model's, with its `$defs`) in which every free string is
    at most `lengths[name]` characters (`length` for names not given) and every list of a
    property named in `items` at most that many items; a string in a list takes its list's
    name. Strings with an `enum` keep it."""
    out = copy.deepcopy(dict(schema))

    def walk(node: Any, name: str) -> None:
        if not isinstance(node, dict):
            return
        for option in node.get("anyOf", ()):
            walk(option, name)
        if node.get("type") == "string" and "enum" not in node:
            node["maxLength"] = lengths.get(name, length)
        elif node.get("type") == "array":
            if name not in items:
                raise ValueError(f"the list '{name}' needs a bound on its items")
            node["maxItems"] = items[name]
            walk(node.get("items"), name)
        for key, value in node.get("properties", {}).items():
            walk(value, key)

    walk(out, "")
    for definition in out.get("$defs", {}).values():
        walk(definition, "")
    return out


def longest(schema: Mapping[str, Any]) -> int:
    """The most characters a reply fitting `schema` can have (whitespace included, as a
    grammar allows it). Raises ValueError for a string or list with no upper bound."""
    definitions = schema.get("$defs", {})

    def size(node: Mapping[str, Any]) -> int:
        if "$ref" in node:
            return size(definitions[node["$ref"].rsplit("/", 1)[-1]])
        if "enum" in node:
            return max(len(str(value)) for value in node["enum"]) + 2
        if "anyOf" in node:
            return max(size(option) for option in node["anyOf"])
        kind = node.get("type")
        if kind == "object":
            properties = node.get("properties", {})
            return 2 + sum(len(key) + 3 + SPACE + size(p) for key, p in properties.items())
        if kind == "array":
            if "maxItems" not in node:
                raise ValueError("a list without maxItems has no longest reply")
            return 2 + int(node["maxItems"]) * (size(node["items"]) + 1 + SPACE)
        if kind == "string":
            if "maxLength" not in node:
                raise ValueError("a string without maxLength has no longest reply")
            return int(node["maxLength"]) + 2
        if kind == "boolean":
            return 5
        if kind == "null":
            return 4
        return NUMBER

    return size(schema)
