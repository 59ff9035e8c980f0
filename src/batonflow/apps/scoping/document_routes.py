"""A session's attached documents in the API: attach (upload), list with their ingestion state,
remove. A document is uploaded as the request body itself, as to a knowledge base: its
`Content-Type` or the source's extension says the format (text, Markdown, HTML or PDF), the
`source` query parameter names it. New or changed content is stored (202) and indexed by a
`kb-ingest` run; the same content again changes nothing (200)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status

from batonflow.api.deps import ApiState, State
from batonflow.apps.scoping import documents
from batonflow.apps.scoping.routes import Reader, Writer, host
from batonflow.apps.scoping.schemas import SessionDocument, SessionDocumentList
from batonflow.apps.scoping.sessions import Viewer
from batonflow.retrieval.documents import detect_format
from batonflow.retrieval.service import Knowledge

router = APIRouter(tags=["scoping"])
DOCUMENTS = "/sessions/{session_id}/documents"


def knowledge(state: ApiState) -> Knowledge:
    return Knowledge(state.transact, state.query, state.platform.embedders)


def _document(row: dict[str, Any]) -> SessionDocument:
    return SessionDocument.model_validate({k: row[k] for k in SessionDocument.model_fields})


@router.post(
    DOCUMENTS,
    response_model=SessionDocument,
    status_code=status.HTTP_202_ACCEPTED,
    responses={200: {"model": SessionDocument, "description": "the same content was attached"}},
)
async def attach(
    state: State,
    caller: Writer,
    session_id: str,
    request: Request,
    response: Response,
    source: Annotated[str, Query(min_length=1, max_length=1000, description="its file name")],
    title: Annotated[str, Query(max_length=500)] = "",
) -> SessionDocument:
    """Attach a document (the request body) to the session; its questions and analyses then
    draw on it once it is indexed (`status` ready)."""
    fmt = detect_format(source, request.headers.get("content-type"))
    row, changed = await documents.attach(
        host(state),
        knowledge(state),
        Viewer.of(caller),
        session_id,
        source,
        await request.body(),
        fmt=fmt,
        title=title,
    )
    if not changed:
        response.status_code = status.HTTP_200_OK
    return _document(row)


@router.get(DOCUMENTS, response_model=SessionDocumentList)
async def list_documents(state: State, caller: Reader, session_id: str) -> SessionDocumentList:
    """The session's documents, newest first, each with its ingestion state."""
    kb_id, rows = await documents.listing(host(state), Viewer.of(caller), session_id)
    return SessionDocumentList(knowledge_base=kb_id, items=[_document(r) for r in rows])


@router.delete(DOCUMENTS + "/{document_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove(state: State, caller: Writer, session_id: str, document_id: str) -> Response:
    """Detach a document: it is deleted, and no longer searched."""
    await documents.remove(host(state), Viewer.of(caller), session_id, document_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
