"""Prompt versions: immutable, numbered 1, 2, 3... per tenant and key."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select

from batonflow.errors import NotFound
from batonflow.ids import new_id
from batonflow.store.db import Conn
from batonflow.store.tables import Prompt, table

prompts_t = table(Prompt)


async def latest(conn: Conn, tenant_id: str, key: str) -> dict[str, Any] | None:
    row = (
        await conn.execute(
            select(prompts_t)
            .where(prompts_t.c.tenant_id == tenant_id, prompts_t.c.key == key)
            .order_by(prompts_t.c.version.desc())
            .limit(1)
        )
    ).one_or_none()
    return None if row is None else dict(row._mapping)


async def get(conn: Conn, tenant_id: str, key: str, version: int | None = None) -> dict[str, Any]:
    if version is None:
        found = await latest(conn, tenant_id, key)
    else:
        row = (
            await conn.execute(
                select(prompts_t).where(
                    prompts_t.c.tenant_id == tenant_id,
                    prompts_t.c.key == key,
                    prompts_t.c.version == version,
                )
            )
        ).one_or_none()
        found = None if row is None else dict(row._mapping)
    if found is None:
        which = f"version {version} of " if version is not None else ""
        raise NotFound(f"no {which}prompt '{key}'")
    return found


async def insert_version(
    conn: Conn, tenant_id: str, fields: dict[str, Any], created_by: str, now: datetime
) -> dict[str, Any]:
    """Store the next version of `fields['key']`; the unique (tenant, key, version) constraint
    turns a concurrent writer's race into an integrity error rather than two version 3s."""
    current = await conn.scalar(
        select(func.max(prompts_t.c.version)).where(
            prompts_t.c.tenant_id == tenant_id, prompts_t.c.key == fields["key"]
        )
    )
    row = {
        "id": new_id(),
        "tenant_id": tenant_id,
        "version": int(current or 0) + 1,
        "created_by": created_by,
        "created_at": now,
        **fields,
    }
    await conn.execute(insert(prompts_t).values(**row))
    return row


async def list_latest(conn: Conn, tenant_id: str) -> list[dict[str, Any]]:
    """Each key's newest version, by key."""
    newest = (
        select(prompts_t.c.key, func.max(prompts_t.c.version).label("version"))
        .where(prompts_t.c.tenant_id == tenant_id)
        .group_by(prompts_t.c.key)
        .subquery()
    )
    rows = await conn.execute(
        select(prompts_t)
        .join(
            newest,
            (prompts_t.c.key == newest.c.key) & (prompts_t.c.version == newest.c.version),
        )
        .where(prompts_t.c.tenant_id == tenant_id)
        .order_by(prompts_t.c.key)
    )
    return [dict(row._mapping) for row in rows]


async def list_versions(conn: Conn, tenant_id: str, key: str) -> list[dict[str, Any]]:
    rows = await conn.execute(
        select(prompts_t)
        .where(prompts_t.c.tenant_id == tenant_id, prompts_t.c.key == key)
        .order_by(prompts_t.c.version)
    )
    return [dict(row._mapping) for row in rows]
