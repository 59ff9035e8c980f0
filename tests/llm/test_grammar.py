"""The local model's grammar lowers the length bounds llama.cpp cannot build: a schema with a
4,000-character field used to stop the whole process with a segmentation fault. `words` is
prose with no figure, which a grammar holds: the local model asked for prices writes none."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import jsonschema
import pytest

from batonflow.llm.local import MOST, LocalModel, for_grammar, words
from batonflow.llm.messages import ModelRequest, UserMessage
from batonflow.llm.repair import check_output

SCHEMA = {
    "type": "object",
    "properties": {
        "title": {"type": "string", "minLength": 1, "maxLength": 60},
        "summary": {"type": "string", "minLength": 100, "maxLength": 4000},
        "lines": {
            "type": "array",
            "maxItems": 500,
            "items": {"type": "string", "maxLength": 2000},
        },
        "tags": {"type": "array", "maxItems": 3, "items": {"type": "string"}},
        "score": {"type": "integer", "minimum": -2, "maximum": 2},
    },
    "required": ["title", "summary", "lines", "tags"],
}


def test_bounds_are_lowered_and_small_integer_ranges_written_out_at_any_depth() -> None:
    assert MOST == 1000
    assert for_grammar(SCHEMA) == {
        "type": "object",
        "properties": {
            "title": {"type": "string", "minLength": 1, "maxLength": 60},
            "summary": {"type": "string", "minLength": 100, "maxLength": 1000},
            "lines": {
                "type": "array",
                "maxItems": 500,
                "items": {"type": "string", "maxLength": 1000},
            },
            "tags": {"type": "array", "maxItems": 3, "items": {"type": "string"}},
            "score": {"type": "integer", "enum": [-2, -1, 0, 1, 2]},
        },
        "required": ["title", "summary", "lines", "tags"],
    }
    assert SCHEMA["properties"]["summary"]["maxLength"] == 4000  # type: ignore[index]


def test_the_local_model_answers_a_schema_with_long_bounds_and_the_process_lives() -> None:
    # In a process of its own: were the grammar still too large, llama.cpp would end it.
    program = textwrap.dedent(
        f"""
        import asyncio, json
        from batonflow.llm.local import LocalModel
        from batonflow.llm.messages import ModelRequest, UserMessage

        async def main():
            request = ModelRequest(
                messages=(UserMessage(content="Describe a product in JSON."),),
                max_tokens=40,
                temperature=0,
                output_schema=json.loads({json.dumps(json.dumps(SCHEMA))}),
            )
            reply = await LocalModel(threads=1).request(request, timeout=120)
            print(json.dumps({{"text": reply.text, "finish": reply.finish_reason}}))

        asyncio.run(main())
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer["finish"] == "length"  # 40 tokens: the grammar held, the answer ran on
    assert answer["text"].startswith("{")


def test_words_are_prose_with_no_figure_starting_with_a_capital() -> None:
    check = jsonschema.Draft202012Validator(words(5, 40)).is_valid
    said = {
        "A plan for Zoë & co., at last!": True,
        "Runs (and retries) on its own; no fuss.": True,
        "It costs 5 euros.": False,  # a digit
        "Priced in €, fairly.": False,  # a currency sign
        "Half off, or fifty %.": False,
        "a lower-case start": False,
        'He said "yes".': False,  # a quote would break the JSON inside a grammar
        "Two\nlines": False,
        "Hi": False,  # shorter than 5
        "A" + "b" * 40: False,  # longer than 40
    }
    assert {text: check(text) for text in said} == said


@pytest.mark.parametrize(("low", "high"), [(0, 10), (10, 5), (5, MOST)])
def test_words_refuses_bounds_a_grammar_cannot_hold(low: int, high: int) -> None:
    with pytest.raises(ValueError, match=f"words\\({low}, {high}\\): bounds must be"):
        words(low, high)


async def test_the_local_model_asked_for_prices_answers_in_words_only() -> None:
    schema = {
        "type": "object",
        "properties": {"answer": words(20, 160)},
        "required": ["answer"],
        "additionalProperties": False,
    }
    request = ModelRequest(
        messages=(
            UserMessage(
                content="What do a laptop, a phone and a desk cost? Give each price in dollars."
            ),
        ),
        max_tokens=200,  # a token a character and the JSON around it: the grammar closes it
        temperature=0,
        output_schema=schema,
    )
    reply = await LocalModel().request(request, timeout=300)
    value, problem = check_output(reply.text, schema)
    assert (problem, reply.finish_reason) == (None, "stop"), reply.text
    assert not any(c.isdigit() or c in "$%" for c in value["answer"])
