"""Sending an email exactly once under its idempotency key, even across crashes and retries.

`send_once` commits the email as `sending` in a transaction of its own before it talks to the
SMTP server, then records the server's reply (`sent`) in a second one. A later call with the
same key never sends twice:

    found sent or unconfirmed   returned as it is
    found sending               a crash came between the SMTP exchange and the commit that
                                records it: the mail may have gone out, so it is marked
                                `unconfirmed` and not sent; a person resends it (`resend`,
                                audit-logged) once they know it did not arrive
    found failed                the server refused it or could not be reached: sent again

The Message-ID is derived from the tenant, the key and the sender's domain, so every attempt
and a resend carry the same one, and the raw message is stored before the first attempt so a
resend sends the very same bytes. A follow-up (`in_reply_to` an earlier email's id) carries
In-Reply-To and References and joins the earlier email's thread.

Before anything is stored, the subject and body pass the output check (`llm/leaks.py`): the
caller's `leaks` (in a run: the installation's secrets and the system prompts of the attempt's
model calls), the SMTP password, and credential shapes. A find raises `OutputLeak` and nothing
is stored or sent; in a run it is an `output.leak` event and audit entry, from the API a 422.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, parseaddr
from typing import Any, Protocol, TypeVar

import sqlalchemy as sa

from batonflow.apps.sales import mailer, threads
from batonflow.apps.sales.mail_tables import emails
from batonflow.apps.sales.settings import SalesSettings
from batonflow.apps.sales.tables import deals, leads
from batonflow.audit import log as audit
from batonflow.errors import Conflict, InvalidInput, NotFound, OutputLeak
from batonflow.ids import new_id
from batonflow.llm.leaks import LeakCheck, labels, secrets_of
from batonflow.store.db import Conn

T = TypeVar("T")
POLICY = SMTP.clone(cte_type="7bit")  # CRLF lines, ASCII on the wire (no SMTPUTF8 needed)


class KeyReused(Conflict):
    """The key was used for a different email."""


class Tx(Protocol):
    """Transactions: the platform, the API's state, or an agent's `ctx.data`."""

    async def read(self, work: Callable[[Any], Awaitable[T]]) -> T: ...

    async def write(self, work: Callable[[Any], Awaitable[T]]) -> T: ...


@dataclass(frozen=True, slots=True)
class Attachment:
    name: str
    mime: str  # type/subtype, like application/pdf
    data: bytes


@dataclass(frozen=True, slots=True)
class Outgoing:
    """An email to send: to whom, what, what it is about, and the email it follows up."""

    to: Sequence[str]
    subject: str
    body: str
    lead_id: str | None = None
    deal_id: str | None = None
    invoice_id: str | None = None
    in_reply_to: str | None = None  # the id of an earlier email of the tenant
    attachments: Sequence[Attachment] = ()


def message_id(tenant_id: str, key: str, mail_from: str) -> str:
    """The stable Message-ID of the email sent under `key`: the same on every attempt."""
    digest = hashlib.sha256(f"{tenant_id}\x00{key}".encode()).hexdigest()[:40]
    domain = parseaddr(mail_from)[1].rpartition("@")[2] or "batonflow.localhost"
    return f"<{digest}@{domain}>"


def check(key: str, outgoing: Outgoing) -> None:
    """Refuse what no server should be asked to send, saying what to fix."""
    if not key.strip() or len(key) > 200:
        raise InvalidInput("an email needs an idempotency key of 1 to 200 characters")
    if not outgoing.to:
        raise InvalidInput("an email needs at least one recipient in `to`")
    for address in outgoing.to:
        bare = parseaddr(address)[1]
        if not bare or "@" not in bare or any(c in address for c in "\r\n"):
            raise InvalidInput(f"{address!r} is not an email address; write it as name@domain")
    if not outgoing.subject.strip() or any(c in outgoing.subject for c in "\r\n"):
        raise InvalidInput("an email needs a subject on one line")
    if len(outgoing.subject) > 900:
        raise InvalidInput("the subject is longer than 900 characters; shorten it")
    for attachment in outgoing.attachments:
        maintype, _, subtype = attachment.mime.partition("/")
        if not attachment.name.strip() or not maintype or not subtype:
            raise InvalidInput(
                f"attachment {attachment.name!r} needs a name and a MIME type like "
                f"application/pdf (got {attachment.mime!r})"
            )


def refuse_leaks(settings: SalesSettings, outgoing: Outgoing, leaks: LeakCheck | None) -> None:
    """`OutputLeak` when the email's subject or body carries what may not leave."""
    checker = (leaks or LeakCheck()).with_secrets(secrets_of(settings))
    found = checker.find_in([outgoing.subject, outgoing.body])
    if found:
        named = labels(found)
        raise OutputLeak(
            f"the email carries {', '.join(named)}; it was not sent. Remove it and send again",
            details={"channel": "email", "found": named},
        )


