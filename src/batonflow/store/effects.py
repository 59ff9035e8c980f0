"""Side effects applied under idempotency keys: the outbox agents and tools write to."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from batonflow.store.db import Conn
from batonflow.store.tables import Effect, table

effects_t = table(Effect)


async def apply_effect(
    conn: Conn,
    tenant_id: str,
    key: str,
    kind: str,
    payload: dict[str, Any],
    run_id: str | None,
    now: datetime,
) -> tuple[dict[str, Any], bool]:
    """Insert the effect unless its key exists; returns (the stored effect, applied now)."""
    dialect = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    stmt = (
        dialect(effects_t)
        .values(
            tenant_id=tenant_id, key=key, kind=kind, payload=payload, run_id=run_id, created_at=now
        )
        .on_conflict_do_nothing(index_elements=["tenant_id", "key"])
    )
    inserted = (await conn.execute(stmt)).rowcount == 1
    row = (
        await conn.execute(
            select(effects_t).where(effects_t.c.tenant_id == tenant_id, effects_t.c.key == key)
        )
    ).one()
    return row._asdict(), inserted


async def list_effects(
    conn: Conn, tenant_id: str, run_id: str | None = None
) -> list[dict[str, Any]]:
    query = select(effects_t).where(effects_t.c.tenant_id == tenant_id)
    if run_id is not None:
        query = query.where(effects_t.c.run_id == run_id)
    rows = await conn.execute(query.order_by(effects_t.c.created_at, effects_t.c.key))
    return [row._asdict() for row in rows]
