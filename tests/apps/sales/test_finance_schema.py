"""The finance migration builds exactly the tables `finance_tables` declares (on SQLite and
PostgreSQL, as the API migrated them), and the dunning schedule setting refuses a bad one."""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from pydantic import ValidationError
from sqlalchemy import Connection, MetaData

from batonflow.api.deps import ApiState
from batonflow.apps.sales import finance_tables
from batonflow.apps.sales.settings import SalesSettings
from batonflow.apps.sales.tables import metadata
from batonflow.store.tables import Base

FINANCE = {
    table.name
    for table in vars(finance_tables).values()
    if getattr(table, "metadata", None) is metadata
}


def _ours(obj: Any, name: str | None, kind: str, reflected: bool, compare_to: Any) -> bool:
    table = obj if kind == "table" else getattr(obj, "table", None)
    return getattr(table, "name", name) in FINANCE


def _differences(sync: Connection) -> list[Any]:
    combined = MetaData()  # the sales tables with the core's they refer to (tenants)
    for table in [*Base.metadata.tables.values(), *metadata.tables.values()]:
        table.to_metadata(combined)
    options = {"compare_type": True, "include_object": _ours}
    return list(compare_metadata(MigrationContext.configure(sync, opts=options), combined))


async def test_the_migration_matches_the_tables(sales_state: ApiState) -> None:
    assert len(FINANCE) == 8
    async with sales_state.engine.connect() as conn:
        assert await conn.run_sync(_differences) == []


def test_dunning_days_increase_from_one(monkeypatch: pytest.MonkeyPatch) -> None:
    assert SalesSettings().dunning_days == [3, 10, 20]
    monkeypatch.setenv("BATONFLOW_SALES_DUNNING_DAYS", "[7, 14]")
    assert SalesSettings().dunning_days == [7, 14]
    for bad in ("[10, 3]", "[0, 5]", "[]"):
        monkeypatch.setenv("BATONFLOW_SALES_DUNNING_DAYS", bad)
        with pytest.raises(ValidationError, match="dunning days are increasing whole days"):
            SalesSettings()
