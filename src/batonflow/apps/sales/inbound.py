"""Inbound replies: a raw RFC 822 message (from a webhook or a mailbox), matched to the thread
it answers and recorded against it, which marks the thread replied (`threads.thread_replied`).

Matching, in order: the email whose Message-ID the reply's In-Reply-To or References name (or
an earlier reply's, for a reply to a reply); then, for clients that drop those headers, the
newest email whose subject is the reply's without its "Re:"/"Fwd:" prefixes and that was sent
to the reply's sender. The same reply delivered twice (same Message-ID) is recorded once.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default
from email.utils import parseaddr
from typing import Any

import sqlalchemy as sa

from batonflow.apps.sales.mail_tables import emails, replies
from batonflow.errors import InvalidInput
from batonflow.ids import new_id
from batonflow.store.db import Conn

_MSGID = re.compile(r"<[^<>\s]+>")
_PREFIX = re.compile(r"^\s*((re|fwd?|aw|sv)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)
MAX_BYTES = 10 * 1024 * 1024


def parse(raw: bytes) -> EmailMessage:
    if not raw.strip():
        raise InvalidInput("the body is empty; send the reply as a raw RFC 822 message")
    if len(raw) > MAX_BYTES:
        raise InvalidInput(f"the message is larger than {MAX_BYTES} bytes")
    message = BytesParser(policy=default).parsebytes(raw)
    if not isinstance(message, EmailMessage) or message.get("From") is None:
        raise InvalidInput(
            "the body is not an RFC 822 message with a From header; send the raw message "
            "(headers, a blank line, the body) as message/rfc822 or text/plain"
        )
    return message


def bare_subject(subject: str) -> str:
    return _PREFIX.sub("", subject).strip()


def _text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    content = part.get_content()
    return content.replace("\r\n", "\n") if isinstance(content, str) else ""


async def _by_headers(conn: Conn, tenant_id: str, ids: list[str]) -> dict[str, Any] | None:
    if not ids:
        return None
    found = (
        await conn.execute(
            sa.select(emails)
            .where(emails.c.tenant_id == tenant_id, emails.c.message_id.in_(ids))
            .order_by(emails.c.created_at.desc(), emails.c.id.desc())
            .limit(1)
        )
    ).first()
    if found is not None:
        return dict(found._mapping)
    earlier = (
        await conn.execute(
            sa.select(replies.c.email_id)
            .where(replies.c.tenant_id == tenant_id, replies.c.message_id.in_(ids))
            .limit(1)
        )
    ).first()
    if earlier is None:
        return None
    row = await conn.execute(
        sa.select(emails).where(emails.c.tenant_id == tenant_id, emails.c.id == earlier[0])
    )
    return dict(row.one()._mapping)


async def _by_subject(
    conn: Conn, tenant_id: str, subject: str, sender: str
) -> dict[str, Any] | None:
    if not subject or not sender:
        return None
    rows = await conn.execute(
        sa.select(emails)
        .where(emails.c.tenant_id == tenant_id, emails.c.subject.in_([subject, f"Re: {subject}"]))
        .order_by(emails.c.created_at.desc(), emails.c.id.desc())
    )
    for row in rows:
        if sender in (parseaddr(a)[1].lower() for a in row.to_addrs):
            return dict(row._mapping)
    return None


async def record_reply(conn: Conn, tenant_id: str, raw: bytes, now: datetime) -> dict[str, Any]:
    """Record the reply `raw` against its thread; the reply's row (with `matched_by`)."""
    message = parse(raw)
    sender = parseaddr(str(message.get("From", "")))[1].lower()
    subject = str(message.get("Subject", ""))
    ids = _MSGID.findall(f"{message.get('In-Reply-To', '')} {message.get('References', '')}")
    own = _MSGID.findall(str(message.get("Message-ID", "")))
    reply_id = own[0] if own else f"<{hashlib.sha256(raw).hexdigest()[:40]}@inbound.invalid>"
    seen = (
        await conn.execute(
            sa.select(replies).where(
                replies.c.tenant_id == tenant_id, replies.c.message_id == reply_id
            )
        )
    ).first()
    if seen is not None:
        return dict(seen._mapping)
    email, matched_by = await _by_headers(conn, tenant_id, ids), "headers"
    if email is None:
        email = await _by_subject(conn, tenant_id, bare_subject(subject), sender)
        matched_by = "subject"
    if email is None:
        named = ", ".join(ids) or "no In-Reply-To or References"
        raise InvalidInput(
            f"the message matches no email of this tenant: it names {named}, and no email "
            f"with the subject {bare_subject(subject)!r} went to {sender or 'its sender'}"
        )
    row = {
        "id": new_id(),
        "tenant_id": tenant_id,
        "email_id": email["id"],
        "thread_id": email["thread_id"],
        "message_id": reply_id,
        "from_addr": sender,
        "subject": subject[:998],
        "body": _text(message),
        "raw": raw.decode("utf-8", errors="replace"),
        "matched_by": matched_by,
        "received_at": now,
    }
    await conn.execute(sa.insert(replies).values(**row))
    await conn.execute(
        sa.update(emails)
        .where(
            emails.c.tenant_id == tenant_id,
            emails.c.id == email["id"],
            emails.c.replied_at.is_(None),
        )
        .values(replied_at=now)
    )
    return row
