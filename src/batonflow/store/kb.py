"""Knowledge bases and their documents and chunks: every query takes the tenant.

A document's chunks, their keyword rows and their vectors are written and deleted together by
`replace_chunks` and `delete_document`, inside the caller's transaction, so a changed document
never shows a mix of old and new chunks and a deleted one leaves nothing behind.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import delete, func, insert, select, text, update

from batonflow.errors import NotFound
from batonflow.ids import new_id
from batonflow.store.db import Conn
from batonflow.store.kb_tables import chunks_t, documents_t, kbs_t, pg_vector_index, sqlite_vectors
from batonflow.store.tables import visible

DOCUMENT_FIELDS = [c for c in documents_t.c if c.name != "content"]


async def create_kb(
    conn: Conn, tenant_id: str, fields: dict[str, Any], now: datetime
) -> dict[str, Any]:
    row = {"id": new_id(), "tenant_id": tenant_id, "created_at": now, "updated_at": now, **fields}
    await conn.execute(insert(kbs_t).values(**row))
    return row


def _kb_counts() -> Any:
    docs = (
        select(func.count())
        .where(documents_t.c.kb_id == kbs_t.c.id)
        .scalar_subquery()
        .label("documents")
    )
    chunks = (
        select(func.coalesce(func.sum(documents_t.c.chunk_count), 0))
        .where(documents_t.c.kb_id == kbs_t.c.id)
        .scalar_subquery()
        .label("chunks")
    )
    return select(kbs_t, docs, chunks)


async def list_kbs(conn: Conn, tenant_id: str, viewer: str | None = None) -> list[dict[str, Any]]:
    """The tenant's knowledge bases `viewer` may see (`runs/run.py::run_viewer`; None: all)."""
    query = _kb_counts().where(kbs_t.c.tenant_id == tenant_id, visible(viewer, kbs_t.c.private_to))
    rows = await conn.execute(query.order_by(kbs_t.c.name))
    return [dict(row._mapping) for row in rows]


async def get_kb(conn: Conn, tenant_id: str, ref: str, viewer: str | None = None) -> dict[str, Any]:
    """A knowledge base by id or by name; another tenant's, or one private to someone other
    than `viewer`, is not found."""
    query = _kb_counts().where(
        kbs_t.c.tenant_id == tenant_id,
        (kbs_t.c.id == ref) | (kbs_t.c.name == ref),
        visible(viewer, kbs_t.c.private_to),
    )
    row = (await conn.execute(query)).first()
    if row is None:
        raise NotFound(f"no knowledge base '{ref}'")
    return dict(row._mapping)


async def update_kb(
    conn: Conn, tenant_id: str, kb_id: str, fields: dict[str, Any], now: datetime
) -> None:
    await conn.execute(
        update(kbs_t)
        .where(kbs_t.c.tenant_id == tenant_id, kbs_t.c.id == kb_id)
        .values(updated_at=now, **fields)
    )


async def delete_kb(conn: Conn, tenant_id: str, kb: dict[str, Any]) -> None:
    for document_id in (
        await conn.execute(
            select(documents_t.c.id).where(
                documents_t.c.tenant_id == tenant_id, documents_t.c.kb_id == kb["id"]
            )
        )
    ).scalars():
        await delete_document(conn, tenant_id, kb, document_id)
    await conn.execute(delete(kbs_t).where(kbs_t.c.tenant_id == tenant_id, kbs_t.c.id == kb["id"]))


async def insert_document(
    conn: Conn, tenant_id: str, kb_id: str, fields: dict[str, Any], now: datetime
) -> dict[str, Any]:
    row = {
        "id": new_id(),
        "tenant_id": tenant_id,
        "kb_id": kb_id,
        "status": "pending",
        "error": None,
        "chunk_count": 0,
        "progress_done": 0,
        "progress_total": 0,
        "run_id": None,
        "created_at": now,
        "updated_at": now,
        **fields,
    }
    await conn.execute(insert(documents_t).values(**row))
    return {key: value for key, value in row.items() if key != "content"}


