"""Keyword and vector search over chunks, each confined to one tenant and the given knowledge
bases, with optional filters on documents (ids, metadata values).

Keyword: SQLite FTS5 ranked by bm25 (heading matches weigh double), PostgreSQL's `tsvector`
ranked by `ts_rank_cd`. Both take the query's terms joined with OR and rank by how well each chunk
matches them all. Vector: sqlite-vec's KNN within the knowledge base's partition, or pgvector's
cosine distance (its HNSW index for 384 dimensions). Scores grow with relevance: the negated
bm25, the rank, `1 - cosine distance`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import bindparam, literal_column, select, text

from batonflow.errors import ConfigError
from batonflow.store.db import Conn
from batonflow.store.kb import vector_text
from batonflow.store.kb_tables import chunks_t, documents_t, sqlite_vectors


@dataclass(frozen=True)
class Filters:
    document_ids: tuple[str, ...] = ()
    metadata: dict[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.document_ids or self.metadata)


def _filter_sql(filters: Filters, params: dict[str, Any], dialect: str) -> str:
    """Extra WHERE terms on `d` (kb_documents) for `filters`; values always bound."""
    parts: list[str] = []
    if filters.document_ids:
        names = []
        for index, document_id in enumerate(filters.document_ids):
            params[f"doc{index}"] = document_id
            names.append(f":doc{index}")
        parts.append(f"d.id IN ({', '.join(names)})")
    for index, (key, value) in enumerate(sorted(filters.metadata.items())):
        params[f"mk{index}"] = key if dialect != "sqlite" else f'$."{key}"'
        params[f"mv{index}"] = str(value)
        if dialect == "sqlite":
            parts.append(f"CAST(json_extract(d.metadata, :mk{index}) AS TEXT) = :mv{index}")
        else:
            parts.append(f"(d.metadata ->> :mk{index}) = :mv{index}")
    return "".join(f" AND {part}" for part in parts)


def _kb_sql(kb_ids: Sequence[str], params: dict[str, Any]) -> str:
    names = []
    for index, kb_id in enumerate(kb_ids):
        params[f"kb{index}"] = kb_id
        names.append(f":kb{index}")
    return f"c.kb_id IN ({', '.join(names)})"


async def keyword(
    conn: Conn,
    tenant_id: str,
    kb_ids: Sequence[str],
    terms: Sequence[str],
    k: int,
    filters: Filters = Filters(),
) -> list[tuple[int, float]]:
    """(chunk id, score) of the best `k` keyword matches, best first."""
    if not terms or not kb_ids:
        return []
    dialect = conn.dialect.name
    params: dict[str, Any] = {"tenant": tenant_id, "k": k}
    where = f"c.tenant_id = :tenant AND {_kb_sql(kb_ids, params)}"
    where += _filter_sql(filters, params, dialect)
    join = " JOIN kb_documents d ON d.id = c.document_id"
    if dialect == "sqlite":
        params["q"] = " OR ".join(f'"{term}"' for term in terms)
        return await _sqlite_keyword(conn, where, join, params, k)
    params["q"] = " | ".join(terms)
    sql = (
        "SELECT c.id, ts_rank_cd(c.tsv, q) AS score "  # noqa: S608  # nosec B608 - fixed SQL, values bound
        f"FROM kb_chunks c{join}, to_tsquery('english', :q) q "
        f"WHERE c.tsv @@ q AND {where} ORDER BY score DESC, c.id LIMIT :k"
    )
    rows = await conn.execute(text(sql), params)
    return [(int(row[0]), float(row[1])) for row in map(tuple, rows)]


# FTS5 scores every match, cheaply; joining every match to its chunk and document row to
# confine it to the tenant is what costs (most of a search over 100,000 chunks). So the best
# matches are taken from the index alone first, and only they are joined and confined; when
# fewer than `k` of them are the tenant's (other tenants' or knowledge bases' matches rank
# higher), more are taken, and past _FTS_FULL every match is joined as before. The result is the
# same: the best `k` of the confined matches are among the best `fetch` matches whenever `k` of
# those pass.
_FTS_FIRST = 200
_FTS_FULL = 20_000


async def _sqlite_keyword(
    conn: Conn, where: str, join: str, params: dict[str, Any], k: int
) -> list[tuple[int, float]]:
    count = text("SELECT count(*) FROM kb_fts WHERE kb_fts MATCH :q")
    total = int(await conn.scalar(count, params) or 0)
    fetch = min(total, max(k * 8, _FTS_FIRST))
    while fetch < _FTS_FULL:
        sql = (
            "SELECT c.id, f.score FROM ("  # noqa: S608  # nosec B608 - fixed SQL, values bound
            "SELECT rowid AS id, -bm25(kb_fts, 2.0, 1.0) AS score FROM kb_fts "
            "WHERE kb_fts MATCH :q ORDER BY bm25(kb_fts, 2.0, 1.0) LIMIT :fetch) f "
            f"JOIN kb_chunks c ON c.id = f.id{join} WHERE {where} "
            "ORDER BY f.score DESC, c.id LIMIT :k"
        )
        rows = [
            (int(row[0]), float(row[1]))
            for row in map(tuple, await conn.execute(text(sql), {**params, "fetch": fetch}))
        ]
        if len(rows) >= k or fetch >= total:
            return rows
        fetch *= 8
    sql = (
        "SELECT c.id, -bm25(kb_fts, 2.0, 1.0) AS score FROM kb_fts "  # noqa: S608  # nosec B608 - fixed SQL, values bound
        f"JOIN kb_chunks c ON c.id = kb_fts.rowid{join} "
        f"WHERE kb_fts MATCH :q AND {where} ORDER BY bm25(kb_fts, 2.0, 1.0) LIMIT :k"
    )
    return [
        (int(row[0]), float(row[1])) for row in map(tuple, await conn.execute(text(sql), params))
    ]


async def vector(
    conn: Conn,
    tenant_id: str,
    kb_ids: Sequence[str],
    dims: int,
    query: np.ndarray[Any, Any],
    k: int,
    filters: Filters = Filters(),
) -> list[tuple[int, float]]:
    """(chunk id, cosine similarity) of the `k` nearest chunks, nearest first."""
    if not kb_ids:
        return []
    dialect = conn.dialect.name
    params: dict[str, Any] = {"tenant": tenant_id, "k": k, "dims": int(dims)}
    where = f"c.tenant_id = :tenant AND {_kb_sql(kb_ids, params)}"
    where += _filter_sql(filters, params, dialect)
    if dialect == "sqlite":
        await conn.execute(text(sqlite_vectors(dims)))
        # KNN runs per knowledge base partition; confining to the tenant and the filters
        # happens on the chunk rows, so fetch more when filters may drop some.
        fetch = k * 4 if filters else k
        found: list[tuple[int, float]] = []
        blob = np.asarray(query, dtype=np.float32).tobytes()
        for index, _ in enumerate(kb_ids):
            sql = (
                "SELECT c.id, 1.0 - v.distance FROM ("  # noqa: S608  # nosec B608 - fixed SQL, values bound
                f"SELECT chunk_id, distance FROM kb_vec_{int(dims)} "
                f"WHERE embedding MATCH :v AND k = :fetch AND kb_id = :kb{index}) v "
                "JOIN kb_chunks c ON c.id = v.chunk_id "
                f"JOIN kb_documents d ON d.id = c.document_id WHERE {where}"
            )
            rows = await conn.execute(text(sql), {**params, "v": blob, "fetch": fetch})
            found.extend((int(row[0]), float(row[1])) for row in map(tuple, rows))
        found.sort(key=lambda item: -item[1])
        return found[:k]
    if not await conn.scalar(text("SELECT to_regclass('kb_vectors') IS NOT NULL")):
        raise ConfigError(
            "vector search needs the pgvector extension on this PostgreSQL server "
            "(keyword search works without it)"
        )
    params["v"] = vector_text(query)
    cast = f"v.embedding::vector({int(dims)})"
    sql = (
        f"SELECT c.id, 1.0 - ({cast} <=> CAST(:v AS vector({int(dims)}))) AS score "  # noqa: S608  # nosec B608 - fixed SQL, values bound
        "FROM kb_vectors v JOIN kb_chunks c ON c.id = v.chunk_id "
        "JOIN kb_documents d ON d.id = c.document_id "
        f"WHERE v.dims = :dims AND v.tenant_id = :tenant AND {where} "
        f"ORDER BY {cast} <=> CAST(:v AS vector({int(dims)})) LIMIT :k"
    )
    rows = await conn.execute(text(sql), params)
    return [(int(row[0]), float(row[1])) for row in map(tuple, rows)]


async def chunk_rows(conn: Conn, tenant_id: str, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """The chunks `ids` with their document's title, source and metadata."""
    if not ids:
        return {}
    mine = chunks_t.c.tenant_id == tenant_id
    if conn.dialect.name == "sqlite":
        # Unary plus keeps the tenant term off the (tenant, kb) index: without table statistics
        # SQLite would walk every chunk of the tenant instead of looking the ids up.
        mine = literal_column("+kb_chunks.tenant_id") == tenant_id
    query = (
        select(
            chunks_t.c.id,
            chunks_t.c.kb_id,
            chunks_t.c.document_id,
            chunks_t.c.position,
            chunks_t.c.heading,
            chunks_t.c.text,
            documents_t.c.title,
            documents_t.c.source,
            documents_t.c["metadata"],
        )
        .join(documents_t, documents_t.c.id == chunks_t.c.document_id)
        .where(mine, chunks_t.c.id.in_(bindparam("ids", expanding=True)))
    )
    rows = await conn.execute(query, {"ids": list(ids)})
    return {int(row.id): dict(row._mapping) for row in rows}
