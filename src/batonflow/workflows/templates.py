"""Templated values in workflow specs: `{{ inputs.x }}`, `{{ state.step.field }}`, `{{ ctx.key }}`.

Everything renders in Jinja2's immutable sandbox with strict undefined: a template can read the
scope it is given and call safe filters, nothing else. A string that is exactly one expression
(`"{{ state.quotes }}"`) yields the expression's typed value, so a list stays a list; any other
string renders to text. Nothing here ever calls `eval`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError, nodes
from jinja2.exceptions import SecurityError
from jinja2.meta import find_undeclared_variables
from jinja2.sandbox import ImmutableSandboxedEnvironment

from batonflow.errors import TemplateError
from batonflow.llm import untrusted
from batonflow.workflows import bounds

_SINGLE = re.compile(r"^\s*\{\{(?P<expr>(?:(?!\{\{|\}\}).)*)\}\}\s*$", re.DOTALL)
_MARKERS = ("{{", "{%", "{#")
# What a render can raise that is the template's fault (OverflowError: a float past its range,
# or a range over the sandbox's limit; RecursionError: nesting past the interpreter's limit).
_FAILURES = (
    UndefinedError,
    SecurityError,
    TemplateSyntaxError,
    TypeError,
    ValueError,
    ArithmeticError,
    RecursionError,
)


class _Environment(ImmutableSandboxedEnvironment):
    """Reads `a.b` on a mapping as the key `b` first, so a step named `update` or an input named
    `items` is data, never the dict method of the same name; bounds what operators make
    (`workflows/bounds.py`)."""

    intercepted_binops = bounds.BINOPS

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, Mapping) and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        return bounds.check_binop(operator, left, right)


def _env() -> ImmutableSandboxedEnvironment:
    env = _Environment(undefined=StrictUndefined, autoescape=False)
    env.filters["json"] = lambda value: json.dumps(value, sort_keys=True, default=str)
    env.filters["untrusted"] = untrusted.frame
    env.filters = {name: bounds.bounded(name, f) for name, f in env.filters.items()}
    env.globals["range"] = bounds.budgeted_range
    return env


ENV = _env()


@dataclass(frozen=True, slots=True)
class Reference:
    """A name a template reads: `root` is `inputs`, `state`, `ctx` or a local name."""

    root: str
    key: str | None


def is_template(text: str) -> bool:
    return any(marker in text for marker in _MARKERS)


def expression_of(text: str) -> str | None:
    """The inner expression when `text` is exactly one `{{ ... }}`, else None."""
    match = _SINGLE.match(text)
    return match.group("expr").strip() if match else None


@lru_cache(maxsize=4096)
def _compiled_expression(expr: str) -> Any:
    return ENV.compile_expression(expr, undefined_to_none=False)


@lru_cache(maxsize=4096)
def _compiled_template(text: str) -> Any:
    return ENV.from_string(text)


def render(value: Any, scope: Mapping[str, Any]) -> Any:
    """Render every string inside `value` (dicts and lists are walked) against `scope`."""
    if isinstance(value, str):
        return _render_text(value, scope)
    if isinstance(value, dict):
        return {key: render(item, scope) for key, item in value.items()}
    if isinstance(value, list):
        return [render(item, scope) for item in value]
    return value


def evaluate(expression: str, scope: Mapping[str, Any]) -> Any:
    """Evaluate a bare expression (`when`, `map.over`); `{{ }}` around it is accepted too."""
    expr = expression_of(expression) or expression
    budget = bounds.render_budget()
    try:
        return _unwrap(_compiled_expression(expr)(**scope))
    except _FAILURES as exc:
        raise TemplateError(f"cannot evaluate '{_short(expression)}': {exc}") from exc
    finally:
        bounds.reset_budget(budget)


def _render_text(text: str, scope: Mapping[str, Any]) -> Any:
    if not is_template(text):
        return text
    expr = expression_of(text)
    budget = bounds.render_budget()
    try:
        if expr is not None:
            return _unwrap(_compiled_expression(expr)(**scope))
        return bounds.joined(_compiled_template(text).generate(**scope))
    except _FAILURES as exc:
        raise TemplateError(f"cannot render '{_short(text)}': {exc}") from exc
    finally:
        bounds.reset_budget(budget)


def render_text(text: str, scope: Mapping[str, Any]) -> str:
    """Render `text` to a string, even when it is a single expression (prompts are text)."""
    budget = bounds.render_budget()
    try:
        return bounds.joined(_compiled_template(text).generate(**scope))
    except _FAILURES as exc:
        raise TemplateError(f"cannot render '{_short(text)}': {exc}") from exc
    finally:
        bounds.reset_budget(budget)


def _short(text: str) -> str:
    return text if len(text) <= 200 else text[:200] + "…"


def _unwrap(value: Any) -> Any:
    if isinstance(value, StrictUndefined):
        value._fail_with_undefined_error()
    return value


def syntax_error(text: str) -> str | None:
    """A readable error for a template or expression that cannot compile (bad syntax, an
    unknown filter or test), or None."""
    source = text if is_template(text) else "{{ " + text + " }}"
    try:
        ENV.from_string(source)
    except TemplateSyntaxError as exc:
        return exc.message or str(exc)
    except _FAILURES as exc:  # a number too long to write, nesting past the parser's limit
        return f"{type(exc).__name__}: {exc}"
    return None


def _parse(text: str) -> nodes.Template:
    source = text if is_template(text) else "{{ " + text + " }}"
    return ENV.parse(source)


def references(text: str) -> set[Reference]:
    """Every scope name `text` reads, with the first key under it when it is a constant."""
    tree = _parse(text)
    refs = {Reference(name, None) for name in find_undeclared_variables(tree)}
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        assert isinstance(node, nodes.Getattr | nodes.Getitem)
        target = node.node
        if not isinstance(target, nodes.Name) or Reference(target.name, None) not in refs:
            continue
        if isinstance(node, nodes.Getattr):
            refs.add(Reference(target.name, node.attr))
        elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            refs.add(Reference(target.name, node.arg.value))
    return refs


def strings(value: Any) -> Iterator[tuple[str, str]]:
    """Yield `(path, text)` for every templated string inside a nested value."""
    yield from _strings(value, "")


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        if is_template(value):
            yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}[{index}]")