async def find_document(
    conn: Conn,
    tenant_id: str,
    kb_id: str,
    *,
    source: str | None = None,
    content_hash: str | None = None,
) -> dict[str, Any] | None:
    query = select(*DOCUMENT_FIELDS).where(
        documents_t.c.tenant_id == tenant_id, documents_t.c.kb_id == kb_id
    )
    if source is not None:
        query = query.where(documents_t.c.source == source)
    if content_hash is not None:
        query = query.where(documents_t.c.content_hash == content_hash)
    row = (await conn.execute(query.limit(1))).first()
    return None if row is None else dict(row._mapping)


async def get_document(
    conn: Conn, tenant_id: str, kb_id: str, document_id: str, *, content: bool = False
) -> dict[str, Any]:
    columns = list(documents_t.c) if content else DOCUMENT_FIELDS
    row = (
        await conn.execute(
            select(*columns).where(
                documents_t.c.tenant_id == tenant_id,
                documents_t.c.kb_id == kb_id,
                documents_t.c.id == document_id,
            )
        )
    ).first()
    if row is None:
        raise NotFound(f"no document '{document_id}' in this knowledge base")
    return dict(row._mapping)


async def get_document_any_kb(conn: Conn, tenant_id: str, document_id: str) -> dict[str, Any]:
    """A document of the tenant's, with its content, whichever knowledge base holds it."""
    row = (
        await conn.execute(
            select(documents_t).where(
                documents_t.c.tenant_id == tenant_id, documents_t.c.id == document_id
            )
        )
    ).first()
    if row is None:
        raise NotFound(f"no document '{document_id}'")
    return dict(row._mapping)


async def list_documents(conn: Conn, tenant_id: str, kb_id: str) -> list[dict[str, Any]]:
    rows = await conn.execute(
        select(*DOCUMENT_FIELDS)
        .where(documents_t.c.tenant_id == tenant_id, documents_t.c.kb_id == kb_id)
        .order_by(documents_t.c.created_at.desc(), documents_t.c.id)
    )
    return [dict(row._mapping) for row in rows]


async def update_document(
    conn: Conn, tenant_id: str, document_id: str, fields: dict[str, Any], now: datetime
) -> None:
    await conn.execute(
        update(documents_t)
        .where(documents_t.c.tenant_id == tenant_id, documents_t.c.id == document_id)
        .values(updated_at=now, **fields)
    )


async def _chunk_ids(conn: Conn, tenant_id: str, document_id: str) -> list[int]:
    rows = await conn.execute(
        select(chunks_t.c.id).where(
            chunks_t.c.tenant_id == tenant_id, chunks_t.c.document_id == document_id
        )
    )
    return [int(value) for value in rows.scalars()]


async def _drop_chunks(conn: Conn, tenant_id: str, kb: dict[str, Any], document_id: str) -> None:
    ids = await _chunk_ids(conn, tenant_id, document_id)
    if ids and conn.dialect.name == "sqlite":
        params = [{"id": chunk_id} for chunk_id in ids]
        await conn.execute(text("DELETE FROM kb_fts WHERE rowid = :id"), params)
        await conn.execute(text(sqlite_vectors(kb["dimensions"])))
        table = f"kb_vec_{int(kb['dimensions'])}"
        await conn.execute(text(f"DELETE FROM {table} WHERE chunk_id = :id"), params)  # noqa: S608  # nosec B608 - the table name is kb_vec_<int>
    # On PostgreSQL the vectors go with their chunks (ON DELETE CASCADE).
    await conn.execute(
        delete(chunks_t).where(
            chunks_t.c.tenant_id == tenant_id, chunks_t.c.document_id == document_id
        )
    )


