"""Structured output: check a reply against the request's schema (`check_output`), and ask again
with the rejected reply and what is wrong appended (`reask`), up to `llm_output_retries` times.
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pydantic_core
from pydantic import BaseModel, ValidationError

from batonflow.errors import OutputInvalid
from batonflow.llm.messages import AssistantMessage, ModelRequest, UserMessage


def strip_fences(text: str) -> str:
    """The text without a Markdown code fence around it."""
    stripped = text.strip()
    if stripped.startswith("```"):
        stripped = stripped.split("\n", 1)[1] if "\n" in stripped else ""
        if stripped.rstrip().endswith("```"):
            stripped = stripped.rstrip()[:-3]
    return stripped.strip()


def _parsed(text: str) -> Any:
    """The JSON value of `text`, line breaks and tabs written raw inside its strings allowed: the
    local model's grammar lets a model write them so (a letter's paragraphs), and they mean what
    their escapes would."""
    try:
        return pydantic_core.from_json(text)
    except ValueError as strict:
        try:
            return json.loads(text, strict=False)
        except ValueError:
            raise strict from None


def check_output(
    text: str, schema: dict[str, Any], model: type[BaseModel] | None = None
) -> tuple[Any, str | None]:
    """(value, None) when `text` is JSON that fits; (None, what is wrong) otherwise."""
    try:
        value = _parsed(strip_fences(text))
    except ValueError as exc:
        return None, f"the reply is not valid JSON ({exc})"
    if model is not None:
        try:
            return model.model_validate(value), None
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'value'}: {e['msg']}" for e in exc.errors()
            )
            return None, f"the JSON does not fit the schema: {problems}"
    errors = sorted(
        jsonschema.Draft202012Validator(schema).iter_errors(value), key=lambda e: list(e.path)
    )
    if errors:
        problems = "; ".join(
            f"{'.'.join(map(str, e.path)) or 'value'}: {e.message}" for e in errors[:5]
        )
        return None, f"the JSON does not fit the schema: {problems}"
    return value, None


def invalid(name: str, problem: str, raw: str) -> OutputInvalid:
    """The error recorded for one reply of `name` that does not fit the schema."""
    return OutputInvalid(
        f"{name} gave output that does not fit the schema: {problem}",
        model=name,
        details={"raw": raw},
    )


def gave_up(name: str, asks: int, problem: str, raw: str) -> OutputInvalid:
    """The error raised once `name` gave misfitting output `asks` times."""
    return OutputInvalid(
        f"{name} gave output that does not fit the schema {asks} times; last problem: {problem}",
        model=name,
        details={"raw": raw, "problem": problem},
    )


def reask(request: ModelRequest, text: str, problem: str) -> ModelRequest:
    """The request again, with the rejected reply and what is wrong with it."""
    return request.model_copy(
        update={
            "messages": (
                *request.messages,
                AssistantMessage(content=text),
                UserMessage(
                    content=f"That reply was rejected: {problem}. Answer again with "
                    "only JSON that fits the schema."
                ),
            )
        }
    )
