"""Charter versions and their sign-offs, as rows. Functions take the tenant id; access is
checked by the caller."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from batonflow.apps.scoping import tables as t
from batonflow.errors import Conflict, NotFound, PermissionDenied
from batonflow.store.db import Conn

DECISIONS = ("approved", "changes_requested")


def _of(table: sa.Table, tenant_id: str, session_id: str) -> sa.ColumnElement[bool]:
    return sa.and_(table.c.tenant_id == tenant_id, table.c.session_id == session_id)


async def add(
    conn: Conn,
    tenant_id: str,
    session_id: str,
    body: dict[str, Any],
    *,
    model: str,
    prompts: dict[str, int],
    run_id: str,
    created_by: str,
    now: datetime,
) -> int:
    latest = await conn.scalar(
        sa.select(sa.func.max(t.charters.c.version)).where(_of(t.charters, tenant_id, session_id))
    )
    version = int(latest or 0) + 1
    await conn.execute(
        sa.insert(t.charters).values(
            session_id=session_id,
            version=version,
            tenant_id=tenant_id,
            body=body,
            model=model,
            prompts=prompts,
            run_id=run_id,
            created_by=created_by,
            created_at=now,
        )
    )
    return version


async def listing(conn: Conn, tenant_id: str, session_id: str) -> list[dict[str, Any]]:
    """Every version, oldest first, without bodies."""
    rows = await conn.execute(
        sa.select(
            t.charters.c.version,
            t.charters.c.model,
            t.charters.c.prompts,
            t.charters.c.run_id,
            t.charters.c.created_by,
            t.charters.c.created_at,
        )
        .where(_of(t.charters, tenant_id, session_id))
        .order_by(t.charters.c.version)
    )
    return [dict(row._mapping) for row in rows]


async def get(
    conn: Conn, tenant_id: str, session_id: str, version: int | None = None
) -> dict[str, Any]:
    """A version (the newest without `version`); NotFound when there is none."""
    query = sa.select(t.charters).where(_of(t.charters, tenant_id, session_id))
    if version is not None:
        query = query.where(t.charters.c.version == version)
    row = (await conn.execute(query.order_by(t.charters.c.version.desc()).limit(1))).first()
    if row is None:
        which = f" version {version}" if version is not None else ""
        raise NotFound(f"the session '{session_id}' has no charter{which}")
    return dict(row._mapping)


async def signoffs(
    conn: Conn, tenant_id: str, session_id: str, version: int
) -> list[dict[str, Any]]:
    rows = await conn.execute(
        sa.select(t.signoffs)
        .where(_of(t.signoffs, tenant_id, session_id), t.signoffs.c.version == version)
        .order_by(t.signoffs.c.requested_at, t.signoffs.c.name)
    )
    return [dict(row._mapping) for row in rows]


async def request(
    conn: Conn,
    tenant_id: str,
    session_id: str,
    version: int,
    user: dict[str, Any],
    role: str,
    now: datetime,
) -> None:
    """Name a stakeholder who is to sign off a version (again: their role changes)."""
    where = sa.and_(
        _of(t.signoffs, tenant_id, session_id),
        t.signoffs.c.version == version,
        t.signoffs.c.user_id == user["id"],
    )
    existing = (await conn.execute(sa.select(t.signoffs.c.decision).where(where))).first()
    if existing is not None:
        await conn.execute(sa.update(t.signoffs).where(where).values(role=role))
        return
    await conn.execute(
        sa.insert(t.signoffs).values(
            session_id=session_id,
            version=version,
            user_id=user["id"],
            tenant_id=tenant_id,
            name=user["name"],
            role=role,
            decision="pending",
            comment="",
            requested_at=now,
            decided_at=None,
        )
    )


async def decide(
    conn: Conn,
    tenant_id: str,
    session_id: str,
    version: int,
    user_id: str,
    decision: str,
    comment: str,
    now: datetime,
) -> None:
    """Record a named stakeholder's review of a version, exactly once."""
    where = sa.and_(
        _of(t.signoffs, tenant_id, session_id),
        t.signoffs.c.version == version,
        t.signoffs.c.user_id == user_id,
    )
    row = (await conn.execute(sa.select(t.signoffs.c.decision).where(where))).first()
    if row is None:
        raise PermissionDenied(
            f"you are not a named stakeholder of version {version} of this charter"
        )
    changed = await conn.execute(
        sa.update(t.signoffs)
        .where(where, t.signoffs.c.decision == "pending")
        .values(decision=decision, comment=comment, decided_at=now)
    )
    if not changed.rowcount:
        raise Conflict(f"you already reviewed version {version} of this charter ({row.decision})")
