"""Templates: typed single expressions, text otherwise, strict and sandboxed."""

from __future__ import annotations

from typing import Any

import pytest

from batonflow.errors import TemplateError
from batonflow.workflows import templates
from batonflow.workflows.templates import Reference, render, syntax_error

SCOPE: dict[str, Any] = {
    "inputs": {
        "symbols": ["ACME", "GLOBEX"],
        "count": 3,
        "ratio": 0.5,
        "flag": True,
        "nothing": None,
        "config": {"mode": "fast", "limits": [1, 2]},
        "word": "baton",
    },
    "state": {"quote": {"symbol": "ACME", "price": 12.5}, "news": {"headline": "Up"}},
    "ctx": {"tenant": "acme"},
}


def render_error(value: Any, scope: dict[str, Any] = SCOPE) -> str:
    with pytest.raises(TemplateError) as caught:
        templates.render(value, scope)
    return caught.value.message


# -- render -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{ inputs.symbols }}", ["ACME", "GLOBEX"]),
        ("{{ inputs.count }}", 3),
        ("{{ inputs.ratio }}", 0.5),
        ("{{ inputs.flag }}", True),
        ("{{ inputs.nothing }}", None),
        ("{{ inputs.config }}", {"mode": "fast", "limits": [1, 2]}),
        ("{{ state.quote }}", {"symbol": "ACME", "price": 12.5}),
        ("{{ inputs.count * 2 }}", 6),
        ("{{ inputs.symbols[1] }}", "GLOBEX"),
        ("{{ inputs['config']['limits'] }}", [1, 2]),
        ("  {{inputs.count}}\n", 3),
        ("{{ [inputs.count, ctx.tenant] }}", [3, "acme"]),
    ],
)
def test_single_expression_keeps_its_type(text: str, expected: Any) -> None:
    result = templates.render(text, SCOPE)

    assert result == expected
    assert type(result) is type(expected)


def test_single_expression_returns_the_scope_value_itself() -> None:
    assert templates.render("{{ inputs.symbols }}", SCOPE) is SCOPE["inputs"]["symbols"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("price {{ state.quote.price }}", "price 12.5"),
        ("{{ inputs.count }}{{ inputs.count }}", "33"),
        ("{{ inputs.count }} and {{ inputs.flag }}", "3 and True"),
        ("{% for s in inputs.symbols %}{{ s }};{% endfor %}", "ACME;GLOBEX;"),
        ("{% if inputs.flag %}yes{% else %}no{% endif %}", "yes"),
        ("{# a comment #}", ""),
        ("<{{ inputs.symbols }}>", "<['ACME', 'GLOBEX']>"),
    ],
)
def test_mixed_text_renders_to_a_string(text: str, expected: str) -> None:
    assert templates.render(text, SCOPE) == expected


@pytest.mark.parametrize("value", ["plain text", "", "a } b { c", 42, 1.5, None, True])
def test_values_without_templates_pass_through(value: Any) -> None:
    assert templates.render(value, SCOPE) == value


def test_nested_dicts_and_lists_render() -> None:
    value = {
        "symbols": "{{ inputs.symbols }}",
        "nested": {"price": "{{ state.quote.price }}", "label": "at {{ state.quote.price }}"},
        "list": [
            "{{ inputs.count }}",
            "literal",
            7,
            ["{{ ctx.tenant }}"],
            {"k": "{{ inputs.flag }}"},
        ],
        "number": 1,
    }

    assert templates.render(value, SCOPE) == {
        "symbols": ["ACME", "GLOBEX"],
        "nested": {"price": 12.5, "label": "at 12.5"},
        "list": [3, "literal", 7, ["acme"], {"k": True}],
        "number": 1,
    }


def test_render_does_not_change_its_input() -> None:
    value = {"a": ["{{ inputs.count }}"]}

    templates.render(value, SCOPE)

    assert value == {"a": ["{{ inputs.count }}"]}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{ inputs.word | upper }}", "BATON"),
        ("{{ inputs.missing | default('fallback') }}", "fallback"),
        ("{{ inputs.missing | default(5) }}", 5),
        ("{{ inputs.count | default(5) }}", 3),
        ("{{ inputs.config | json }}", '{"limits": [1, 2], "mode": "fast"}'),
        ("{{ inputs.symbols | json }}", '["ACME", "GLOBEX"]'),
        ("{{ inputs.symbols | length }}", 2),
        ("{{ inputs.word | length }}", 5),
        ("{{ inputs.symbols | join(', ') | lower }}", "acme, globex"),
        ("n={{ inputs.symbols | length }}", "n=2"),
    ],
)
def test_filters(text: str, expected: Any) -> None:
    assert templates.render(text, SCOPE) == expected


