"""The JSON schema a local model's grammar is built from.

llama.cpp writes a length bound into the grammar as that many nested optional rules, and past
about a thousand it stops the whole process with a segmentation fault (a 1,200-character string
does). So every length and item bound above `MOST` is lowered to `MOST` in the grammar: the
bound still ends a runaway string, which a small model needs, and the answer is validated
against the full schema afterwards, so nothing beyond the real bounds is ever stored.

A grammar bounds no number either: an integer with a `minimum` and a `maximum` at most `CHOICES`
apart becomes the enum of its values, which a grammar does hold, so a small model cannot answer
1000000000000000 where -100 to 100 is asked for.
"""

from __future__ import annotations

from typing import Any

MOST = 1000  # the largest length or item count written into a grammar
CHOICES = 1000  # the most values an integer's range is written out as
_BOUNDS = ("maxLength", "minLength", "maxItems", "minItems")


def for_grammar(schema: Any) -> Any:
    """`schema` with every length and item bound above `MOST` lowered to it, and each small
    integer range written out as an enum, at any depth."""
    if isinstance(schema, list):
        return [for_grammar(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    values = _small_range(schema)
    if values is not None:
        bounded = {k: v for k, v in schema.items() if k not in ("minimum", "maximum")}
        return bounded | {"enum": values}
    return {
        key: min(value, MOST) if key in _BOUNDS and isinstance(value, int) else for_grammar(value)
        for key, value in schema.items()
    }


def _small_range(schema: dict[str, Any]) -> list[int] | None:
    """The values of an integer schema bounded on both sides, when there are few enough."""
    low, high = schema.get("minimum"), schema.get("maximum")
    if schema.get("type") != "integer" or "enum" in schema:
        return None
    if not (isinstance(low, int) and isinstance(high, int) and 0 <= high - low < CHOICES):
        return None
    return list(range(low, high + 1))
