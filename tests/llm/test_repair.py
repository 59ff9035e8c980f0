"""Structured output: a reply is checked against the schema, and a misfit is asked again."""

from __future__ import annotations

from pydantic import BaseModel

from batonflow.llm.messages import AssistantMessage, ModelRequest, UserMessage
from batonflow.llm.repair import check_output, gave_up, invalid, reask, strip_fences

SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "integer"}},
    "required": ["answer"],
}


class Answer(BaseModel):
    answer: int


def test_a_code_fence_around_the_json_is_dropped() -> None:
    assert [strip_fences(t) for t in ('```json\n{"answer": 4}\n```', "```", " plain ")] == [
        '{"answer": 4}',
        "",
        "plain",
    ]


def test_json_that_fits_gives_its_value() -> None:
    assert (
        check_output('```\n{"answer": 4}\n```', SCHEMA),
        check_output('{"answer": 4}', SCHEMA, Answer),
    ) == (({"answer": 4}, None), (Answer(answer=4), None))


def test_line_breaks_written_raw_in_a_string_are_read_as_line_breaks() -> None:
    # The local model's grammar lets a model write a letter's paragraphs unescaped.
    text = '{"letter": "Dear Ada,\n\nThank you.\tBest"}'
    assert check_output(text, {"type": "object"}) == (
        {"letter": "Dear Ada,\n\nThank you.\tBest"},
        None,
    )


def test_what_is_wrong_is_named() -> None:
    assert [
        check_output("four", SCHEMA),
        check_output('{"answer": "four"}', SCHEMA),
        check_output("{}", SCHEMA, Answer),
    ] == [
        (None, "the reply is not valid JSON (expected ident at line 1 column 2)"),
        (None, "the JSON does not fit the schema: answer: 'four' is not of type 'integer'"),
        (None, "the JSON does not fit the schema: answer: Field required"),
    ]


def test_a_misfit_is_asked_again_with_the_reply_and_the_problem() -> None:
    request = ModelRequest(messages=(UserMessage(content="How many?"),), output_schema=SCHEMA)

    again = reask(request, "four", "the reply is not valid JSON")

    assert again == request.model_copy(
        update={
            "messages": (
                UserMessage(content="How many?"),
                AssistantMessage(content="four"),
                UserMessage(
                    content="That reply was rejected: the reply is not valid JSON. Answer again "
                    "with only JSON that fits the schema."
                ),
            )
        }
    )


def test_the_errors_keep_the_raw_reply() -> None:
    once = invalid("openai:gpt-4.1-mini", "bad", "four")
    final = gave_up("openai:gpt-4.1-mini", 3, "bad", "four")

    assert [(e.code, e.message, e.details) for e in (once, final)] == [
        (
            "output_invalid",
            "openai:gpt-4.1-mini gave output that does not fit the schema: bad",
            {"model": "openai:gpt-4.1-mini", "status": None, "raw": "four"},
        ),
        (
            "output_invalid",
            "openai:gpt-4.1-mini gave output that does not fit the schema 3 times; "
            "last problem: bad",
            {"model": "openai:gpt-4.1-mini", "status": None, "raw": "four", "problem": "bad"},
        ),
    ]
