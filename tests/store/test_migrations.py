"""The Alembic tree on both databases: up from nothing, down to nothing, up again, and a schema
that matches the models exactly.

Each test gets a database of its own: a new SQLite file, or a new PostgreSQL database created
through the admin URL and dropped afterwards (the session's shared database is in use by others).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from batonflow.store import migrate
from batonflow.store.db import create_engine
from batonflow.store.tables import Base
from tests.conftest import PG_ADMIN, pg_url

TABLES = sorted(Base.metadata.tables)


@pytest.fixture(params=["sqlite", "postgresql"])
async def fresh(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """An engine on an empty database that nothing else uses."""
    if request.param == "sqlite":
        engine = create_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
        yield engine
        await engine.dispose()
        return
    name = f"batonflow_migrations_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(PG_ADMIN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    engine = create_engine(pg_url(name))
    try:
        yield engine
    finally:
        await engine.dispose()
        admin = await asyncpg.connect(PG_ADMIN)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


# The search indexes beside the models (store/kb_tables.py): SQLite's FTS5 and vec0 tables and
# their shadow tables, and PostgreSQL's pgvector table where the server has the extension.
INDEX_TABLES = ("kb_fts", "kb_vec_", "kb_vectors")


async def table_names(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        names = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
    return sorted(name for name in names if not name.startswith(INDEX_TABLES))


def _is_model_object(obj: Any, name: str | None, kind: str, reflected: bool, compare: Any) -> bool:
    """Whether the schema comparison looks at an object: not the search indexes."""
    if kind == "table" and name and name.startswith(INDEX_TABLES):
        return False
    return not (name in ("tsv", "ix_kb_chunks_tsv") and reflected and compare is None)


async def test_upgrade_downgrade_upgrade(fresh: AsyncEngine) -> None:
    assert await migrate.current(fresh) is None
    assert await table_names(fresh) == []

    await migrate.upgrade(fresh)
    assert await migrate.current(fresh) == migrate.head() == "0011"
    assert await table_names(fresh) == sorted([*TABLES, "alembic_version"])

    await migrate.downgrade(fresh, "base")
    assert await migrate.current(fresh) is None
    assert await table_names(fresh) == ["alembic_version"]

    await migrate.upgrade(fresh)
    assert await migrate.current(fresh) == "0011"
    assert await table_names(fresh) == sorted([*TABLES, "alembic_version"])


async def test_upgrade_is_idempotent_at_head(fresh: AsyncEngine) -> None:
    await migrate.upgrade(fresh)
    await migrate.upgrade(fresh)
    assert await migrate.current(fresh) == "0011"
    assert await table_names(fresh) == sorted([*TABLES, "alembic_version"])


async def test_upgrading_to_the_gateway_schema_keeps_stored_tenants(fresh: AsyncEngine) -> None:
    await migrate.upgrade(fresh, "0001")
    async with fresh.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO tenants (id, slug, name, created_at) "
                "VALUES ('t1', 'acme', 'Acme', '2026-01-01 00:00:00')"
            )
        )
    await migrate.upgrade(fresh)
    async with fresh.connect() as conn:
        rows = (
            await conn.execute(
                text("SELECT slug, llm_log_bodies, budget_tokens, budget_usd FROM tenants")
            )
        ).all()
    assert [tuple(r) for r in rows] == [("acme", False, None, None)]
    await migrate.downgrade(fresh, "0001")
    async with fresh.connect() as conn:
        assert (await conn.execute(text("SELECT slug FROM tenants"))).scalars().all() == ["acme"]


def _differences(sync: Connection) -> list[Any]:
    context = MigrationContext.configure(
        sync,
        opts={
            "compare_type": True,
            "compare_server_default": True,
            "include_object": _is_model_object,
        },
    )
    return list(compare_metadata(context, Base.metadata))


async def test_the_migrated_schema_matches_the_models(fresh: AsyncEngine) -> None:
    await migrate.upgrade(fresh)
    async with fresh.connect() as conn:
        differences = await conn.run_sync(_differences)
    assert differences == []


def test_the_head_the_cli_checks_is_the_trees_head() -> None:
    assert migrate.head() == migrate.tree_head() == "0011"


async def test_the_admin_list_indexes_keep_stored_users_and_serve_the_pages(
    fresh: AsyncEngine,
) -> None:
    await migrate.upgrade(fresh, "0003")
    async with fresh.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO tenants (id, slug, name, created_at, llm_log_bodies) "
                "VALUES ('t1', 'acme', 'Acme', '2026-01-01 00:00:00', false)"
            )
        )
        await conn.execute(
            text(
                "INSERT INTO users (id, tenant_id, email, name, role, password_hash, active, "
                "created_at) VALUES ('u1', 't1', 'ada@acme.test', 'Ada', 'admin', 'x', true, "
                "'2026-01-02 00:00:00')"
            )
        )
    await migrate.upgrade(fresh)

    def indexes(sync: Connection) -> dict[str, list[list[str | None]]]:
        """Each table's indexes that lead with tenant_id (unique constraints aside)."""
        found = inspect(sync)
        return {
            table: [
                list(ix["column_names"])
                for ix in found.get_indexes(table)
                if ix["column_names"][0] == "tenant_id"
            ]
            for table in ("users", "api_keys", "invitations")
        }

    async with fresh.connect() as conn:
        assert (await conn.execute(text("SELECT email FROM users"))).scalars().all() == [
            "ada@acme.test"
        ]
        assert await conn.run_sync(indexes) == {
            "users": [["tenant_id", "created_at", "id"]],
            "api_keys": [["tenant_id", "created_at", "id"]],
            "invitations": [["tenant_id", "created_at", "id"]],
        }
        if fresh.dialect.name == "sqlite":  # PostgreSQL scans tables this small, as it should
            plan = await conn.execute(
                text(
                    "EXPLAIN QUERY PLAN SELECT id FROM users WHERE tenant_id = 't1' "
                    "AND (created_at, id) > ('2026-01-01 00:00:00', '') "
                    "ORDER BY created_at, id LIMIT 50"
                )
            )
            details = " ".join(str(row[-1]) for row in plan)
            assert (
                "INDEX ix_users_tenant_created (tenant_id=? AND (created_at,id)>(?,?))" in details
            )
            assert "TEMP B-TREE" not in details  # the index gives the order: no sort
