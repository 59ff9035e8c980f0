"""The audit log: one append-only table of who did what, to which record, from where, when.

Nothing in the code updates or deletes an entry, and the database refuses it too: a trigger on
`audit_log` aborts any UPDATE or DELETE, on SQLite and on PostgreSQL. The DDL lives here so that
the migration and a schema built from the models (tests) make the same. TRUNCATE (PostgreSQL)
and dropping the table stay the operator's tools for retention, outside the application.

Entries are read a tenant at a time: newest first in pages (the keyset is `(created_at, id)`,
ids sort by creation time), or oldest first in batches for an export.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, event, insert, or_, select, tuple_
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql import Select

from batonflow.store.db import Conn
from batonflow.store.tables import Base, table

APPEND_ONLY = "audit_log is append-only"
SQLITE_TRIGGERS = tuple(
    f"CREATE TRIGGER IF NOT EXISTS audit_log_no_{what.lower()} BEFORE {what} ON audit_log "
    f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}: {what} refused'); END"
    for what in ("UPDATE", "DELETE")
)
PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '{APPEND_ONLY}: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$
"""
PG_TRIGGER = (
    "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
    "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
)


class AuditEntry(Base):
    """One thing someone (a user, an API key, an agent, the CLI) did in a tenant."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_tenant_created", "tenant_id", "created_at", "id"),
        Index("ix_audit_log_tenant_action", "tenant_id", "action", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    created_at: Mapped[datetime]
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str | None] = mapped_column(String(36))
    actor: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(64))
    target_kind: Mapped[str | None] = mapped_column(String(32))
    target_id: Mapped[str | None] = mapped_column(String(200))
    client_address: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]]


audit_t = table(AuditEntry)


def create_guards(sync: Connection) -> None:
    """The triggers that refuse UPDATE and DELETE on `audit_log`; idempotent."""
    if sync.dialect.name == "sqlite":
        for statement in SQLITE_TRIGGERS:
            sync.exec_driver_sql(statement)
        return
    sync.exec_driver_sql(PG_FUNCTION)
    sync.exec_driver_sql("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
    sync.exec_driver_sql(PG_TRIGGER)


def drop_guards(sync: Connection) -> None:
    if sync.dialect.name == "sqlite":
        for what in ("update", "delete"):
            sync.exec_driver_sql(f"DROP TRIGGER IF EXISTS audit_log_no_{what}")
        return
    sync.exec_driver_sql("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
    sync.exec_driver_sql("DROP FUNCTION IF EXISTS audit_log_append_only()")


@event.listens_for(audit_t, "after_create")
def _after_create(target: Any, sync: Connection, **_: Any) -> None:
    create_guards(sync)


async def insert_entry(conn: Conn, row: dict[str, Any]) -> None:
    await conn.execute(insert(audit_t).values(**row))


def _filtered(
    tenant_id: str,
    *,
    actor: str | None,
    action: str | None,
    since: datetime | None,
    until: datetime | None,
) -> Select[Any]:
    query = select(audit_t).where(audit_t.c.tenant_id == tenant_id)
    if actor is not None:
        query = query.where(or_(audit_t.c.actor == actor, audit_t.c.actor_id == actor))
    if action is not None:
        query = query.where(audit_t.c.action == action)
    if since is not None:
        query = query.where(audit_t.c.created_at >= since)
    if until is not None:
        query = query.where(audit_t.c.created_at < until)
    return query


async def list_entries(
    conn: Conn,
    tenant_id: str,
    *,
    limit: int,
    before: tuple[datetime, str] | None = None,
    actor: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[dict[str, Any]]:
    """Up to `limit` entries, newest first, older than the `(created_at, id)` of `before`."""
    query = _filtered(tenant_id, actor=actor, action=action, since=since, until=until)
    if before is not None:
        query = query.where(tuple_(audit_t.c.created_at, audit_t.c.id) < before)
    rows = await conn.execute(
        query.order_by(audit_t.c.created_at.desc(), audit_t.c.id.desc()).limit(limit)
    )
    return [dict(row._mapping) for row in rows]


async def entries_after(
    conn: Conn,
    tenant_id: str,
    *,
    limit: int,
    after: tuple[datetime, str] | None = None,
    actor: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[dict[str, Any]]:
    """Up to `limit` entries, oldest first, newer than the `(created_at, id)` of `after`: an
    export reads the log in these batches."""
    query = _filtered(tenant_id, actor=actor, action=action, since=since, until=until)
    if after is not None:
        query = query.where(tuple_(audit_t.c.created_at, audit_t.c.id) > after)
    rows = await conn.execute(query.order_by(audit_t.c.created_at, audit_t.c.id).limit(limit))
    return [dict(row._mapping) for row in rows]
