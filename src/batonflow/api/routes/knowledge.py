"""Knowledge bases: create, list, get, delete; upload, list, get and delete documents; search.

A knowledge base private to one user (`private_to`) is not there for the tenant's other
members, admins aside: the same 404 as an unknown one, and left out of the list.

A document is the request body itself, named by `?source=`. The same content again is a no-op
(200); new or changed content is stored (202) and indexed by a `kb-ingest` run (docs/retrieval.md).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import BaseModel, Field

from batonflow.api.deps import ApiState, State, require
from batonflow.api.routes.auth import Strict
from batonflow.auth.scopes import Principal
from batonflow.errors import InvalidInput
from batonflow.retrieval.documents import ChunkPolicy
from batonflow.retrieval.embeddings import LOCAL
from batonflow.retrieval.service import Knowledge
from batonflow.retrieval.tools import start_ingestion
from batonflow.runs.run import run_viewer
from batonflow.runs.service import Actor
from batonflow.store import kb as kb_store
from batonflow.store.db import Conn
from batonflow.store.kb_search import Filters

router = APIRouter(prefix="/api/v1/knowledge-bases", tags=["knowledge bases"])


def knowledge(state: ApiState, caller: Principal) -> Knowledge:
    """The tenant's knowledge bases as `caller` sees them: one private to another user (a
    scoping session's, say) is not found, for anyone but the tenant's admins."""
    viewer = run_viewer(caller.id, caller.roles)
    return Knowledge(state.transact, state.query, state.platform.embedders, viewer)


class KnowledgeBaseIn(Strict):
    name: str = Field(max_length=100, description="lowercase letters, digits, '.', '_', '-'")
    description: str = Field("", max_length=2000)
    embedding_model: str = Field(LOCAL, description="local:minilm-l6-v2 or openai:<model>")
    dimensions: int | None = Field(None, ge=1, le=4096)
    chunking: ChunkPolicy = ChunkPolicy()


class KnowledgeBaseOut(BaseModel):
    id: str
    name: str
    description: str
    embedding_model: str
    dimensions: int
    chunking: dict[str, Any]
    documents: int
    chunks: int
    created_by: str
    created_at: datetime
    private_to: str | None = Field(
        description="the user it is private to (an app's, such as a scoping session's "
        "documents): only they and the tenant's admins see it, and only their runs search it"
    )


class KnowledgeBaseList(BaseModel):
    items: list[KnowledgeBaseOut]


class DocumentOut(BaseModel):
    id: str
    kb_id: str
    source: str
    title: str
    format: str
    content_hash: str
    size: int
    metadata: dict[str, Any]
    status: Literal["pending", "ingesting", "ready", "failed"]
    error: str | None
    chunk_count: int
    progress_done: int = Field(description="while ingesting: chunks embedded so far")
    progress_total: int
    run_id: str | None = Field(description="the kb-ingest run that indexes it")
    created_at: datetime
    updated_at: datetime


class DocumentList(BaseModel):
    items: list[DocumentOut]


class SearchIn(Strict):
    query: str = Field(min_length=1, max_length=2000)
    mode: Literal["keyword", "vector", "hybrid"] = "hybrid"
    k: int = Field(5, ge=1, le=100)
    rerank: Literal["none", "local", "hosted"] = Field(
        "none", description="hosted: the rerank API the server is configured with"
    )
    document_ids: list[str] = Field(default_factory=list, max_length=100)
    metadata: dict[str, str] = Field(default_factory=dict)


class PassageOut(BaseModel):
    citation: str = Field(description="stable while the document is unchanged")
    chunk_id: int
    knowledge_base: str
    document_id: str
    title: str
    source: str
    heading_path: list[str]
    position: int
    text: str
    score: float
    highlight: str = Field(description="the text, HTML-escaped, with matching words in <mark>")
    metadata: dict[str, Any]
    keyword_rank: int | None
    vector_rank: int | None


class SearchOut(BaseModel):
    query: str
    mode: str
    items: list[PassageOut]


def _kb(row: dict[str, Any]) -> KnowledgeBaseOut:
    return KnowledgeBaseOut.model_validate({k: row[k] for k in KnowledgeBaseOut.model_fields})


def _doc(row: dict[str, Any]) -> DocumentOut:
    return DocumentOut.model_validate({k: row[k] for k in DocumentOut.model_fields})


@router.post("", response_model=KnowledgeBaseOut, status_code=status.HTTP_201_CREATED)
async def create_kb(
    state: State, body: KnowledgeBaseIn, caller: Annotated[Principal, require("kb:write")]
) -> KnowledgeBaseOut:
    row = await knowledge(state, caller).create(
        caller.tenant_id,
        body.name,
        actor=caller.name,
        description=body.description,
        embedding_model=body.embedding_model,
        dimensions=body.dimensions,
        chunking_policy=body.chunking,
    )
    return _kb(row)


@router.get("", response_model=KnowledgeBaseList)
async def list_kbs(
    state: State, caller: Annotated[Principal, require("kb:read")]
) -> KnowledgeBaseList:
    return KnowledgeBaseList(
        items=[_kb(r) for r in await knowledge(state, caller).all(caller.tenant_id)]
    )


@router.get("/{kb}", response_model=KnowledgeBaseOut)
async def get_kb(
    state: State, kb: str, caller: Annotated[Principal, require("kb:read")]
) -> KnowledgeBaseOut:
    """A knowledge base by id or name."""
    return _kb(await knowledge(state, caller).get(caller.tenant_id, kb))


@router.delete("/{kb}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_kb(
    state: State, kb: str, caller: Annotated[Principal, require("kb:write")]
) -> Response:
    """Delete a knowledge base with every document, chunk and vector."""
    await knowledge(state, caller).delete(caller.tenant_id, kb)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{kb}/documents",
    response_model=DocumentOut,
    status_code=status.HTTP_202_ACCEPTED,
    responses={200: {"model": DocumentOut, "description": "the same content was there"}},
)
async def upload(
    state: State,
    kb: str,
    request: Request,
    response: Response,
    caller: Annotated[Principal, require("kb:write")],
    source: Annotated[str, Query(min_length=1, max_length=1000)],
    title: Annotated[str, Query(max_length=500)] = "",
    metadata: Annotated[str, Query(max_length=10_000, description="a JSON object")] = "{}",
) -> DocumentOut:
    """Upload a document (the request body); a `kb-ingest` run indexes it."""
    try:
        meta = json.loads(metadata)
    except ValueError as exc:
        raise InvalidInput("metadata must be a JSON object") from exc
    if not isinstance(meta, dict):
        raise InvalidInput("metadata must be a JSON object")
    from batonflow.retrieval.documents import detect_format

    service = knowledge(state, caller)
    fmt = detect_format(source, request.headers.get("content-type"))
    added = await service.add(
        caller.tenant_id, kb, source, await request.body(), title=title, fmt=fmt, metadata=meta
    )
    if not added.changed:
        response.status_code = status.HTTP_200_OK
        return _doc(added.document)
    actor = Actor(caller.name, caller.roles)

    async def start(conn: Conn) -> dict[str, Any]:
        await start_ingestion(conn, caller.tenant_id, added.document, actor, state.now())
        return await kb_store.get_document(
            conn, caller.tenant_id, added.document["kb_id"], added.document["id"]
        )

    document = await state.transact(start)
    state.committed([])  # wake the executor
    return _doc(document)


@router.get("/{kb}/documents", response_model=DocumentList)
async def list_documents(
    state: State, kb: str, caller: Annotated[Principal, require("kb:read")]
) -> DocumentList:
    rows = await knowledge(state, caller).documents(caller.tenant_id, kb)
    return DocumentList(items=[_doc(r) for r in rows])


@router.get("/{kb}/documents/{document_id}", response_model=DocumentOut)
async def get_document(
    state: State, kb: str, document_id: str, caller: Annotated[Principal, require("kb:read")]
) -> DocumentOut:
    return _doc(await knowledge(state, caller).document(caller.tenant_id, kb, document_id))


@router.delete("/{kb}/documents/{document_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_document(
    state: State, kb: str, document_id: str, caller: Annotated[Principal, require("kb:write")]
) -> Response:
    """Delete a document with every chunk and vector."""
    await knowledge(state, caller).remove(caller.tenant_id, kb, document_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{kb}/search", response_model=SearchOut)
async def search(
    state: State, kb: str, body: SearchIn, caller: Annotated[Principal, require("kb:read")]
) -> SearchOut:
    """Ranked passages for a query: by keyword, by meaning, or both fused."""
    passages = await knowledge(state, caller).search(
        caller.tenant_id,
        [kb],
        body.query,
        mode=body.mode,
        k=body.k,
        filters=Filters(tuple(body.document_ids), body.metadata),
        reranker=state.platform.rerankers.get(body.rerank),
    )
    items = [PassageOut.model_validate(p.as_dict()) for p in passages]
    return SearchOut(query=body.query, mode=body.mode, items=items)
