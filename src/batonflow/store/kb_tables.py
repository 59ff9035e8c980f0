"""Knowledge bases, their documents and chunks, and the search indexes beside the tables.

The tables are ordinary models; the indexes each database searches with are not, and their DDL
lives here so that the migration and a schema built from the models (tests) make the same:

- SQLite: `kb_fts`, an FTS5 table (porter stemming) whose rowid is the chunk's id, and
  `kb_vec_<dims>`, a sqlite-vec `vec0` table per embedding size, partitioned by knowledge base,
  with cosine distance.
- PostgreSQL: `kb_chunks.tsv`, a generated `tsvector` with a GIN index, and `kb_vectors`
  (pgvector) with an HNSW index for the local model's 384 dimensions; made only where the server
  has the `vector` extension (a server without it keeps keyword search).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, mapped_column

from batonflow.store.tables import Base, table

LOCAL_DIMENSIONS = 384
# SQLite's rowid alias must be INTEGER; PostgreSQL gets a BIGINT identity.
ChunkId = BigInteger().with_variant(Integer(), "sqlite")


class KnowledgeBase(Base):
    __tablename__ = "knowledge_bases"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    embedding_model: Mapped[str] = mapped_column(String(200))
    dimensions: Mapped[int] = mapped_column(Integer)
    chunking: Mapped[dict[str, Any]]
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # The user it is private to (an app's, such as a scoping session's documents): the API
    # shows it to them and to the tenant's admins, and only runs private to them search it.
    # NULL: every member with `kb:read`, and every run of the tenant.
    private_to: Mapped[str | None] = mapped_column(String(36))


class KbDocument(Base):
    __tablename__ = "kb_documents"
    __table_args__ = (
        UniqueConstraint("kb_id", "source"),
        Index("ix_kb_documents_tenant_kb_created", "tenant_id", "kb_id", "created_at"),
        Index("ix_kb_documents_kb_id_content_hash", "kb_id", "content_hash"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36))
    kb_id: Mapped[str] = mapped_column(ForeignKey("knowledge_bases.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(1000))
    title: Mapped[str] = mapped_column(String(500))
    format: Mapped[str] = mapped_column(String(16))
    content_hash: Mapped[str] = mapped_column(String(80))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata")
    status: Mapped[str] = mapped_column(String(16))  # pending, ingesting, ready, failed
    error: Mapped[str | None] = mapped_column(Text)
    chunk_count: Mapped[int] = mapped_column(Integer, default=0)
    # While ingesting: chunks embedded so far, of how many (a large upload's progress).
    progress_done: Mapped[int] = mapped_column(Integer, default=0)
    progress_total: Mapped[int] = mapped_column(Integer, default=0)
    run_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class KbChunk(Base):
    __tablename__ = "kb_chunks"
    __table_args__ = (
        Index("ix_kb_chunks_document_position", "document_id", "position"),
        Index("ix_kb_chunks_tenant_kb", "tenant_id", "kb_id"),
    )

    id: Mapped[int] = mapped_column(ChunkId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String(36))
    kb_id: Mapped[str] = mapped_column(String(36))
    document_id: Mapped[str] = mapped_column(ForeignKey("kb_documents.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    heading: Mapped[str] = mapped_column(Text)  # the heading path, joined with " > "
    text: Mapped[str] = mapped_column(Text)
    tokens: Mapped[int] = mapped_column(Integer)


kbs_t = table(KnowledgeBase)
documents_t = table(KbDocument)
chunks_t = table(KbChunk)

SQLITE_FTS = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS kb_fts USING fts5("
    "heading, text, tokenize = 'porter unicode61')"
)
PG_TSV = (
    "ALTER TABLE kb_chunks ADD COLUMN IF NOT EXISTS tsv tsvector GENERATED ALWAYS AS "
    "(setweight(to_tsvector('english', heading), 'A') || to_tsvector('english', text)) STORED"
)
PG_TSV_INDEX = "CREATE INDEX IF NOT EXISTS ix_kb_chunks_tsv ON kb_chunks USING gin (tsv)"
PG_VECTORS = (
    "CREATE TABLE IF NOT EXISTS kb_vectors ("
    "chunk_id BIGINT PRIMARY KEY REFERENCES kb_chunks (id) ON DELETE CASCADE, "
    "tenant_id VARCHAR(36) NOT NULL, kb_id VARCHAR(36) NOT NULL, dims INTEGER NOT NULL, "
    "embedding vector NOT NULL)"
)
PG_VECTORS_KB = "CREATE INDEX IF NOT EXISTS ix_kb_vectors_kb ON kb_vectors (kb_id, tenant_id)"


def sqlite_vectors(dims: int) -> str:
    """The vec0 table for one embedding size (`dims` is an integer, never user text)."""
    return (
        f"CREATE VIRTUAL TABLE IF NOT EXISTS kb_vec_{int(dims)} USING vec0("
        f"chunk_id INTEGER PRIMARY KEY, kb_id TEXT PARTITION KEY, "
        f"embedding float[{int(dims)}] distance_metric=cosine)"
    )


def pg_vector_index(dims: int) -> str:
    """An HNSW index for one embedding size, over the column cast to that size."""
    return (
        f"CREATE INDEX IF NOT EXISTS ix_kb_vectors_hnsw_{int(dims)} ON kb_vectors USING hnsw "
        f"((embedding::vector({int(dims)})) vector_cosine_ops) WHERE dims = {int(dims)}"
    )


def has_pgvector(sync: Connection) -> bool:
    return bool(
        sync.exec_driver_sql(
            "SELECT count(*) FROM pg_available_extensions WHERE name = 'vector'"
        ).scalar()
    )


def create_indexes(sync: Connection) -> None:
    """The search indexes beside the tables (see the module docstring); idempotent."""
    if sync.dialect.name == "sqlite":
        sync.exec_driver_sql(SQLITE_FTS)
        sync.exec_driver_sql(sqlite_vectors(LOCAL_DIMENSIONS))
        return
    sync.exec_driver_sql(PG_TSV)
    sync.exec_driver_sql(PG_TSV_INDEX)
    if has_pgvector(sync):
        sync.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS vector")
        sync.exec_driver_sql(PG_VECTORS)
        sync.exec_driver_sql(PG_VECTORS_KB)
        sync.exec_driver_sql(pg_vector_index(LOCAL_DIMENSIONS))


def drop_indexes(sync: Connection) -> None:
    if sync.dialect.name == "sqlite":
        names = sync.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE 'CREATE VIRTUAL%' "
            "AND (name = 'kb_fts' OR name LIKE 'kb_vec_%')"
        ).scalars()
        for name in list(names):
            sync.exec_driver_sql(f'DROP TABLE IF EXISTS "{name}"')
        return
    sync.exec_driver_sql("DROP TABLE IF EXISTS kb_vectors")
    sync.exec_driver_sql("DROP INDEX IF EXISTS ix_kb_chunks_tsv")
    sync.exec_driver_sql("ALTER TABLE kb_chunks DROP COLUMN IF EXISTS tsv")


@event.listens_for(chunks_t, "after_create")
def _after_create(target: Any, sync: Connection, **_: Any) -> None:
    create_indexes(sync)
