"""Tenants."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from batonflow.errors import NotFound
from batonflow.ids import new_id
from batonflow.store.db import Conn
from batonflow.store.tables import Tenant, table

tenants_t = table(Tenant)


async def find_tenant(conn: Conn, slug: str) -> str | None:
    value = await conn.scalar(select(tenants_t.c.id).where(tenants_t.c.slug == slug))
    return str(value) if value is not None else None


async def list_tenant_ids(conn: Conn) -> list[str]:
    """Every tenant's id, oldest first (for work done in each tenant, such as app workflows)."""
    query = select(tenants_t.c.id).order_by(tenants_t.c.created_at, tenants_t.c.id)
    return [str(value) for value in (await conn.execute(query)).scalars()]


async def get_tenant(conn: Conn, slug: str) -> str:
    tenant_id = await find_tenant(conn, slug)
    if tenant_id is None:
        raise NotFound(f"no tenant '{slug}'")
    return tenant_id


async def ensure_tenant(conn: Conn, slug: str, now: datetime, name: str = "") -> str:
    """The tenant's id, creating the tenant if needed; safe when two processes race to create it."""
    tenant_id = await find_tenant(conn, slug)
    if tenant_id is not None:
        return tenant_id
    dialect_insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    await conn.execute(
        dialect_insert(tenants_t)
        .values(id=new_id(), slug=slug, name=name or slug, created_at=now)
        .on_conflict_do_nothing(index_elements=["slug"])
    )
    return await get_tenant(conn, slug)


async def llm_policy(conn: Conn, tenant_id: str) -> dict[str, Any]:
    """The tenant's gateway settings: whether bodies are stored, and its monthly caps."""
    row = (
        await conn.execute(
            select(
                tenants_t.c.slug,
                tenants_t.c.llm_log_bodies,
                tenants_t.c.budget_tokens,
                tenants_t.c.budget_usd,
            ).where(tenants_t.c.id == tenant_id)
        )
    ).one_or_none()
    if row is None:
        raise NotFound(f"no tenant with id {tenant_id}")
    return dict(row._mapping)


async def set_llm_policy(conn: Conn, tenant_id: str, **values: Any) -> None:
    """Change any of `llm_log_bodies`, `budget_tokens`, `budget_usd` (None clears a cap)."""
    allowed = {"llm_log_bodies", "budget_tokens", "budget_usd"}
    unknown = set(values) - allowed
    if unknown:
        raise ValueError(f"not tenant gateway settings: {sorted(unknown)}")
    if values:
        await conn.execute(update(tenants_t).where(tenants_t.c.id == tenant_id).values(**values))
