"""What one template or expression may cost: bounds on the numbers, strings and lists it makes.

A template is data a tenant sends, rendered on the event loop that serves every tenant, so its
cost must not depend on how clever its author is. The sandbox (`workflows/templates.py`) routes
the operators that can blow up through `check_binop` and every filter through `bounded`:

- integers stay under `MAX_INT_BITS` (`9 ** (9 ** 7)` is refused before it is computed);
- a string or list made by `*`, by a filter or by a whole render stays under `MAX_ITEMS` items;
- `range` gives at most 100,000 numbers per call (the sandbox's own limit) and `MAX_RANGE_TOTAL`
  per render, so nested loops cannot multiply it;
- printf-style widths and precisions (`'%0999999999d' % 1`) are refused.

Intercepted operators are never folded at compile time either, so validating a spec is as cheap
as parsing it. Each refusal is a `SecurityError` that names the limit; the caller turns it into a
`TemplateError` (422 in the API, a failed step in a run).
"""

from __future__ import annotations

import contextvars
import functools
import operator
import re
from collections.abc import Callable, Sized
from typing import Any

from jinja2.exceptions import SecurityError
from jinja2.sandbox import safe_range

MAX_INT_BITS = 4096  # about 1,200 decimal digits
MAX_ITEMS = 1_000_000  # characters of a string, items of a list
MAX_RANGE_TOTAL = 200_000  # numbers all `range` calls of one render may give

BINOPS = frozenset({"*", "**", "%", "//", "+"})
_WIDE = re.compile(r"%[-+ #0]*(\*|\d{4,})|%[-+ #0]*\d*\.(\*|\d{4,})|\{[^{}]*:[^{}]*\d{4,}[^{}]*\}")
_range_left: contextvars.ContextVar[int] = contextvars.ContextVar("range_left")
_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "*": operator.mul,
    "**": operator.pow,
    "%": operator.mod,
    "//": operator.floordiv,
    "+": operator.add,
}


def _refuse(what: str) -> SecurityError:
    return SecurityError(f"{what}; templates are limited to keep every render cheap")


def _bits(value: Any) -> int:
    return value.bit_length() if isinstance(value, int) and not isinstance(value, bool) else 0


def _size(value: Any) -> int:
    return len(value) if isinstance(value, str | list | tuple) else 0


def check_binop(op: str, left: Any, right: Any) -> Any:
    """`left op right`, refused when the result would be past a bound."""
    if op == "**" and isinstance(left, int) and isinstance(right, int) and abs(left) > 1:
        if right > 0 and (_bits(left) - 1) * right > MAX_INT_BITS:
            raise _refuse(f"{left} ** {right} has more than {MAX_INT_BITS} bits")
    elif op == "*":
        if _bits(left) + _bits(right) > MAX_INT_BITS:
            raise _refuse(f"a product with more than {MAX_INT_BITS} bits")
        for seq, times in ((left, right), (right, left)):
            if _size(seq) and isinstance(times, int) and _size(seq) * times > MAX_ITEMS:
                raise _refuse(f"repeating {_size(seq)} items {times} times is over {MAX_ITEMS:,}")
    elif op == "%" and isinstance(left, str) and _WIDE.search(left):
        raise _refuse("a format width or precision of 1,000 or more")
    result = _OPERATORS[op](left, right)
    if _bits(result) > MAX_INT_BITS or _size(result) > MAX_ITEMS:
        raise _refuse(f"a value of more than {MAX_INT_BITS} bits or {MAX_ITEMS:,} items")
    return result


def bounded(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """The filter `function`, refusing huge numeric arguments, wide formats and huge results."""

    @functools.wraps(function)  # keeps Jinja's pass-context/environment marks
    def filter_(*args: Any, **kwargs: Any) -> Any:
        for arg in (*args[1:], *kwargs.values()):
            if isinstance(arg, int) and not isinstance(arg, bool) and abs(arg) > MAX_ITEMS:
                raise _refuse(f"the filter '{name}' was given {arg}, over {MAX_ITEMS:,}")
        if name == "format" and any(isinstance(a, str) and _WIDE.search(a) for a in args):
            raise _refuse("a format width or precision of 1,000 or more")
        result = function(*args, **kwargs)
        if isinstance(result, Sized) and not isinstance(result, dict) and _size(result) > MAX_ITEMS:
            raise _refuse(f"the filter '{name}' made more than {MAX_ITEMS:,} items")
        return result

    return filter_


def budgeted_range(*args: int) -> range:
    """The sandbox's `range`, also counted against the render's total (see `render_budget`)."""
    numbers = safe_range(*args)
    left = _range_left.get(MAX_RANGE_TOTAL) - len(numbers)
    if left < 0:
        raise _refuse(f"ranges of one render give more than {MAX_RANGE_TOTAL:,} numbers")
    _range_left.set(left)
    return numbers


def render_budget() -> contextvars.Token[int]:
    """Start a render's range budget; `reset_budget(token)` when it ends."""
    return _range_left.set(MAX_RANGE_TOTAL)


def reset_budget(token: contextvars.Token[int]) -> None:
    _range_left.reset(token)


def joined(chunks: Any) -> str:
    """A template's rendered chunks, joined, stopping once past `MAX_ITEMS` characters."""
    out: list[str] = []
    total = 0
    for chunk in chunks:
        total += len(chunk)
        if total > MAX_ITEMS:
            raise _refuse(f"the rendered text is over {MAX_ITEMS:,} characters")
        out.append(chunk)
    return "".join(out)