async def send_once(
    db: Tx,
    settings: SalesSettings,
    tenant_id: str,
    key: str,
    outgoing: Outgoing,
    *,
    leaks: LeakCheck | None = None,
) -> dict[str, Any]:
    """Send `outgoing` once under `key` (see the module docstring); the email's row."""
    check(key, outgoing)
    refuse_leaks(settings, outgoing, leaks)

    async def begin(conn: Conn) -> tuple[dict[str, Any], bool]:
        now = datetime.now(UTC)
        found = await threads.find_by_key(conn, tenant_id, key)
        if found is None:
            return await _insert(conn, settings, tenant_id, key, outgoing, now), True
        if (list(found["to_addrs"]), found["subject"], found["body"]) != (
            list(outgoing.to),
            outgoing.subject,
            outgoing.body,
        ):
            raise KeyReused(
                f"the idempotency key {key!r} was used for another email ({found['id']}); "
                "use a new key for a new email"
            )
        if found["status"] == "sending":
            await _move(conn, tenant_id, found, "unconfirmed")
            return await threads.get_email(conn, tenant_id, found["id"]), False
        if found["status"] == "failed":
            moved = await _move(conn, tenant_id, found, "sending", attempts=found["attempts"] + 1)
            return await threads.get_email(conn, tenant_id, found["id"]), moved
        return found, False

    try:
        row, go = await db.write(begin)
    except KeyReused:
        raise
    except (Conflict, sa.exc.IntegrityError):
        row, go = await db.write(begin)  # a concurrent call inserted the key first
    if not go:
        return row
    return await _exchange(db, settings, tenant_id, row)


async def resend(
    db: Tx, settings: SalesSettings, tenant_id: str, email_id: str, actor: audit.Acting
) -> dict[str, Any]:
    """Send an unconfirmed or failed email again, as a person decided (audit-logged): the same
    message, with the same Message-ID."""

    async def begin(conn: Conn) -> dict[str, Any]:
        row = await threads.get_email(conn, tenant_id, email_id)
        if row["status"] not in ("unconfirmed", "failed"):
            raise Conflict(
                f"email {email_id} is {row['status']}; only an unconfirmed or failed email is "
                "resent"
            )
        if not await _move(conn, tenant_id, row, "sending", attempts=row["attempts"] + 1):
            raise Conflict(f"email {email_id} changed while it was being resent; look again")
        await audit.record(
            conn,
            tenant_id,
            "sales.email_resent",
            actor=actor,
            now=datetime.now(UTC),
            target=("sales_email", email_id),
            details={"was": row["status"], "message_id": row["message_id"]},
        )
        return await threads.get_email(conn, tenant_id, email_id)

    return await _exchange(db, settings, tenant_id, await db.write(begin))


async def _exchange(
    db: Tx, settings: SalesSettings, tenant_id: str, row: dict[str, Any]
) -> dict[str, Any]:
    try:
        reply = await mailer.deliver(
            settings,
            parseaddr(row["from_addr"])[1],
            [parseaddr(address)[1] for address in row["to_addrs"]],
            row["raw"].encode(),
        )
    except mailer.MailFailed as exc:
        failed = {"status": "failed", "smtp_code": exc.smtp_code, "smtp_message": str(exc)}
        return await db.write(lambda conn: _update(conn, tenant_id, row["id"], **failed))
    sent = {
        "status": "sent",
        "smtp_code": reply.code,
        "smtp_message": reply.message,
        "sent_at": datetime.now(UTC),
    }
    return await db.write(lambda conn: _update(conn, tenant_id, row["id"], **sent))


