"""Refresh tokens, API keys and invitations: stored as SHA-256 digests of their secrets.

A lookup by digest identifies the tenant; every other query takes the tenant id. The
conditional updates (`rotate_refresh_token`, `accept_invitation`, `touch_api_key`) say whether
they changed a row, so of two concurrent callers exactly one sees True.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, or_, select, tuple_, update
from sqlalchemy.sql import Select

from batonflow.errors import NotFound
from batonflow.store.db import Conn
from batonflow.store.tables import ApiKey, Invitation, RefreshToken, Tenant, table

refresh_t = table(RefreshToken)
api_keys_t = table(ApiKey)
invitations_t = table(Invitation)
tenants_t = table(Tenant)


# -- refresh tokens ----------------------------------------------------------------------------


async def insert_refresh_token(conn: Conn, row: dict[str, Any]) -> None:
    await conn.execute(insert(refresh_t).values(**row))


async def find_refresh_token(conn: Conn, token_hash: str) -> dict[str, Any] | None:
    row = (
        await conn.execute(select(refresh_t).where(refresh_t.c.token_hash == token_hash))
    ).one_or_none()
    return None if row is None else dict(row._mapping)


async def rotate_refresh_token(conn: Conn, token_id: str, now: datetime) -> bool:
    """Mark the token used, if it still was usable."""
    result = await conn.execute(
        update(refresh_t)
        .where(
            refresh_t.c.id == token_id,
            refresh_t.c.rotated_at.is_(None),
            refresh_t.c.revoked_at.is_(None),
        )
        .values(rotated_at=now)
    )
    return result.rowcount == 1


async def revoke_family(conn: Conn, tenant_id: str, family_id: str, now: datetime) -> None:
    await conn.execute(
        update(refresh_t)
        .where(
            refresh_t.c.tenant_id == tenant_id,
            refresh_t.c.family_id == family_id,
            refresh_t.c.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )


async def revoke_user_tokens(conn: Conn, tenant_id: str, user_id: str, now: datetime) -> None:
    await conn.execute(
        update(refresh_t)
        .where(
            refresh_t.c.tenant_id == tenant_id,
            refresh_t.c.user_id == user_id,
            refresh_t.c.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )


# -- API keys ----------------------------------------------------------------------------------

_KEY_COLUMNS = [column for column in api_keys_t.c if column.name != "key_hash"]


def _key_with_tenant() -> Select[Any]:
    return select(
        *_KEY_COLUMNS,
        tenants_t.c.slug.label("tenant_slug"),
        tenants_t.c.name.label("tenant_name"),
    ).join(tenants_t, tenants_t.c.id == api_keys_t.c.tenant_id)


async def insert_api_key(conn: Conn, row: dict[str, Any]) -> None:
    await conn.execute(insert(api_keys_t).values(**row))


async def find_api_key(conn: Conn, key_hash: str) -> dict[str, Any] | None:
    """The key with this digest, and its tenant's slug and name."""
    row = (
        await conn.execute(_key_with_tenant().where(api_keys_t.c.key_hash == key_hash))
    ).one_or_none()
    return None if row is None else dict(row._mapping)


async def get_api_key(conn: Conn, tenant_id: str, key_id: str) -> dict[str, Any]:
    """The key, and its tenant's slug and name."""
    row = (
        await conn.execute(
            _key_with_tenant().where(api_keys_t.c.tenant_id == tenant_id, api_keys_t.c.id == key_id)
        )
    ).one_or_none()
    if row is None:
        raise NotFound(f"no API key '{key_id}'")
    return dict(row._mapping)


async def list_api_keys(
    conn: Conn, tenant_id: str, *, limit: int, after: tuple[datetime, str] | None = None
) -> list[dict[str, Any]]:
    """Up to `limit` API keys, oldest first, continuing after the `(created_at, id)` of `after`."""
    query = select(*_KEY_COLUMNS).where(api_keys_t.c.tenant_id == tenant_id)
    if after is not None:
        query = query.where(tuple_(api_keys_t.c.created_at, api_keys_t.c.id) > after)
    rows = await conn.execute(query.order_by(api_keys_t.c.created_at, api_keys_t.c.id).limit(limit))
    return [dict(row._mapping) for row in rows]


