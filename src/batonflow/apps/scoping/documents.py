"""Documents attached to a session, which shape its questions and analyses through retrieval.

They live in a knowledge base of the tenant dedicated to the session, named
`scoping-session-<session id>` and created on the first attach; the session row keeps its id
(`kb_id`). Attaching stores the document with the platform's knowledge bases and starts its
`kb-ingest` run, as an upload to a knowledge base does; listing shows each one's ingestion state.
Who may see the session may list its documents, who may edit it may attach and remove them;
anyone else is told there is no such session. Deleting the session deletes its knowledge base.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from batonflow.apps.scoping import sessions
from batonflow.apps.scoping.sessions import Viewer
from batonflow.errors import Conflict, NotFound
from batonflow.retrieval.service import Knowledge
from batonflow.retrieval.tools import start_ingestion
from batonflow.runs.service import Actor
from batonflow.store import kb as kb_store
from batonflow.store.db import Conn

if TYPE_CHECKING:
    from batonflow.apps.scoping.service import Host

PREFIX = "scoping-session-"


def kb_name(session_id: str) -> str:
    return f"{PREFIX}{session_id}"


async def knowledge_base(
    conn: Conn, tenant_id: str, session: dict[str, Any]
) -> dict[str, Any] | None:
    """The session's knowledge base; None before the first attach (or once it was deleted
    through the knowledge-base API)."""
    if not session["kb_id"]:
        return None
    try:
        return await kb_store.get_kb(conn, tenant_id, session["kb_id"])
    except NotFound:
        return None


async def searchable(conn: Conn, tenant_id: str, session: dict[str, Any]) -> str:
    """The id of the session's knowledge base when a document of it is ready to search;
    "" otherwise (the agents then search nothing)."""
    kb = await knowledge_base(conn, tenant_id, session)
    if kb is None:
        return ""
    documents = await kb_store.list_documents(conn, tenant_id, kb["id"])
    return str(kb["id"]) if any(d["status"] == "ready" for d in documents) else ""


async def _ensure(host: Host, knowledge: Knowledge, viewer: Viewer, session_id: str) -> str:
    """The id of the session's knowledge base, created now if it has none yet."""
    tenant_id = viewer.tenant_id

    async def find(conn: Conn) -> tuple[dict[str, Any], dict[str, Any] | None]:
        session = await sessions.editable(conn, viewer, session_id)
        return session, await knowledge_base(conn, tenant_id, session)

    session, kb = await host.read(find)
    if kb is not None:
        return str(kb["id"])
    name = kb_name(session_id)
    try:
        kb = await knowledge.create(
            tenant_id,
            name,
            actor=viewer.name,
            description=f"Documents attached to the scoping session '{session['title']}'",
            private_to=session["owner_id"],  # as private as the session's runs
        )
    except Conflict:  # attached at the same time by someone else, or left by a deleted one
        kb = await knowledge.get(tenant_id, name)
    kb_id = str(kb["id"])
    await host.write(lambda conn: sessions.set_knowledge_base(conn, tenant_id, session_id, kb_id))
    return kb_id


async def attach(
    host: Host,
    knowledge: Knowledge,
    viewer: Viewer,
    session_id: str,
    source: str,
    data: bytes,
    *,
    fmt: str | None = None,
    title: str = "",
) -> tuple[dict[str, Any], bool]:
    """Store a document in the session's knowledge base and start indexing it; the document
    and whether it was new or changed (the same content again changes nothing)."""
    tenant_id = viewer.tenant_id
    kb_id = await _ensure(host, knowledge, viewer, session_id)
    added = await knowledge.add(tenant_id, kb_id, source, data, title=title, fmt=fmt)
    if not added.changed:
        return added.document, False

    async def start(conn: Conn) -> dict[str, Any]:
        await sessions.editable(conn, viewer, session_id)  # still theirs to change
        actor = Actor(viewer.name, frozenset())
        await start_ingestion(conn, tenant_id, added.document, actor, host.now())
        return await kb_store.get_document(conn, tenant_id, kb_id, added.document["id"])

    document: dict[str, Any] = await host.write(start)
    host.wake()
    return document, True


async def listing(
    host: Host, viewer: Viewer, session_id: str
) -> tuple[str | None, list[dict[str, Any]]]:
    """The session's knowledge base id and its documents, newest first."""

    async def work(conn: Conn) -> tuple[str | None, list[dict[str, Any]]]:
        session, _ = await sessions.find(conn, viewer, session_id)
        kb = await knowledge_base(conn, viewer.tenant_id, session)
        if kb is None:
            return None, []
        return str(kb["id"]), await kb_store.list_documents(conn, viewer.tenant_id, kb["id"])

    result: tuple[str | None, list[dict[str, Any]]] = await host.read(work)
    return result


async def remove(host: Host, viewer: Viewer, session_id: str, document_id: str) -> None:
    """Detach a document: it is deleted with its chunks, and no longer searched."""

    async def work(conn: Conn) -> None:
        session = await sessions.editable(conn, viewer, session_id)
        kb = await knowledge_base(conn, viewer.tenant_id, session)
        if kb is None:
            raise NotFound(f"the session '{session_id}' has no document '{document_id}'")
        try:
            await kb_store.get_document(conn, viewer.tenant_id, kb["id"], document_id)
        except NotFound:
            raise NotFound(f"the session '{session_id}' has no document '{document_id}'") from None
        await kb_store.delete_document(conn, viewer.tenant_id, kb, document_id)

    await host.write(work)
