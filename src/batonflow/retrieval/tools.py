"""The knowledge-base tools in every deployment's registry: `kb.search` (for agents and `tool`
steps) and `kb.ingest`, both for the calling run's tenant.

Each new or changed document is indexed by a run of the platform's `kb-ingest` workflow (stored
in a tenant the first time it ingests), whose one step calls `kb.ingest`: so indexing is
durable, retried and visible with the tenant's other runs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from batonflow.agents.agent import CallContext, Toolbox
from batonflow.agents.needs import ToolNeeds
from batonflow.errors import ConfigError
from batonflow.runs.service import Actor, start_run
from batonflow.runs.state import RunRow
from batonflow.store import kb as kb_store
from batonflow.store import workflows as workflow_store
from batonflow.store.db import Conn
from batonflow.workflows.validation import load_spec

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


WORKFLOW = "kb-ingest"
SPEC = """
id: kb-ingest
version: 1
description: Read, chunk, embed and index a knowledge-base document.
inputs:
  document_id: {type: string, description: the stored document}
  source: {type: string, default: "", description: where it came from (for people)}
steps:
  - id: ingest
    kind: tool
    tool: kb.ingest
    args: {document_id: "{{ inputs.document_id }}"}
    retry: {max_attempts: 3, backoff: {initial: 2}}
    timeout: 3600
outputs:
  status: "{{ state.ingest.status }}"
  chunks: "{{ state.ingest.chunks }}"
"""


async def start_ingestion(
    conn: Conn, tenant_id: str, document: dict[str, object], actor: Actor, now: datetime
) -> RunRow:
    """Queue a `kb-ingest` run for a stored document and record it on the document (in the
    caller's write transaction; the caller wakes the executors once it commits). The run is
    as private as the document's knowledge base (`private_to`), so it can read it and only
    those who may see the knowledge base see the run."""
    kb = await kb_store.get_kb(conn, tenant_id, str(document["kb_id"]))
    spec = load_spec(SPEC, f"{WORKFLOW}.yaml")
    version, _ = await workflow_store.save_version(conn, tenant_id, spec, SPEC, now)
    document_id = str(document["id"])
    run = await start_run(
        conn,
        tenant_id=tenant_id,
        version=version,
        inputs={"document_id": document_id, "source": str(document.get("source", ""))},
        actor=actor,
        now=now,
        private_to=kb["private_to"],
    )
    await kb_store.update_document(conn, tenant_id, document_id, {"run_id": run.id}, now)
    return run
