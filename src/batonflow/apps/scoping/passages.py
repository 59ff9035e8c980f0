"""What the scoping agents read of the documents attached to a session: the few passages of its
knowledge base that best match the project, the stage's focus and the latest answers, put in the prompt as
framed data (`retrieval/grounding.py`: each under its citation id, never obeyed), and the
sources a reply says it drew on.

A reply cites by id, and the ids it may give are the passages' own (an `enum` in its schema),
so a source is always a passage the agent was given. A session without ready documents is
searched not at all: the service passes its knowledge base only once one is ready.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel

from batonflow.agents.agent import CallContext
from batonflow.errors import ConfigError, NotFound
from batonflow.retrieval import grounding

K = 4  # passages per prompt: a small model reads a short context best
QUERY_CHARS = 1000
LATEST = 3  # the answers, newest last, that join the stage's focus in the query
CITE = (
    "Passages from the documents attached to the session follow. Use what they say, and list "
    "the ids of the passages you drew on in `citations` (none if you used none)."
)


class Source(BaseModel):
    citation: str
    document_id: str
    title: str
    source: str
    heading_path: list[str]


def query_for(title: str, focus: str, answers: Iterable[str | None]) -> str:
    """The search: the project's title, what the stage is about, and the latest answers."""
    latest = [a.strip() for a in answers if a and a.strip()][-LATEST:]
    return " ".join([title, focus, *latest])[:QUERY_CHARS]


async def retrieve(ctx: CallContext, knowledge_base: str, query: str) -> list[dict[str, Any]]:
    """The passages of the session's knowledge base for `query` (by keyword and meaning, or by
    keyword alone on a PostgreSQL without pgvector); none without one."""
    if not knowledge_base or ctx.kb is None:
        return []
    try:
        try:
            return await ctx.kb([knowledge_base], query, k=K)
        except ConfigError:  # no vector search on this database: the keyword half still works
            return await ctx.kb([knowledge_base], query, k=K, mode="keyword")
    except NotFound:  # the knowledge base was deleted after the stage started
        return []


def framed(prompt: str, passages: list[dict[str, Any]]) -> str:
    """The prompt, then the passages (framed as data) when there are any."""
    if not passages:
        return prompt
    return grounding.frame(f"{prompt}\n\n{CITE}", passages)


def output(schema: dict[str, Any], passages: list[dict[str, Any]]) -> dict[str, Any]:
    """The reply's schema: `schema`, with `citations` (ids of the passages only) when there
    are passages."""
    if not passages:
        return schema
    ids = list(dict.fromkeys(str(p["citation"]) for p in passages))
    schema = {**schema, "properties": dict(schema["properties"])}
    schema["properties"]["citations"] = {
        "type": "array",
        "items": {"type": "string", "enum": ids},
        "maxItems": len(ids),
    }
    schema["required"] = [*schema.get("required", []), "citations"]
    return schema


def sources(value: Any, passages: list[dict[str, Any]]) -> list[Source]:
    """The passages the reply cites, each once, in its order."""
    cited = value.get("citations", []) if isinstance(value, dict) else []
    known = {str(p["citation"]) for p in passages}
    picked = {"citations": [c for c in cited if c in known]}
    return [Source.model_validate(s) for s in grounding.sources(picked, passages)]
