"""Knowledge bases for a tenant: create, fill, ingest, delete, search. Adding the same content
again is a no-op. Ingestion reads, chunks and embeds outside any transaction, then swaps the
chunks in one write transaction, only if the document still has the content it read (a newer
upload wins).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import numpy as np

from batonflow.errors import Conflict, InvalidInput, NotFound
from batonflow.llm.ledger import CallScope
from batonflow.llm.records import CallRecord
from batonflow.retrieval import documents
from batonflow.retrieval.embeddings import LOCAL, Embedders
from batonflow.retrieval.rerank import Reranker
from batonflow.retrieval.search import Passage, Searcher
from batonflow.store import kb as kb_store
from batonflow.store.db import Conn
from batonflow.store.kb_search import Filters

T = TypeVar("T")
Tx = Callable[[Callable[[Conn], Awaitable[T]]], Awaitable[T]]
Progress = Callable[[int, int], None]  # (chunks embedded, chunks in all)
EMBED_BATCH = 64
NAME = r"^[a-z0-9][a-z0-9_.-]{0,99}$"


def now() -> datetime:
    return datetime.now(UTC)


def content_hash(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Added:
    document: dict[str, Any]
    changed: bool  # False: the same content was there already (nothing to ingest)


@dataclass
class Knowledge:
    """Retrieval on a process's database: `write` and `read` run transactions."""

    write: Tx[Any]
    read: Tx[Any]
    embedders: Embedders
    # Whom it acts for (`runs/run.py::run_viewer`): a knowledge base private to another user is
    # not found. None: every one of the tenant (an admin, or an app applying its own rules).
    viewer: str | None = None

    async def create(
        self,
        tenant_id: str,
        name: str,
        *,
        actor: str,
        description: str = "",
        embedding_model: str = LOCAL,
        dimensions: int | None = None,
        chunking_policy: documents.ChunkPolicy | None = None,
        private_to: str | None = None,
    ) -> dict[str, Any]:
        if not re.match(NAME, name):
            raise InvalidInput(
                "a knowledge base name is lower-case letters, digits, '.', '_' and '-'"
            )
        fields = {
            "name": name,
            "description": description,
            "embedding_model": embedding_model,
            "dimensions": self.embedders.dimensions(embedding_model, dimensions),
            "chunking": (chunking_policy or documents.ChunkPolicy()).model_dump(),
            "created_by": actor,
            "private_to": private_to,
        }

        async def work(conn: Conn) -> dict[str, Any]:
            try:
                await kb_store.get_kb(conn, tenant_id, name)  # any: names are the tenant's
            except NotFound:
                return await kb_store.create_kb(conn, tenant_id, fields, now())
            raise Conflict(f"a knowledge base named '{name}' exists")

        created: dict[str, Any] = await self.write(work)
        return {**created, "documents": 0, "chunks": 0}

    async def get(self, tenant_id: str, ref: str) -> dict[str, Any]:
        return await self.read(lambda conn: kb_store.get_kb(conn, tenant_id, ref, self.viewer))  # type: ignore[no-any-return]

    async def all(self, tenant_id: str) -> list[dict[str, Any]]:
        return await self.read(lambda conn: kb_store.list_kbs(conn, tenant_id, self.viewer))  # type: ignore[no-any-return]

    async def delete(self, tenant_id: str, ref: str) -> None:
        async def work(conn: Conn) -> None:
            kb = await kb_store.get_kb(conn, tenant_id, ref, self.viewer)
            await kb_store.delete_kb(conn, tenant_id, kb)

        await self.write(work)

    async def add(
        self,
        tenant_id: str,
        ref: str,
        source: str,
        data: bytes,
        *,
        title: str = "",
        fmt: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Added:
        """Store a document for ingestion (see the module docstring)."""
        fmt = fmt or documents.detect_format(source)
        if fmt not in documents.FORMATS:
            raise InvalidInput(f"unknown format '{fmt}'; one of {', '.join(documents.FORMATS)}")
        if not data:
            raise InvalidInput("the document is empty")
        digest = content_hash(data)
        fields = {
            "source": source,
            "title": title or source.rsplit("/", 1)[-1],
            "format": fmt,
            "content_hash": digest,
            "content": data,
            "size": len(data),
            "metadata": metadata or {},
        }

        async def work(conn: Conn) -> Added:
            kb = await kb_store.get_kb(conn, tenant_id, ref, self.viewer)
            same = await kb_store.find_document(conn, tenant_id, kb["id"], source=source)
            if same is not None:
                if same["content_hash"] == digest and same["status"] != "failed":
                    return Added(same, False)
                changes = {**fields, "status": "pending", "error": None}
                await kb_store.update_document(conn, tenant_id, same["id"], changes, now())
                return Added(
                    await kb_store.get_document(conn, tenant_id, kb["id"], same["id"]), True
                )
            twin = await kb_store.find_document(conn, tenant_id, kb["id"], content_hash=digest)
            if twin is not None:
                return Added(twin, False)
            return Added(
                await kb_store.insert_document(conn, tenant_id, kb["id"], fields, now()), True
            )

        result: Added = await self.write(work)
        return result

    async def documents(self, tenant_id: str, ref: str) -> list[dict[str, Any]]:
        async def work(conn: Conn) -> list[dict[str, Any]]:
            kb = await kb_store.get_kb(conn, tenant_id, ref, self.viewer)
            return await kb_store.list_documents(conn, tenant_id, kb["id"])

        return await self.read(work)  # type: ignore[no-any-return]

    async def document(self, tenant_id: str, ref: str, document_id: str) -> dict[str, Any]:
        async def work(conn: Conn) -> dict[str, Any]:
            kb = await kb_store.get_kb(conn, tenant_id, ref, self.viewer)
            return await kb_store.get_document(conn, tenant_id, kb["id"], document_id)

        return await self.read(work)  # type: ignore[no-any-return]

    async def remove(self, tenant_id: str, ref: str, document_id: str) -> None:
        async def work(conn: Conn) -> None:
            kb = await kb_store.get_kb(conn, tenant_id, ref, self.viewer)
            await kb_store.get_document(conn, tenant_id, kb["id"], document_id)
            await kb_store.delete_document(conn, tenant_id, kb, document_id)

        await self.write(work)

    async def ingest(
        self,
        tenant_id: str,
        document_id: str,
        *,
        progress: Progress | None = None,
        scope: CallScope | None = None,
        calls: list[CallRecord] | None = None,
    ) -> dict[str, Any]:
        """Parse, chunk, embed and index a stored document; returns its updated row. Calls to a
        paid embeddings endpoint are recorded as `scope`'s (by default the tenant's)."""

        async def load(conn: Conn) -> tuple[dict[str, Any], dict[str, Any]]:
            doc = await kb_store.get_document_any_kb(conn, tenant_id, document_id)
            kb = await kb_store.get_kb(conn, tenant_id, doc["kb_id"], self.viewer)
            changes = {"status": "ingesting", "progress_done": 0, "progress_total": 0}
            await kb_store.update_document(conn, tenant_id, document_id, changes, now())
            return doc, kb

        doc, kb = await self.write(load)
        try:
            parsed = documents.parse(doc["content"], doc["format"], doc["title"])
            policy = documents.ChunkPolicy.model_validate(kb["chunking"])
            pieces = documents.chunk(parsed.blocks, policy)
            rows = [
                {
                    "position": piece.position,
                    "heading": " > ".join(piece.heading_path),
                    "text": piece.text,
                    "tokens": piece.tokens,
                }
                for piece in pieces
            ]
            embedder = self.embedders.get(
                kb["embedding_model"], int(kb["dimensions"]), scope or CallScope(tenant_id), calls
            )
            batches = []
            for start in range(0, len(rows), EMBED_BATCH):
                batch = rows[start : start + EMBED_BATCH]
                batches.append(
                    await embedder.embed([f"{r['heading']}\n{r['text']}".strip() for r in batch])
                )
                await self._progress(tenant_id, document_id, start + len(batch), len(rows))
                if progress is not None:
                    progress(start + len(batch), len(rows))
        except Exception as exc:
            await self._fail(tenant_id, document_id, exc)
            raise
        vectors = np.concatenate(batches) if batches else np.zeros((0, int(kb["dimensions"])))
        title = doc["title"] or parsed.title

        async def swap(conn: Conn) -> dict[str, Any]:
            current = await kb_store.get_document(conn, tenant_id, kb["id"], document_id)
            if current["content_hash"] != doc["content_hash"]:
                return current  # a newer upload replaced it; its own ingestion indexes it
            await kb_store.replace_chunks(conn, tenant_id, kb, document_id, rows, vectors)
            changes = {
                "status": "ready",
                "chunk_count": len(rows),
                "progress_done": len(rows),
                "progress_total": len(rows),
                "title": title,
                "error": None,
            }
            await kb_store.update_document(conn, tenant_id, document_id, changes, now())
            return await kb_store.get_document(conn, tenant_id, kb["id"], document_id)

        updated: dict[str, Any] = await self.write(swap)
        return updated

    async def _progress(self, tenant_id: str, document_id: str, done: int, total: int) -> None:
        """Record how far the embedding is, for a large upload (one small write per batch)."""
        if total <= EMBED_BATCH:
            return
        changes = {"progress_done": done, "progress_total": total}
        await self.write(
            lambda conn: kb_store.update_document(conn, tenant_id, document_id, changes, now())
        )

    async def _fail(self, tenant_id: str, document_id: str, exc: Exception) -> None:
        message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        await self.write(
            lambda conn: kb_store.update_document(
                conn, tenant_id, document_id, {"status": "failed", "error": message}, now()
            )
        )

    async def search(
        self,
        tenant_id: str,
        refs: list[str],
        query: str,
        *,
        mode: str = "hybrid",
        k: int = 5,
        filters: Filters | None = None,
        reranker: Reranker | None = None,
    ) -> list[Passage]:
        return await search_tenant(
            self.read,
            self.embedders,
            tenant_id,
            refs,
            query,
            mode=mode,
            k=k,
            filters=filters,
            reranker=reranker,
            viewer=self.viewer,
        )


async def search_tenant(
    read: Tx[Any],
    embedders: Embedders,
    tenant_id: str,
    refs: list[str],
    query: str,
    *,
    mode: str = "hybrid",
    k: int = 5,
    filters: Filters | None = None,
    reranker: Reranker | None = None,
    scope: CallScope | None = None,
    calls: list[CallRecord] | None = None,
    viewer: str | None = None,
) -> list[Passage]:
    """Search the named knowledge bases of the tenant that `viewer` may see (each must exist:
    another tenant's, or one private to another user, is not found); only `read`
    transactions, so workflow steps and agents use it too."""

    async def kbs(conn: Conn) -> list[dict[str, Any]]:
        return [await kb_store.get_kb(conn, tenant_id, ref, viewer) for ref in refs]

    found = await read(kbs)
    return await Searcher(embedders).search(
        read,
        tenant_id,
        found,
        query,
        mode=mode,
        k=k,
        filters=filters or Filters(),
        reranker=reranker,
        scope=scope,
        calls=calls,
    )