def test_json_filter_stringifies_what_json_cannot_encode() -> None:
    class Thing:
        def __str__(self) -> str:
            return "a thing"

    assert templates.render("{{ x | json }}", {"x": {"b": Thing(), "a": 1}}) == (
        '{"a": 1, "b": "a thing"}'
    )


# -- strict undefined ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{{ missing }}", "cannot render '{{ missing }}': 'missing' is undefined"),
        (
            "{{ inputs.missing }}",
            "cannot render '{{ inputs.missing }}': 'dict object' has no attribute 'missing'",
        ),
        (
            "{{ inputs['missing'] }}",
            "cannot render '{{ inputs['missing'] }}': 'dict object' has no attribute 'missing'",
        ),
        (
            "{{ state.quote.volume }}",
            "cannot render '{{ state.quote.volume }}': 'dict object' has no attribute 'volume'",
        ),
        (
            "price: {{ state.nope.price }}",
            "cannot render 'price: {{ state.nope.price }}': 'dict object' has no attribute 'nope'",
        ),
        (
            "{{ inputs.missing | upper }}",
            "cannot render '{{ inputs.missing | upper }}': 'dict object' has no attribute 'missing'",
        ),
        (
            "a {{ missing }} b",
            "cannot render 'a {{ missing }} b': 'missing' is undefined",
        ),
    ],
)
def test_missing_names_raise_template_error(text: str, message: str) -> None:
    assert render_error(text) == message


def test_template_error_is_a_final_run_error() -> None:
    with pytest.raises(TemplateError) as caught:
        templates.render({"deep": ["{{ nope }}"]}, SCOPE)

    assert (caught.value.code, caught.value.retryable) == ("template_error", False)


def test_type_errors_become_template_errors() -> None:
    assert render_error("{{ inputs.word + 1 }}") == (
        "cannot render '{{ inputs.word + 1 }}': can only concatenate str (not \"int\") to str"
    )


# -- sandbox ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "{{ ''.__class__.__mro__ }}",
            "cannot render '{{ ''.__class__.__mro__ }}': "
            "access to attribute '__class__' of 'str' object is unsafe.",
        ),
        (
            "x {{ ''.__class__.__mro__[1].__subclasses__() }}",
            "cannot render 'x {{ ''.__class__.__mro__[1].__subclasses__() }}': "
            "access to attribute '__class__' of 'str' object is unsafe.",
        ),
        (
            "{{ inputs.__class__ }}",
            "cannot render '{{ inputs.__class__ }}': "
            "access to attribute '__class__' of 'dict' object is unsafe.",
        ),
        (
            "{{ cycler.__init__.__globals__ }}",
            "cannot render '{{ cycler.__init__.__globals__ }}': "
            "access to attribute '__init__' of 'type' object is unsafe.",
        ),
    ],
)
def test_sandbox_blocks_attribute_escapes(text: str, message: str) -> None:
    assert render_error(text) == message


def test_sandbox_blocks_mutating_a_list() -> None:
    scope = {"inputs": {"symbols": ["ACME"]}}

    assert render_error("{{ inputs.symbols.append(1) }}", scope) == (
        "cannot render '{{ inputs.symbols.append(1) }}': "
        "access to attribute 'append' of 'list' object is unsafe."
    )
    assert scope == {"inputs": {"symbols": ["ACME"]}}


def test_sandbox_blocks_mutating_a_dict() -> None:
    scope = {"inputs": {"config": {"mode": "fast"}}}

    assert render_error("{{ inputs.config.pop('mode') }}", scope) == (
        "cannot render '{{ inputs.config.pop('mode') }}': "
        "access to attribute 'pop' of 'dict' object is unsafe."
    )
    with pytest.raises(TemplateError):
        templates.render("{% set _ = inputs.config.update(mode='slow') %}", scope)
    assert scope == {"inputs": {"config": {"mode": "fast"}}}


