"""Users. An email address belongs to one user in one tenant, so a lookup by email finds the
tenant; every other query takes the tenant id. Rows come with their tenant's slug and name."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, select, tuple_, update
from sqlalchemy.sql import Select

from batonflow.errors import NotFound
from batonflow.store.db import Conn, Prepared
from batonflow.store.tables import Tenant, User, table

users_t = table(User)
tenants_t = table(Tenant)


def _with_tenant() -> Select[Any]:
    return select(
        users_t,
        tenants_t.c.slug.label("tenant_slug"),
        tenants_t.c.name.label("tenant_name"),
    ).join(tenants_t, tenants_t.c.id == users_t.c.tenant_id)


async def insert_user(conn: Conn, row: dict[str, Any]) -> None:
    await conn.execute(insert(users_t).values(**row))


async def find_by_email(conn: Conn, email: str) -> dict[str, Any] | None:
    row = (await conn.execute(_with_tenant().where(users_t.c.email == email))).one_or_none()
    return None if row is None else dict(row._mapping)


async def find_user(conn: Conn, tenant_id: str, user_id: str) -> dict[str, Any] | None:
    row = (
        await conn.execute(
            _with_tenant().where(users_t.c.tenant_id == tenant_id, users_t.c.id == user_id)
        )
    ).one_or_none()
    return None if row is None else dict(row._mapping)


async def get_user(conn: Conn, tenant_id: str, user_id: str) -> dict[str, Any]:
    user = await find_user(conn, tenant_id, user_id)
    if user is None:
        raise NotFound(f"no user '{user_id}'")
    return user


_SIGNED_IN = Prepared(
    select(users_t.c.email, users_t.c.role, users_t.c.active).where(
        users_t.c.id == bindparam("user_id"), users_t.c.tenant_id == bindparam("tenant_id")
    )
)


async def signed_in(conn: Conn, tenant_id: str, user_id: str) -> dict[str, Any] | None:
    """What a request needs of its user: one primary-key read, prepared (it runs on every
    request)."""
    rows = await _SIGNED_IN.fetch(conn, {"tenant_id": tenant_id, "user_id": user_id})
    if not rows:
        return None
    email, role, active = rows[0]
    return {"email": email, "role": role, "active": bool(active)}


async def list_users(
    conn: Conn, tenant_id: str, *, limit: int, after: tuple[datetime, str] | None = None
) -> list[dict[str, Any]]:
    """Up to `limit` users, oldest first, continuing after the `(created_at, id)` of `after`."""
    query = _with_tenant().where(users_t.c.tenant_id == tenant_id)
    if after is not None:
        query = query.where(tuple_(users_t.c.created_at, users_t.c.id) > after)
    rows = await conn.execute(query.order_by(users_t.c.created_at, users_t.c.id).limit(limit))
    return [dict(row._mapping) for row in rows]


async def update_user(conn: Conn, tenant_id: str, user_id: str, **values: Any) -> None:
    await conn.execute(
        update(users_t)
        .where(users_t.c.tenant_id == tenant_id, users_t.c.id == user_id)
        .values(**values)
    )


async def set_login(
    conn: Conn, tenant_id: str, user_id: str, now: datetime, password_hash: str | None
) -> None:
    values: dict[str, Any] = {"last_login_at": now}
    if password_hash is not None:
        values["password_hash"] = password_hash
    await update_user(conn, tenant_id, user_id, **values)


async def active_admins(conn: Conn, tenant_id: str) -> list[str]:
    """The ids of the tenant's active admins, locked (on PostgreSQL) until the transaction ends,
    so two admins demoting each other at once cannot leave the tenant with none."""
    rows = await conn.execute(
        select(users_t.c.id)
        .where(
            users_t.c.tenant_id == tenant_id,
            users_t.c.role == "admin",
            users_t.c.active.is_(True),
        )
        .with_for_update()
    )
    return [str(value) for value in rows.scalars()]


async def count_users(conn: Conn, tenant_id: str) -> int:
    value = await conn.scalar(
        select(func.count()).select_from(users_t).where(users_t.c.tenant_id == tenant_id)
    )
    return int(value or 0)
