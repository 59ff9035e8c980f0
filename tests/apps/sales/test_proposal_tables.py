"""The migration `sales_0006` makes the proposal tables exactly as `proposal_tables` declares
them, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, MetaData

from batonflow.api.deps import ApiState
from batonflow.apps.sales import proposal_tables as pt
from batonflow.apps.sales.tables import metadata
from batonflow.store.tables import Base

MINE = frozenset({pt.proposals.name, pt.agent_calls.name})


def _mine(obj: Any, name: str | None, kind: str, reflected: bool, compare_to: Any) -> bool:
    table = obj if kind == "table" else getattr(obj, "table", None)
    return table is not None and table.name in MINE


def _differences(sync: Connection) -> list[Any]:
    context = MigrationContext.configure(sync, opts={"compare_type": True, "include_object": _mine})
    declared = MetaData()  # the app's tables, with the core's tables they refer to
    for table in [*Base.metadata.tables.values(), *metadata.tables.values()]:
        table.to_metadata(declared)
    return list(compare_metadata(context, declared))


async def test_the_migrated_tables_match_the_module(sales_state: ApiState) -> None:
    async with sales_state.engine.connect() as conn:
        differences = await conn.run_sync(_differences)
    assert differences == []