async def replace_chunks(
    conn: Conn,
    tenant_id: str,
    kb: dict[str, Any],
    document_id: str,
    chunks: Sequence[dict[str, Any]],
    vectors: np.ndarray[Any, Any],
) -> list[int]:
    """Put `chunks` (position, heading, text, tokens) and their `vectors` in place of the
    document's old ones; returns the new chunk ids in order."""
    await _drop_chunks(conn, tenant_id, kb, document_id)
    if not chunks:
        return []
    rows = [
        {"tenant_id": tenant_id, "kb_id": kb["id"], "document_id": document_id, **chunk}
        for chunk in chunks
    ]
    result = await conn.execute(
        insert(chunks_t).returning(chunks_t.c.id, sort_by_parameter_order=True), rows
    )
    ids = [int(value) for value in result.scalars()]
    dims = int(kb["dimensions"])
    if conn.dialect.name == "sqlite":
        await conn.execute(
            text("INSERT INTO kb_fts (rowid, heading, text) VALUES (:id, :heading, :text)"),
            [
                {"id": i, "heading": c["heading"], "text": c["text"]}
                for i, c in zip(ids, chunks, strict=True)
            ],
        )
        await conn.execute(text(sqlite_vectors(dims)))
        await conn.execute(
            text(f"INSERT INTO kb_vec_{dims} (chunk_id, kb_id, embedding) VALUES (:id, :kb, :v)"),  # noqa: S608  # nosec B608 - dims is an int
            [
                {"id": i, "kb": kb["id"], "v": np.asarray(v, dtype=np.float32).tobytes()}
                for i, v in zip(ids, vectors, strict=True)
            ],
        )
    elif await conn.scalar(text("SELECT to_regclass('kb_vectors') IS NOT NULL")):
        # A server without pgvector keeps keyword search only.
        await conn.execute(text(pg_vector_index(dims)))
        await conn.execute(
            text(
                "INSERT INTO kb_vectors (chunk_id, tenant_id, kb_id, dims, embedding) "
                "VALUES (:id, :tenant, :kb, :dims, CAST(:v AS vector))"
            ),
            [
                {"id": i, "tenant": tenant_id, "kb": kb["id"], "dims": dims, "v": vector_text(v)}
                for i, v in zip(ids, vectors, strict=True)
            ],
        )
    return ids


def vector_text(vector: Any) -> str:
    """A vector as pgvector's text form."""
    return "[" + ",".join(f"{float(x):.7g}" for x in vector) + "]"


async def delete_document(conn: Conn, tenant_id: str, kb: dict[str, Any], document_id: str) -> None:
    await _drop_chunks(conn, tenant_id, kb, document_id)
    await conn.execute(
        delete(documents_t).where(
            documents_t.c.tenant_id == tenant_id, documents_t.c.id == document_id
        )
    )


async def count_chunks(conn: Conn, tenant_id: str, kb_id: str) -> dict[str, int]:
    """How many chunk rows, keyword rows and vectors a knowledge base has (for checks)."""
    chunks = await conn.scalar(
        select(func.count()).where(chunks_t.c.tenant_id == tenant_id, chunks_t.c.kb_id == kb_id)
    )
    params = {"kb": kb_id, "tenant": tenant_id}
    if conn.dialect.name == "sqlite":
        keyword = await conn.scalar(
            text(
                "SELECT count(*) FROM kb_fts WHERE rowid IN "
                "(SELECT id FROM kb_chunks WHERE kb_id = :kb AND tenant_id = :tenant)"
            ),
            params,
        )
        kb = (await conn.execute(select(kbs_t.c.dimensions).where(kbs_t.c.id == kb_id))).scalar()
        dims = int(kb or 384)
        await conn.execute(text(sqlite_vectors(dims)))
        vectors = await conn.scalar(
            text(f"SELECT count(*) FROM kb_vec_{dims} WHERE kb_id = :kb"),  # noqa: S608  # nosec B608 - dims is an int
            params,
        )
    else:
        keyword = chunks
        if not await conn.scalar(text("SELECT to_regclass('kb_vectors') IS NOT NULL")):
            return {"chunks": int(chunks or 0), "keyword": int(chunks or 0), "vectors": 0}
        vectors = await conn.scalar(
            text("SELECT count(*) FROM kb_vectors WHERE kb_id = :kb AND tenant_id = :tenant"),
            params,
        )
    return {"chunks": int(chunks or 0), "keyword": int(keyword or 0), "vectors": int(vectors or 0)}
