"""Sessions and who may see them: the owner, the people it is shared with (to read, or to
edit), and the tenant's admins (to read). Anyone else is told there is no such session, and
their lists leave it out. Every function takes the tenant through the `Viewer`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa

from batonflow.apps.scoping import tables as t
from batonflow.auth.scopes import Principal
from batonflow.errors import InvalidInput, NotFound, PermissionDenied
from batonflow.ids import new_id
from batonflow.store import kb as kb_store
from batonflow.store.db import Conn
from batonflow.store.users import users_t

Access = Literal["owner", "edit", "read"]
SESSION_TABLES = (
    t.shares,
    t.stages,
    t.questions,
    t.answers,
    t.executions,
    t.analyses,
    t.charters,
    t.signoffs,
)


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is asking, in which tenant."""

    tenant_id: str
    user_id: str
    name: str
    admin: bool = False

    @classmethod
    def of(cls, principal: Principal) -> Viewer:
        return cls(principal.tenant_id, principal.id, principal.name, "admin" in principal.roles)


def _no_session(session_id: str) -> NotFound:
    return NotFound(f"no scoping session '{session_id}'")


def _title(title: str) -> str:
    title = " ".join(title.split())
    if not title:
        raise InvalidInput("a session needs a title")
    return title[:200]


async def create(conn: Conn, viewer: Viewer, title: str, now: datetime) -> dict[str, Any]:
    title = _title(title)
    row = {
        "id": new_id(),
        "tenant_id": viewer.tenant_id,
        "owner_id": viewer.user_id,
        "owner_name": viewer.name,
        "title": title,
        "title_key": title.casefold(),
        "archived": False,
        "created_at": now,
        "updated_at": now,
        "kb_id": None,
    }
    await conn.execute(sa.insert(t.sessions).values(**row))
    await conn.execute(
        sa.insert(t.stages).values(
            session_id=row["id"],
            number=1,
            tenant_id=viewer.tenant_id,
            done=False,
            agent_done=False,
            opened_at=now,
            updated_at=now,
        )
    )
    return row


async def find(conn: Conn, viewer: Viewer, session_id: str) -> tuple[dict[str, Any], Access]:
    """The session and the viewer's access to it; `NotFound` when they may not see it."""
    row = (
        await conn.execute(
            sa.select(t.sessions, t.shares.c.access)
            .outerjoin(
                t.shares,
                sa.and_(
                    t.shares.c.session_id == t.sessions.c.id,
                    t.shares.c.user_id == viewer.user_id,
                    t.shares.c.tenant_id == viewer.tenant_id,
                ),
            )
            .where(t.sessions.c.tenant_id == viewer.tenant_id, t.sessions.c.id == session_id)
        )
    ).first()
    if row is None:
        raise _no_session(session_id)
    session = dict(row._mapping)
    shared = session.pop("access")
    if session["owner_id"] == viewer.user_id:
        return session, "owner"
    if shared in ("read", "edit"):
        return session, shared
    if viewer.admin:
        return session, "read"
    raise _no_session(session_id)


async def editable(conn: Conn, viewer: Viewer, session_id: str) -> dict[str, Any]:
    """The session, if the viewer may change it (its owner, or shared with them to edit)."""
    session, access = await find(conn, viewer, session_id)
    if access == "read":
        raise PermissionDenied(
            f"the session '{session_id}' is shared with {viewer.name} to read, not to edit",
            details={"access": access},
        )
    return session


async def owned(conn: Conn, viewer: Viewer, session_id: str) -> dict[str, Any]:
    session, access = await find(conn, viewer, session_id)
    if access != "owner":
        raise PermissionDenied(f"only the owner of the session '{session_id}' may do that")
    return session


def visible(viewer: Viewer) -> sa.ColumnElement[bool]:
    """Sessions the viewer may see, within their tenant."""
    mine = t.sessions.c.tenant_id == viewer.tenant_id
    if viewer.admin:
        return mine
    shared = sa.select(t.shares.c.session_id).where(
        t.shares.c.tenant_id == viewer.tenant_id, t.shares.c.user_id == viewer.user_id
    )
    return sa.and_(
        mine, sa.or_(t.sessions.c.owner_id == viewer.user_id, t.sessions.c.id.in_(shared))
    )


async def page(
    conn: Conn,
    viewer: Viewer,
    *,
    limit: int,
    after: tuple[datetime, str] | None = None,
    search: str | None = None,
    archived: bool | None = False,
) -> list[dict[str, Any]]:
    """Up to `limit` sessions the viewer may see, newest first, after the `(created_at, id)`
    of `after`; `search` matches words of the title, `archived` None lists both kinds."""
    query = sa.select(t.sessions).where(visible(viewer))
    if archived is not None:
        query = query.where(t.sessions.c.archived == archived)
    if search and search.strip():
        needle = search.strip().casefold()
        escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(t.sessions.c.title_key.like(f"%{escaped}%", escape="\\"))
    if after is not None:
        query = query.where(sa.tuple_(t.sessions.c.created_at, t.sessions.c.id) < after)
    query = query.order_by(t.sessions.c.created_at.desc(), t.sessions.c.id.desc()).limit(limit)
    return [dict(row._mapping) for row in await conn.execute(query)]