async def revoke_api_key(conn: Conn, tenant_id: str, key_id: str, now: datetime) -> None:
    """Revoke the key (again, harmlessly, if it already was); `NotFound` outside the tenant."""
    found = await conn.scalar(
        select(api_keys_t.c.id).where(
            api_keys_t.c.tenant_id == tenant_id, api_keys_t.c.id == key_id
        )
    )
    if found is None:
        raise NotFound(f"no API key '{key_id}'")
    await conn.execute(
        update(api_keys_t)
        .where(api_keys_t.c.id == key_id, api_keys_t.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )


async def touch_api_key(conn: Conn, key_id: str, now: datetime, older_than: datetime) -> bool:
    """Record a use, unless one was recorded since `older_than`."""
    result = await conn.execute(
        update(api_keys_t)
        .where(
            api_keys_t.c.id == key_id,
            or_(api_keys_t.c.last_used_at.is_(None), api_keys_t.c.last_used_at < older_than),
        )
        .values(last_used_at=now)
    )
    return result.rowcount == 1


# -- invitations -------------------------------------------------------------------------------

_INVITATION_COLUMNS = [column for column in invitations_t.c if column.name != "token_hash"]


async def insert_invitation(conn: Conn, row: dict[str, Any]) -> None:
    await conn.execute(insert(invitations_t).values(**row))


async def find_invitation(conn: Conn, token_hash: str) -> dict[str, Any] | None:
    row = (
        await conn.execute(
            select(*_INVITATION_COLUMNS).where(invitations_t.c.token_hash == token_hash)
        )
    ).one_or_none()
    return None if row is None else dict(row._mapping)


async def get_invitation(conn: Conn, tenant_id: str, invitation_id: str) -> dict[str, Any]:
    row = (
        await conn.execute(
            select(*_INVITATION_COLUMNS).where(
                invitations_t.c.tenant_id == tenant_id, invitations_t.c.id == invitation_id
            )
        )
    ).one_or_none()
    if row is None:
        raise NotFound(f"no invitation '{invitation_id}'")
    return dict(row._mapping)


async def list_invitations(
    conn: Conn, tenant_id: str, *, limit: int, after: tuple[datetime, str] | None = None
) -> list[dict[str, Any]]:
    """Up to `limit` invitations, oldest first, continuing after the `(created_at, id)` of `after`."""
    query = select(*_INVITATION_COLUMNS).where(invitations_t.c.tenant_id == tenant_id)
    if after is not None:
        query = query.where(tuple_(invitations_t.c.created_at, invitations_t.c.id) > after)
    rows = await conn.execute(
        query.order_by(invitations_t.c.created_at, invitations_t.c.id).limit(limit)
    )
    return [dict(row._mapping) for row in rows]


async def revoke_invitation(conn: Conn, tenant_id: str, invitation_id: str, now: datetime) -> None:
    await conn.execute(
        update(invitations_t)
        .where(
            invitations_t.c.tenant_id == tenant_id,
            invitations_t.c.id == invitation_id,
            invitations_t.c.revoked_at.is_(None),
            invitations_t.c.accepted_at.is_(None),
        )
        .values(revoked_at=now)
    )


async def accept_invitation(conn: Conn, invitation_id: str, now: datetime) -> bool:
    """Mark the invitation used, if it still was open."""
    result = await conn.execute(
        update(invitations_t)
        .where(
            invitations_t.c.id == invitation_id,
            invitations_t.c.accepted_at.is_(None),
            invitations_t.c.revoked_at.is_(None),
        )
        .values(accepted_at=now)
    )
    return result.rowcount == 1
