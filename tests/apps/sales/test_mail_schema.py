"""The email log's migration makes exactly the tables `mail_tables` declares, on SQLite and
PostgreSQL (the app migrates its database on start-up)."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData
from sqlalchemy.engine import Connection

from batonflow.api.deps import ApiState
from batonflow.apps.sales.mail_tables import emails, replies
from batonflow.apps.sales.tables import metadata
from batonflow.store.tables import Base

OURS = {emails.name, replies.name}


def _differences(sync: Connection) -> list[Any]:
    def ours(obj: Any, name: str | None, kind: str, reflected: bool, compare_to: Any) -> bool:
        table = obj if kind == "table" else getattr(obj, "table", None)
        return getattr(table, "name", name) in OURS

    declared = MetaData()  # the core's tenants and the sales tables, for the foreign keys
    for table in (Base.metadata.tables["tenants"], *metadata.tables.values()):
        table.to_metadata(declared)
    context = MigrationContext.configure(sync, opts={"compare_type": True, "include_object": ours})
    return list(compare_metadata(context, declared))


async def test_the_migration_matches_the_tables(sales_state: ApiState) -> None:
    async with sales_state.engine.connect() as conn:
        assert await conn.run_sync(_differences) == []
