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


# A character of prose that states no figure: a letter (Latin, with its accented forms), a
# space or a punctuation mark; no digit, currency sign or percent sign. The class is written as
# what is allowed rather than what is not: a grammar lets a model start any character the class
# admits one byte at a time, and a model refused a euro sign then loops on the first byte it
# shares with other characters. Quotes, backslashes and line breaks are out too: a pattern's
# class goes into the grammar as it is, outside JSON's escaping, so they would break the JSON.
_WORD = "[A-Za-zÀ-ÖØ-öø-ÿ ,.;:'()&/!?-]"


def words(low: int, high: int) -> dict[str, Any]:
    """A JSON schema string of `low` to `high` characters of prose with no figure in it, starting
    with a capital letter. A grammar holds a pattern where it holds no rule about content, so a
    small model under grammar-constrained decoding cannot drift into digits (or into a run of
    zeros, which a 135M model at temperature 0 does), and any model's answer is checked by it."""
    if not 1 <= low <= high < MOST:
        raise ValueError(f"words({low}, {high}): bounds must be 1 <= low <= high < {MOST}")
    return {"type": "string", "pattern": f"^[A-Z]{_WORD}{{{low - 1},{high - 1}}}$"}
