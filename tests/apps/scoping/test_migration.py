"""Migrating a database whose sessions already had documents, on SQLite and PostgreSQL: each
session's knowledge base becomes private to the session's owner (`scoping_0003`), and every
other knowledge base stays the tenant's."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text

from batonflow.apps.app import load_apps, migration_branches
from batonflow.store import migrate
from batonflow.store.db import create_engine

NOW = datetime(2026, 12, 1, 10)  # the columns hold UTC without a zone


async def test_knowledge_bases_attached_before_become_their_session_owners(fresh_url: str) -> None:
    engine = create_engine(fresh_url)
    branches = migration_branches(load_apps([]))
    try:
        await migrate.upgrade(engine, "scoping_0002", branches)
        await migrate.upgrade(engine, "0010", branches)
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO tenants (id, slug, name, created_at) VALUES"
                    " ('t1', 'acme', 'Acme', :now), ('t2', 'rival', 'Rival', :now)"
                ),
                {"now": NOW},
            )
            for kb, tenant in (("kb-ada", "t1"), ("kb-team", "t1"), ("kb-rival", "t2")):
                await conn.execute(
                    text(
                        "INSERT INTO knowledge_bases (id, tenant_id, name, description,"
                        " embedding_model, dimensions, chunking, created_by, created_at,"
                        " updated_at) VALUES (:id, :tenant, :id, '', 'local:minilm-l6-v2', 384,"
                        " '{}', 'ada', :now, :now)"
                    ),
                    {"id": kb, "tenant": tenant, "now": NOW},
                )
            # Ada's session has her documents; a rival tenant's session names a knowledge
            # base id of acme's (it cannot have one: the tenant must match too).
            for session, tenant, owner, kb in (
                ("s1", "t1", "u-ada", "kb-ada"),
                ("s2", "t1", "u-bob", None),
                ("s3", "t2", "u-eve", "kb-team"),
            ):
                await conn.execute(
                    text(
                        "INSERT INTO scoping_sessions (id, tenant_id, owner_id, owner_name, title, title_key,"
                        " archived, created_at, updated_at, kb_id)"
                        " VALUES (:id, :tenant, :owner, 'A', 'Invoices', 'invoices', false, :now,"
                        " :now, :kb)"
                    ),
                    {"id": session, "tenant": tenant, "owner": owner, "kb": kb, "now": NOW},
                )

        await migrate.upgrade(engine, branches=branches)

        async with engine.connect() as conn:
            rows = await conn.execute(
                text("SELECT id, private_to FROM knowledge_bases ORDER BY id")
            )
            assert [tuple(r) for r in rows] == [
                ("kb-ada", "u-ada"),
                ("kb-rival", None),
                ("kb-team", None),
            ]
    finally:
        await engine.dispose()
