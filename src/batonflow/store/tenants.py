"""Tenants."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from batonflow.errors import NotFound
from batonflow.ids import new_id
from batonflow.store.tables import Tenant, table

tenants_t = table(Tenant)


async def find_tenant(conn: AsyncConnection, slug: str) -> str | None:
    value = await conn.scalar(select(tenants_t.c.id).where(tenants_t.c.slug == slug))
    return str(value) if value is not None else None


async def get_tenant(conn: AsyncConnection, slug: str) -> str:
    tenant_id = await find_tenant(conn, slug)
    if tenant_id is None:
        raise NotFound(f"no tenant '{slug}'")
    return tenant_id


async def ensure_tenant(conn: AsyncConnection, slug: str, now: datetime, name: str = "") -> str:
    tenant_id = await find_tenant(conn, slug)
    if tenant_id is None:
        tenant_id = new_id()
        await conn.execute(
            insert(tenants_t).values(id=tenant_id, slug=slug, name=name or slug, created_at=now)
        )
    return tenant_id
