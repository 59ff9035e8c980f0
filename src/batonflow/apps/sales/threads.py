"""Reading the email log: an email, a page of emails, a thread (its emails and the replies to
them), and whether a thread has been replied to. Every query filters on the tenant."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from batonflow.apps.sales.mail_tables import STATUSES, emails, replies
from batonflow.errors import InvalidInput, NotFound
from batonflow.store.db import Conn


def not_found(email_id: str) -> NotFound:
    return NotFound(f"email {email_id} not found")


async def get_email(conn: Conn, tenant_id: str, email_id: str) -> dict[str, Any]:
    row = (
        await conn.execute(
            sa.select(emails).where(emails.c.tenant_id == tenant_id, emails.c.id == email_id)
        )
    ).first()
    if row is None:
        raise not_found(email_id)
    return dict(row._mapping)


async def find_by_key(conn: Conn, tenant_id: str, key: str) -> dict[str, Any] | None:
    row = (
        await conn.execute(
            sa.select(emails).where(
                emails.c.tenant_id == tenant_id, emails.c.idempotency_key == key
            )
        )
    ).first()
    return None if row is None else dict(row._mapping)


async def emails_page(
    conn: Conn,
    tenant_id: str,
    *,
    limit: int,
    after: tuple[datetime, str] | None = None,
    lead_id: str | None = None,
    deal_id: str | None = None,
    invoice_id: str | None = None,
    thread_id: str | None = None,
    status: str | None = None,
) -> list[dict[str, Any]]:
    """Emails newest first, after the `(created_at, id)` of the previous page's last."""
    if status is not None and status not in STATUSES:
        raise InvalidInput(f"status {status!r} is not an email status; use one of {STATUSES}")
    c = emails.c
    query = sa.select(emails).where(c.tenant_id == tenant_id)
    if after is not None:
        query = query.where(sa.tuple_(c.created_at, c.id) < sa.tuple_(*after))
    for column, value in (
        (c.lead_id, lead_id),
        (c.deal_id, deal_id),
        (c.invoice_id, invoice_id),
        (c.thread_id, thread_id),
        (c.status, status),
    ):
        if value is not None:
            query = query.where(column == value)
    rows = await conn.execute(query.order_by(c.created_at.desc(), c.id.desc()).limit(limit))
    return [dict(row._mapping) for row in rows]


async def thread(conn: Conn, tenant_id: str, thread_id: str) -> dict[str, list[dict[str, Any]]]:
    """A thread's emails and the replies to them, each oldest first."""
    sent = await conn.execute(
        sa.select(emails)
        .where(emails.c.tenant_id == tenant_id, emails.c.thread_id == thread_id)
        .order_by(emails.c.created_at, emails.c.id)
    )
    got = await conn.execute(
        sa.select(replies)
        .where(replies.c.tenant_id == tenant_id, replies.c.thread_id == thread_id)
        .order_by(replies.c.received_at, replies.c.id)
    )
    return {
        "emails": [dict(row._mapping) for row in sent],
        "replies": [dict(row._mapping) for row in got],
    }


async def thread_replied(conn: Conn, tenant_id: str, thread_id: str) -> bool:
    """Whether anyone replied in the thread: sequences (follow-ups, dunning) stop when it is."""
    found = await conn.execute(
        sa.select(replies.c.id)
        .where(replies.c.tenant_id == tenant_id, replies.c.thread_id == thread_id)
        .limit(1)
    )
    return found.first() is not None
