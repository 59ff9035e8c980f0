"""A local SMTP catcher for demos: an `aiosmtpd` server that takes every message and records
it against the email it is (matched by Message-ID): when it arrived and the raw message, so a
person sees in the dashboard that the mail arrived. It delivers nothing further.

It runs in the caller's event loop (`batonflow sales smtp-catcher`, or the API process when
`BATONFLOW_SALES_SMTP_CATCHER=1`), so it writes through the same database as everything else.
It is the one reader of the email log that does not know the tenant (a mail server is not told
it): it finds the email by its Message-ID, which is unique because it is derived from the
tenant and the idempotency key, then writes to that email within its tenant.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from email.parser import BytesHeaderParser
from email.policy import default
from typing import Any

import sqlalchemy as sa
from aiosmtpd.smtp import SMTP, Envelope, Session

from batonflow.apps.sales.mail_tables import emails
from batonflow.errors import ConfigError
from batonflow.store.db import Conn

log = logging.getLogger(__name__)
Write = Callable[[Callable[[Conn], Awaitable[Any]]], Awaitable[Any]]
_MSGID = re.compile(r"<[^<>\s]+>")


async def mark_delivered(conn: Conn, message_id: str, raw: str, now: datetime) -> str | None:
    """Record `raw` as delivered on the email with `message_id`; its id, or None."""
    found = (
        await conn.execute(
            sa.select(emails.c.tenant_id, emails.c.id).where(emails.c.message_id == message_id)
        )
    ).first()
    if found is None:
        return None
    await conn.execute(
        sa.update(emails)
        .where(emails.c.tenant_id == found.tenant_id, emails.c.id == found.id)
        .values(delivered_at=now, delivered_raw=raw)
    )
    return str(found.id)


class Catcher:
    """The `aiosmtpd` handler: each message's DATA is recorded through `write`."""

    def __init__(self, write: Write) -> None:
        self.write = write
        self.received = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        headers = BytesHeaderParser(policy=default).parsebytes(content)
        ids = _MSGID.findall(str(headers.get("Message-ID", "")))
        self.received += 1
        if not ids:
            return "250 OK: caught (no Message-ID, not recorded)"
        raw = content.decode("utf-8", errors="replace")
        now = datetime.now(UTC)
        email_id = await self.write(lambda conn: mark_delivered(conn, ids[0], raw, now))
        if email_id is None:
            log.info("smtp catcher: %s matches no email", ids[0])
            return f"250 OK: caught {ids[0]} (no email has it)"
        return f"250 OK: caught {ids[0]} as email {email_id}"


async def start(write: Write, host: str, port: int) -> tuple[asyncio.Server, Catcher]:
    """Listen on `host:port` in the running loop; the server (close it) and its handler."""
    catcher = Catcher(write)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(catcher, hostname="batonflow-catcher", ident="Batonflow SMTP catcher"),
        host,
        port,
    )
    return server, catcher


@asynccontextmanager
async def serving(write: Write, host: str, port: int) -> AsyncIterator[Catcher]:
    try:
        server, catcher = await start(write, host, port)
    except OSError as exc:
        raise ConfigError(
            f"the SMTP catcher cannot listen on {host}:{port} ({exc.strerror}); set "
            "BATONFLOW_SALES_SMTP_PORT to a free port, or BATONFLOW_SALES_SMTP_CATCHER=0"
        ) from exc
    log.info("smtp catcher listening on %s:%s", host, port)
    try:
        yield catcher
    finally:
        server.close()
        await server.wait_closed()
