"""A real SMTP server for the email tests: `aiosmtpd` on a free local port, in the test's event
loop, keeping every message it accepts. It refuses the recipients in `refuse`, and wants the
login `sales` / `s3cret` from a client that logs in."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from batonflow.apps.sales.settings import SalesSettings

LOGIN = ("sales", "s3cret")


@dataclass
class Arrived:
    sender: str
    recipients: list[str]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = BytesParser(policy=default).parsebytes(self.raw)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class Inbox:
    """What the server received, and how to point the sales app at it."""

    port: int
    arrived: list[Arrived] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)

    def settings(self, **changes: Any) -> SalesSettings:
        values: dict[str, Any] = {
            "smtp_host": "127.0.0.1",
            "smtp_port": self.port,
            "mail_from": "Acme Sales <sales@acme.example>",
            "smtp_timeout": 5,
        }
        return SalesSettings(**(values | changes))

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.arrived.append(
            Arrived(
                str(envelope.mail_from), list(envelope.rcpt_tos), envelope.original_content or b""
            )
        )
        return f"250 2.0.0 queued as m{len(self.arrived)}"


def _authenticate(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        LOGIN[0].encode(),
        LOGIN[1].encode(),
    )
    return AuthResult(success=ok, handled=False)


@pytest.fixture
async def smtp_server() -> AsyncIterator[Inbox]:
    inbox = Inbox(port=0)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(
            inbox,
            hostname="smtp.test",
            authenticator=_authenticate,
            auth_require_tls=False,
        ),
        "127.0.0.1",
        0,
    )
    inbox.port = server.sockets[0].getsockname()[1]
    yield inbox
    server.close()
    await server.wait_closed()
