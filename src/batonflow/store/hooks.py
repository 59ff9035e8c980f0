"""Webhook triggers and their deliveries. A hook is found by its id alone when a delivery
arrives (the id is the unguessable part of its URL, and names its tenant); every other query
takes the tenant id."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert, select, update

from batonflow.errors import NotFound
from batonflow.store.db import Conn
from batonflow.store.tables import table
from batonflow.store.trigger_tables import Hook, HookDelivery

hooks_t = table(Hook)
deliveries_t = table(HookDelivery)


async def insert_hook(conn: Conn, row: dict[str, Any]) -> None:
    await conn.execute(insert(hooks_t).values(**row))


async def find_hook(conn: Conn, hook_id: str) -> dict[str, Any] | None:
    """The hook a delivery names, whichever tenant owns it."""
    row = (await conn.execute(select(hooks_t).where(hooks_t.c.id == hook_id))).first()
    return row._asdict() if row else None


async def get_hook(conn: Conn, tenant_id: str, hook_id: str) -> dict[str, Any]:
    row = (
        await conn.execute(
            select(hooks_t).where(hooks_t.c.tenant_id == tenant_id, hooks_t.c.id == hook_id)
        )
    ).first()
    if row is None:
        raise NotFound(f"no hook '{hook_id}'")
    return row._asdict()


async def list_hooks(conn: Conn, tenant_id: str) -> list[dict[str, Any]]:
    rows = await conn.execute(
        select(hooks_t)
        .where(hooks_t.c.tenant_id == tenant_id)
        .order_by(hooks_t.c.created_at, hooks_t.c.id)
    )
    return [row._asdict() for row in rows]


async def set_salt(conn: Conn, tenant_id: str, hook_id: str, **values: Any) -> None:
    await conn.execute(
        update(hooks_t)
        .where(hooks_t.c.tenant_id == tenant_id, hooks_t.c.id == hook_id)
        .values(**values)
    )


async def delete_hook(conn: Conn, tenant_id: str, hook_id: str) -> None:
    await conn.execute(
        delete(deliveries_t).where(
            deliveries_t.c.tenant_id == tenant_id, deliveries_t.c.hook_id == hook_id
        )
    )
    await conn.execute(
        delete(hooks_t).where(hooks_t.c.tenant_id == tenant_id, hooks_t.c.id == hook_id)
    )


async def find_delivery(
    conn: Conn, tenant_id: str, hook_id: str, delivery_id: str
) -> dict[str, Any] | None:
    row = (
        await conn.execute(
            select(deliveries_t).where(
                deliveries_t.c.tenant_id == tenant_id,
                deliveries_t.c.hook_id == hook_id,
                deliveries_t.c.delivery_id == delivery_id,
            )
        )
    ).first()
    return row._asdict() if row else None


async def insert_delivery(conn: Conn, row: dict[str, Any]) -> None:
    """Record a delivery; a second one with the same (hook, delivery id) is a unique violation
    (a `Conflict` once the transaction fails), so two racing deliveries start one run."""
    await conn.execute(insert(deliveries_t).values(**row))


async def deliveries_of(conn: Conn, tenant_id: str, hook_id: str) -> list[dict[str, Any]]:
    rows = await conn.execute(
        select(deliveries_t)
        .where(deliveries_t.c.tenant_id == tenant_id, deliveries_t.c.hook_id == hook_id)
        .order_by(deliveries_t.c.created_at.desc())
        .limit(50)
    )
    return [row._asdict() for row in rows]
