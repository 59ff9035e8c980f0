"""The JSON schema a local model's grammar is built from.

llama.cpp writes a length bound into the grammar as that many repetitions of a rule: a string
of at most 4,000 characters becomes 4,000 nested optional rules, and past its limit the grammar
builder stops the whole process with a segmentation fault. So bounds above `MOST` are left out
of the grammar (the model's `max_tokens` bounds the text anyway) and the answer is still
validated against the full schema afterwards, so a reply that breaks a bound is refused as out
of schema, never stored.
"""

from __future__ import annotations

from typing import Any

MOST = 64  # the largest length or item count written into a grammar
_BOUNDS = ("maxLength", "minLength", "maxItems", "minItems")


def for_grammar(schema: Any) -> Any:
    """`schema` with every length and item bound above `MOST` dropped, at any depth."""
    if isinstance(schema, list):
        return [for_grammar(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    return {
        key: for_grammar(value)
        for key, value in schema.items()
        if not (key in _BOUNDS and isinstance(value, int) and value > MOST)
    }
