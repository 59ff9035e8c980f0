"""A table of every kind of column the fast paths process, its prepared statements, and the rows
the store tests write; the engines with it (`conftest.py`)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    insert,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from batonflow.store.columns import UtcDateTime
from batonflow.store.db import Prepared

metadata = MetaData()
things = Table(
    "things",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("n", Integer),
    Column("at", UtcDateTime()),
    Column("doc", JSON()),
    Column("flag", Boolean),
)
NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
ROWS: list[dict[str, Any]] = [
    {"id": "a", "n": 1, "at": NOW, "doc": {"b": 1, "a": [1, "x"]}, "flag": True},
    {"id": "b", "n": None, "at": None, "doc": None, "flag": False},
    {"id": "c", "n": 3, "at": NOW + timedelta(microseconds=1), "doc": "text", "flag": None},
]
SELECT = Prepared(select(things).where(things.c.id == bindparam("id")))
INSERT = Prepared(insert(things))
UPDATE = Prepared(
    update(things)
    .where(things.c.id == bindparam("b_id"))
    .values(at=bindparam("at"), doc=bindparam("doc"))
)


def stored(engine: AsyncEngine) -> list[tuple[Any, ...]]:
    """The rows as the file holds them, read without SQLAlchemy."""
    assert engine.url.database is not None
    with sqlite3.connect(engine.url.database) as raw:
        return raw.execute("SELECT * FROM things ORDER BY id").fetchall()