async def _move(
    conn: Conn, tenant_id: str, row: dict[str, Any], status: str, **values: Any
) -> bool:
    """Move the email from the status `row` saw to `status`; False when another call moved it
    first (two retries, or two people resending, at once: only one sends)."""
    moved = await conn.execute(
        sa.update(emails)
        .where(
            emails.c.tenant_id == tenant_id,
            emails.c.id == row["id"],
            emails.c.status == row["status"],
            emails.c.attempts == row["attempts"],
        )
        .values(status=status, **values)
    )
    return bool(moved.rowcount == 1)


async def _update(conn: Conn, tenant_id: str, email_id: str, **values: Any) -> dict[str, Any]:
    await conn.execute(
        sa.update(emails)
        .where(emails.c.tenant_id == tenant_id, emails.c.id == email_id)
        .values(**values)
    )
    return await threads.get_email(conn, tenant_id, email_id)


async def _linked(conn: Conn, tenant_id: str, outgoing: Outgoing) -> None:
    for table, what, value in (
        (leads, "lead", outgoing.lead_id),
        (deals, "deal", outgoing.deal_id),
    ):
        if value is None:
            continue
        found = await conn.execute(
            sa.select(table.c.id).where(table.c.tenant_id == tenant_id, table.c.id == value)
        )
        if found.first() is None:
            raise NotFound(f"{what} {value} not found; link the email to one of this tenant's")


async def _insert(
    conn: Conn,
    settings: SalesSettings,
    tenant_id: str,
    key: str,
    outgoing: Outgoing,
    now: datetime,
) -> dict[str, Any]:
    await _linked(conn, tenant_id, outgoing)
    own = message_id(tenant_id, key, settings.mail_from)
    thread_id, parent_id, references = own, None, ""
    if outgoing.in_reply_to is not None:
        try:
            parent = await threads.get_email(conn, tenant_id, outgoing.in_reply_to)
        except NotFound:
            raise NotFound(
                f"in_reply_to names email {outgoing.in_reply_to}, which this tenant has not sent"
            ) from None
        thread_id, parent_id = parent["thread_id"], parent["message_id"]
        references = " ".join(filter(None, (parent["references"], parent_id)))
    message = EmailMessage(policy=POLICY)
    message["From"] = settings.mail_from
    message["To"] = ", ".join(outgoing.to)
    message["Subject"] = outgoing.subject
    message["Date"] = format_datetime(now)
    message["Message-ID"] = own
    if parent_id is not None:
        message["In-Reply-To"] = parent_id
        message["References"] = references
    message.set_content(outgoing.body)
    for attachment in outgoing.attachments:
        maintype, _, subtype = attachment.mime.partition("/")
        message.add_attachment(
            attachment.data, maintype=maintype, subtype=subtype, filename=attachment.name
        )
    row: dict[str, Any] = {
        "id": new_id(),
        "tenant_id": tenant_id,
        "idempotency_key": key,
        "message_id": own,
        "thread_id": thread_id,
        "in_reply_to": parent_id,
        "references": references,
        "from_addr": settings.mail_from,
        "to_addrs": list(outgoing.to),
        "subject": outgoing.subject,
        "body": outgoing.body,
        "attachments": [
            {"name": a.name, "mime": a.mime, "size": len(a.data)} for a in outgoing.attachments
        ],
        "raw": message.as_string(),
        "status": "sending",
        "attempts": 1,
        "lead_id": outgoing.lead_id,
        "deal_id": outgoing.deal_id,
        "invoice_id": outgoing.invoice_id,
        "created_at": now,
    }
    await conn.execute(sa.insert(emails).values(**row))
    return await threads.get_email(conn, tenant_id, row["id"])