def test_items_append_raises_template_error() -> None:
    scope = {"inputs": {"items": [1, 2]}}

    with pytest.raises(TemplateError):
        templates.render("{{ inputs.items.append(1) }}", scope)
    assert scope == {"inputs": {"items": [1, 2]}}


@pytest.mark.parametrize(
    ("text", "scope", "expected"),
    [
        ("{{ inputs.items }}", {"inputs": {"items": [1, 2]}}, [1, 2]),
        ("{{ inputs.values | length }}", {"inputs": {"values": [1, 2, 3]}}, 3),
        ("{{ state.copy.text }}", {"state": {"copy": {"text": "hi"}}}, "hi"),
        ("{{ state.update.status }}", {"state": {"update": {"status": "ok"}}}, "ok"),
        ("n={{ state.report.keys }}", {"state": {"report": {"keys": 2}}}, "n=2"),
    ],
)
def test_keys_named_like_dict_methods_read_the_value(
    text: str, scope: dict[str, Any], expected: Any
) -> None:
    assert templates.render(text, scope) == expected


# -- evaluate -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("inputs.count > 2", True),
        ("{{ inputs.count > 2 }}", True),
        ("  {{inputs.count > 5}}  ", False),
        ("inputs.symbols", ["ACME", "GLOBEX"]),
        ("{{ inputs.symbols }}", ["ACME", "GLOBEX"]),
        ("state.quote.price * 2", 25.0),
        ("'ACME' in inputs.symbols", True),
        ("inputs.nothing is none", True),
        ("inputs.missing is defined", False),
        ("[1, 2, 3]", [1, 2, 3]),
    ],
)
def test_evaluate_accepts_bare_and_braced_expressions(expression: str, expected: Any) -> None:
    assert templates.evaluate(expression, SCOPE) == expected


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        (
            "inputs.missing",
            "cannot evaluate 'inputs.missing': 'dict object' has no attribute 'missing'",
        ),
        ("{{ nope > 1 }}", "cannot evaluate '{{ nope > 1 }}': 'nope' is undefined"),
        ("inputs.count >", "cannot evaluate 'inputs.count >': unexpected 'end of template'"),
        (
            "''.__class__",
            "cannot evaluate '''.__class__': access to attribute '__class__' of 'str' object is unsafe.",
        ),
    ],
)
def test_evaluate_errors(expression: str, message: str) -> None:
    with pytest.raises(TemplateError) as caught:
        templates.evaluate(expression, SCOPE)

    assert caught.value.message == message


# -- static analysis ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain", {Reference("plain", None)}),
        ("{{ inputs.a }}", {Reference("inputs", None), Reference("inputs", "a")}),
        (
            "{{ state.quote.price }} {{ state['news'].headline }}",
            {Reference("state", None), Reference("state", "quote"), Reference("state", "news")},
        ),
        ("{{ ctx[key] }}", {Reference("ctx", None), Reference("key", None)}),
        ("{{ inputs }}", {Reference("inputs", None)}),
        ("{{ inputs[0] }}", {Reference("inputs", None)}),
        (
            "inputs.a > 1 and state.b.ok",
            {
                Reference("inputs", None),
                Reference("inputs", "a"),
                Reference("state", None),
                Reference("state", "b"),
            },
        ),
        (
            "{% for s in inputs.symbols %}{{ s.name }}{{ loop.index }}{% endfor %}",
            {Reference("inputs", None), Reference("inputs", "symbols")},
        ),
        (
            "{{ item.symbol }} #{{ index }}",
            {Reference("item", None), Reference("item", "symbol"), Reference("index", None)},
        ),
        (
            "{{ inputs.a | default(state.b.c) }}",
            {
                Reference("inputs", None),
                Reference("inputs", "a"),
                Reference("state", None),
                Reference("state", "b"),
            },
        ),
        ("{{ 1 + 2 }}", set()),
    ],
)
def test_references(text: str, expected: set[Reference]) -> None:
    assert templates.references(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{ inputs.a }}", None),
        ("inputs.a > 1", None),
        ("inputs", None),
        ("{% if x %}a{% endif %}", None),
        ("{{ inputs.a + }}", "unexpected 'end of print statement'"),
        ("inputs.a +", "unexpected 'end of print statement'"),
        ("{% if %}", "Expected an expression, got 'end of statement block'"),
        ("{{ a", "unexpected end of template, expected 'end of print statement'."),
        (
            "{% for x in y %}",
            "Unexpected end of template. Jinja was looking for the following tags: 'endfor' or "
            "'else'. The innermost block that needs to be closed is 'for'.",
        ),
        ("text only", "expected token 'end of print statement', got 'only'"),
    ],
)
def test_syntax_error(text: str, expected: str | None) -> None:
    assert templates.syntax_error(text) == expected


