"""The knowledge-base tools in every deployment's registry: `kb.search` (for agents and `tool`
steps) and `kb.ingest` (the `kb-ingest` workflow's step), both for the calling run's tenant.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from batonflow.agents.agent import CallContext, Toolbox
from batonflow.agents.needs import ToolNeeds
from batonflow.errors import ConfigError

kb_tools = Toolbox("platform-kb", "Searches the tenant's knowledge bases")


class SearchIn(BaseModel):
    knowledge_base: str | list[str] = Field(description="names or ids")
    query: str = Field(min_length=1, max_length=2000)
    k: int = Field(5, ge=1, le=50)
    mode: Literal["keyword", "vector", "hybrid"] = "hybrid"


class Found(BaseModel):
    citation: str
    text: str
    score: float
    knowledge_base: str
    document_id: str
    title: str
    source: str
    heading_path: list[str]
    position: int


class SearchOut(BaseModel):
    passages: list[Found]


# Both read and write the tenant's own database rows only: no network, no files.
@kb_tools.tool("kb.search", needs=ToolNeeds(timeout=60.0))
async def kb_search(ctx: CallContext, args: SearchIn) -> SearchOut:
    """The passages of the tenant's knowledge bases that best match the query, ranked."""
    if ctx.kb is None:
        raise ConfigError("this call has no knowledge-base search")
    names = [args.knowledge_base] if isinstance(args.knowledge_base, str) else args.knowledge_base
    found = await ctx.kb(names, args.query, k=args.k, mode=args.mode)
    return SearchOut(passages=[Found.model_validate(p) for p in found])


class IngestIn(BaseModel):
    document_id: str = Field(min_length=1, max_length=36)


class Ingested(BaseModel):
    document_id: str
    knowledge_base: str
    source: str
    title: str
    status: str
    chunks: int


@kb_tools.tool("kb.ingest", needs=ToolNeeds(side_effects=True))
async def kb_ingest(ctx: CallContext, args: IngestIn) -> Ingested:
    """Read, chunk, embed and index a stored document (replacing its old chunks)."""
    if ctx.kb is None:
        raise ConfigError("this call has no knowledge bases")
    doc = await ctx.kb.ingest(args.document_id)
    return Ingested(
        document_id=doc["id"],
        knowledge_base=doc["knowledge_base"],
        source=doc["source"],
        title=doc["title"],
        status=doc["status"],
        chunks=doc["chunk_count"],
    )
