"""Real SMTP servers for the email tests: `aiosmtpd` on a free local port, in the test's event
loop, keeping every message it accepts. It refuses the recipients in `refuse`, and wants the
login `sales` / `s3cret` from a client that logs in. `tls_servers` speak TLS (from the start,
and after STARTTLS) with a self-signed certificate for 127.0.0.1."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

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
    reject: str | None = None  # the reply to DATA instead of accepting the message

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
        if self.reject is not None:
            return self.reject
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


@dataclass
class Certificate:
    """A self-signed certificate for 127.0.0.1 (its own CA), as PEM files."""

    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "smtp.test")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(IPv4Address("127.0.0.1"))]), critical=False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    found = Certificate(folder / "cert.pem", folder / "key.pem")
    found.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    found.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return found


@pytest.fixture
async def tls_servers(certificate: Certificate) -> AsyncIterator[tuple[Inbox, Inbox]]:
    """Two servers sharing nothing: one speaking TLS from the start, one that insists on
    STARTTLS before it takes a message."""
    implicit, upgraded = Inbox(port=0), Inbox(port=0)
    loop = asyncio.get_running_loop()
    servers = [
        await loop.create_server(
            lambda: SMTP(implicit, hostname="smtp.test"),
            "127.0.0.1",
            0,
            ssl=certificate.server_context(),
        ),
        await loop.create_server(
            lambda: SMTP(
                upgraded,
                hostname="smtp.test",
                tls_context=certificate.server_context(),
                require_starttls=True,
            ),
            "127.0.0.1",
            0,
        ),
    ]
    implicit.port = servers[0].sockets[0].getsockname()[1]
    upgraded.port = servers[1].sockets[0].getsockname()[1]
    yield implicit, upgraded
    for server in servers:
        server.close()
        await server.wait_closed()