def test_unknown_filter_fails_at_render_time() -> None:
    assert render_error("{{ inputs.word | uper }}") == (
        "cannot render '{{ inputs.word | uper }}': No filter named 'uper'."
    )


def test_syntax_error_reports_an_unknown_filter() -> None:
    assert templates.syntax_error("{{ inputs.word | uper }}") == "No filter named 'uper'."


@pytest.mark.parametrize(
    ("text", "expected"),
    [("{{ x }}", True), ("{% if x %}{% endif %}", True), ("{# note #}", True), ("{ x }", False)],
)
def test_is_template(text: str, expected: bool) -> None:
    assert templates.is_template(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{ state.a }}", "state.a"),
        ("  {{state.a}} ", "state.a"),
        ("{{ a }} {{ b }}", None),
        ("x {{ a }}", None),
        ("{{ a }}}", None),
        ("{% if a %}{% endif %}", None),
        ("plain", None),
    ],
)
def test_expression_of(text: str, expected: str | None) -> None:
    assert templates.expression_of(text) == expected


def test_strings_lists_every_templated_string_with_its_path() -> None:
    value = {
        "a": "{{ x }}",
        "b": "plain",
        "c": {"d": ["no", "{{ y }}", {"e": "{% if z %}1{% endif %}"}]},
        "n": 5,
    }

    assert list(templates.strings(value)) == [
        ("a", "{{ x }}"),
        ("c.d[1]", "{{ y }}"),
        ("c.d[2].e", "{% if z %}1{% endif %}"),
    ]
    assert list(templates.strings("{{ x }}")) == [("", "{{ x }}")]
    assert list(templates.strings(["{{ x }}"])) == [("[0]", "{{ x }}")]


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("{{ 9 ** (9 ** 7) > 1 }}", "9 ** 4782969 has more than 4096 bits"),
        ("{{ 2 ** 4000 * 2 ** 4000 }}", "a product with more than 4096 bits"),
        ("{{ [1, 2] * 600000 }}", "repeating 2 items 600000 times is over 1,000,000"),
        ("{{ '%09999d' % 1 }}", "a format width or precision of 1,000 or more"),
        ("{{ '%.5000f' | format(1) }}", "a format width or precision of 1,000 or more"),
        ("{{ 'ab' | indent(2000000) }}", "the filter 'indent' was given 2000000, over 1,000,000"),
        ("{{ range(100001) | list }}", "Range too big"),
    ],
)
def test_values_past_the_bounds_are_refused_before_they_are_made(source: str, reason: str) -> None:
    with pytest.raises(TemplateError) as raised:
        render(source, {})
    assert reason in str(raised.value)


def test_values_within_the_bounds_render() -> None:
    assert render("{{ 2 ** 64 }}", {}) == 18446744073709551616
    assert render("{{ 'ab' * 3 }}{{ '%05d' % 42 }}", {}) == "ababab00042"
    assert render("{% for i in range(3) %}{{ i }}{% endfor %}", {}) == "012"


def test_sources_that_cannot_compile_say_why_instead_of_crashing() -> None:
    assert syntax_error("{{ " + "9" * 5000 + " }}") == (
        "ValueError: Exceeds the limit (4300 digits) for integer string conversion: value has "
        "5000 digits; use sys.set_int_max_str_digits() to increase the limit"
    )
    # CPython words the limit by where it is hit ("... exceeded while calling a Python object").
    deep = syntax_error("(" * 300 + "1" + ")" * 300)
    assert deep is not None
    assert deep.startswith("RecursionError: maximum recursion depth exceeded")