async def update(
    conn: Conn,
    viewer: Viewer,
    session_id: str,
    now: datetime,
    *,
    title: str | None = None,
    archived: bool | None = None,
) -> dict[str, Any]:
    session = await editable(conn, viewer, session_id)
    values: dict[str, Any] = {"updated_at": now}
    if title is not None:
        values |= {"title": _title(title), "title_key": _title(title).casefold()}
    if archived is not None:
        values["archived"] = archived
    await conn.execute(
        sa.update(t.sessions)
        .where(t.sessions.c.tenant_id == viewer.tenant_id, t.sessions.c.id == session_id)
        .values(**values)
    )
    return session | values


async def delete(conn: Conn, viewer: Viewer, session_id: str) -> None:
    """Delete the session with everything recorded in it, its attached documents too (the
    owner alone may)."""
    session = await owned(conn, viewer, session_id)
    if session["kb_id"]:
        try:
            kb = await kb_store.get_kb(conn, viewer.tenant_id, session["kb_id"])
        except NotFound:
            pass  # deleted through the knowledge-base API already
        else:
            await kb_store.delete_kb(conn, viewer.tenant_id, kb)
    for table in SESSION_TABLES:
        await conn.execute(
            sa.delete(table).where(
                table.c.tenant_id == viewer.tenant_id, table.c.session_id == session_id
            )
        )
    await conn.execute(
        sa.delete(t.sessions).where(
            t.sessions.c.tenant_id == viewer.tenant_id, t.sessions.c.id == session_id
        )
    )


async def set_knowledge_base(conn: Conn, tenant_id: str, session_id: str, kb_id: str) -> None:
    """Record the knowledge base holding the session's attached documents."""
    await conn.execute(
        sa.update(t.sessions)
        .where(t.sessions.c.tenant_id == tenant_id, t.sessions.c.id == session_id)
        .values(kb_id=kb_id)
    )


async def user_by_email(conn: Conn, tenant_id: str, email: str) -> dict[str, Any]:
    row = (
        await conn.execute(
            sa.select(users_t.c.id, users_t.c.name, users_t.c.email).where(
                users_t.c.tenant_id == tenant_id,
                sa.func.lower(users_t.c.email) == email.strip().lower(),
            )
        )
    ).first()
    if row is None:
        raise NotFound(f"no user with the email '{email}' in this tenant")
    return dict(row._mapping)


async def share(
    conn: Conn, viewer: Viewer, session_id: str, email: str, access: str, now: datetime
) -> dict[str, Any]:
    """Share the session with a user of the tenant, to read or to edit (again: change it)."""
    if access not in ("read", "edit"):
        raise InvalidInput(f"access is 'read' or 'edit', not {access!r}")
    await owned(conn, viewer, session_id)
    user = await user_by_email(conn, viewer.tenant_id, email)
    if user["id"] == viewer.user_id:
        raise InvalidInput("the owner of a session needs no share of it")
    where = sa.and_(
        t.shares.c.tenant_id == viewer.tenant_id,
        t.shares.c.session_id == session_id,
        t.shares.c.user_id == user["id"],
    )
    await conn.execute(sa.delete(t.shares).where(where))
    await conn.execute(
        sa.insert(t.shares).values(
            session_id=session_id,
            user_id=user["id"],
            tenant_id=viewer.tenant_id,
            access=access,
            created_at=now,
        )
    )
    return {**user, "user_id": user["id"], "access": access, "created_at": now}


async def unshare(conn: Conn, viewer: Viewer, session_id: str, user_id: str) -> None:
    await owned(conn, viewer, session_id)
    result = await conn.execute(
        sa.delete(t.shares).where(
            t.shares.c.tenant_id == viewer.tenant_id,
            t.shares.c.session_id == session_id,
            t.shares.c.user_id == user_id,
        )
    )
    if result.rowcount == 0:
        raise NotFound(f"the session '{session_id}' is not shared with '{user_id}'")


async def shares_of(conn: Conn, tenant_id: str, session_id: str) -> list[dict[str, Any]]:
    rows = await conn.execute(
        sa.select(
            t.shares.c.user_id,
            t.shares.c.access,
            t.shares.c.created_at,
            users_t.c.name,
            users_t.c.email,
        )
        .join(users_t, users_t.c.id == t.shares.c.user_id)
        .where(t.shares.c.tenant_id == tenant_id, t.shares.c.session_id == session_id)
        .order_by(t.shares.c.created_at)
    )
    return [dict(row._mapping) for row in rows]
