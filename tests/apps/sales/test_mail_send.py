"""Sending for real, to a local SMTP server, on SQLite and PostgreSQL: what arrives, exactly
once per key (a retry, and a crash between the SMTP exchange and its commit), a person's
resend, threads of follow-ups, and the SMTP failures each named for what went wrong."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest
from dirty_equals import IsDatetime, IsStr

from batonflow.api.deps import ApiState
from batonflow.apps.sales import emails
from batonflow.apps.sales.emails import Attachment, Outgoing
from batonflow.errors import NotFound
from batonflow.platform import Platform
from tests.apps.sales.conftest import SALES, Join
from tests.apps.sales.smtp_fixtures import (
    LOGIN,
    Certificate,
    Inbox,
    certificate,
    smtp_server,
    tls_servers,
)

__all__ = ["certificate", "smtp_server", "tls_servers"]
T = TypeVar("T")
HELLO = Outgoing(
    to=["Ada Lovelace <ada@client.example>"],
    subject="Your trial of Batonflow",
    body="Hello Ada,\n\nyour trial is ready: 14 days, every feature.\n\nBest, Acme",
)


class CrashAfterSend:
    """The database, except that the commit after the SMTP exchange fails once (the process
    died between handing the mail over and recording it)."""

    def __init__(self, inner: Platform) -> None:
        self.inner = inner
        self.writes = 0

    async def read(self, work: Callable[[Any], Awaitable[T]]) -> T:
        return await self.inner.read(work)

    async def write(self, work: Callable[[Any], Awaitable[T]]) -> T:
        self.writes += 1
        if self.writes == 2:
            raise ConnectionResetError("the database went away")
        return await self.inner.write(work)


async def test_an_email_arrives_once_with_its_headers_and_attachment(
    sales_state: ApiState, sales_member: Join, smtp_server: Inbox
) -> None:
    acme = await sales_member("acme")
    outgoing = Outgoing(
        to=HELLO.to,
        subject=HELLO.subject,
        body=HELLO.body,
        invoice_id="inv-1",
        attachments=[Attachment("terms.pdf", "application/pdf", b"%PDF-1.7 terms")],
    )
    sent = await emails.send_once(
        sales_state.platform, smtp_server.settings(), acme.tenant_id, "welcome:ada", outgoing
    )
    own = emails.message_id(acme.tenant_id, "welcome:ada", "sales@acme.example")
    assert sent == {
        "id": IsStr(),
        "tenant_id": acme.tenant_id,
        "idempotency_key": "welcome:ada",
        "message_id": own,
        "thread_id": own,
        "in_reply_to": None,
        "references": "",
        "from_addr": "Acme Sales <sales@acme.example>",
        "to_addrs": ["Ada Lovelace <ada@client.example>"],
        "subject": "Your trial of Batonflow",
        "body": HELLO.body,
        "attachments": [{"name": "terms.pdf", "mime": "application/pdf", "size": 14}],
        "raw": IsStr(),
        "status": "sent",
        "attempts": 1,
        "smtp_code": 250,
        "smtp_message": "2.0.0 queued as m1",
        "lead_id": None,
        "deal_id": None,
        "invoice_id": "inv-1",
        "created_at": IsDatetime(),
        "sent_at": IsDatetime(),
        "replied_at": None,
        "delivered_at": None,
        "delivered_raw": None,
    }
    assert own.startswith("<")
    assert own.endswith("@acme.example>")

    again = await emails.send_once(
        sales_state.platform, smtp_server.settings(), acme.tenant_id, "welcome:ada", outgoing
    )
    assert again == sent
    [arrived] = smtp_server.arrived
    assert (arrived.sender, arrived.recipients) == ("sales@acme.example", ["ada@client.example"])
    message = arrived.message
    assert {h: str(message[h]) for h in ("From", "To", "Subject", "Message-ID")} == {
        "From": "Acme Sales <sales@acme.example>",
        "To": "Ada Lovelace <ada@client.example>",
        "Subject": "Your trial of Batonflow",
        "Message-ID": own,
    }
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    assert body.get_content().replace("\r\n", "\n") == HELLO.body + "\n"
    [pdf] = list(message.iter_attachments())
    assert (pdf.get_filename(), pdf.get_content_type(), pdf.get_content()) == (
        "terms.pdf",
        "application/pdf",
        b"%PDF-1.7 terms",
    )
    assert arrived.raw.decode() == sent["raw"]


async def test_a_crash_between_send_and_commit_never_sends_twice(
    sales_state: ApiState, sales_member: Join, smtp_server: Inbox
) -> None:
    acme = await sales_member("acme")
    sales_state.apps.settings["sales"] = settings = smtp_server.settings()
    with pytest.raises(ConnectionResetError):
        await emails.send_once(
            CrashAfterSend(sales_state.platform), settings, acme.tenant_id, "outreach:1", HELLO
        )
    assert len(smtp_server.arrived) == 1

    retried = await emails.send_once(
        sales_state.platform, settings, acme.tenant_id, "outreach:1", HELLO
    )
    again = await emails.send_once(
        sales_state.platform, settings, acme.tenant_id, "outreach:1", HELLO
    )
    assert (retried["status"], retried["smtp_code"], retried["sent_at"]) == (
        "unconfirmed",
        None,
        None,
    )
    assert again == retried
    assert len(smtp_server.arrived) == 1

    # A person checks the mail did not arrive, and resends it: the very same message. Two
    # people clicking at once send it once.
    both = await asyncio.gather(
        *(acme.client.post(f"{SALES}/emails/{retried['id']}/resend") for _ in range(2))
    )
    assert sorted(r.status_code for r in both) == [200, 409], [r.text for r in both]
    [resent] = [r for r in both if r.status_code == 200]
    assert {k: resent.json()[k] for k in ("status", "attempts", "smtp_code", "message_id")} == {
        "status": "sent",
        "attempts": 2,
        "smtp_code": 250,
        "message_id": retried["message_id"],
    }
    assert [a.raw for a in smtp_server.arrived] == [smtp_server.arrived[0].raw] * 2
    twice = await acme.client.post(f"{SALES}/emails/{retried['id']}/resend")
    assert (twice.status_code, twice.json()["error"]["message"]) == (
        409,
        f"email {retried['id']} is sent; only an unconfirmed or failed email is resent",
    )
    entries = (await acme.client.get("/api/v1/audit")).json()["items"]
    assert [
        {k: e[k] for k in ("actor", "action", "target_kind", "target_id", "details")}
        for e in entries
        if e["action"].startswith("sales.")
    ] == [
        {
            "actor": "admin@acme.example",
            "action": "sales.email_resent",
            "target_kind": "sales_email",
            "target_id": retried["id"],
            "details": {"was": "unconfirmed", "message_id": retried["message_id"]},
        }
    ]


async def test_a_follow_up_joins_the_thread(
    sales_state: ApiState, sales_member: Join, smtp_server: Inbox
) -> None:
    acme = await sales_member("acme")
    settings = smtp_server.settings()
    first = await emails.send_once(sales_state.platform, settings, acme.tenant_id, "seq:1", HELLO)
    follow = Outgoing(
        HELLO.to, "Re: Your trial of Batonflow", "Any questions?", in_reply_to=first["id"]
    )
    second = await emails.send_once(sales_state.platform, settings, acme.tenant_id, "seq:2", follow)
    third = await emails.send_once(
        sales_state.platform,
        settings,
        acme.tenant_id,
        "seq:3",
        Outgoing(HELLO.to, "Re: Your trial of Batonflow", "Last nudge", in_reply_to=second["id"]),
    )
    ids = [first["message_id"], second["message_id"]]
    assert [(e["thread_id"], e["in_reply_to"], e["references"]) for e in (second, third)] == [
        (first["message_id"], ids[0], ids[0]),
        (first["message_id"], ids[1], " ".join(ids)),
    ]
    headers = [
        (str(a.message["In-Reply-To"]), str(a.message["References"]))
        for a in smtp_server.arrived[1:]
    ]
    assert headers == [(ids[0], ids[0]), (ids[1], " ".join(ids))]

    with pytest.raises(NotFound, match="in_reply_to names email nope"):
        await emails.send_once(
            sales_state.platform,
            settings,
            acme.tenant_id,
            "seq:4",
            Outgoing(HELLO.to, "x", "y", in_reply_to="nope"),
        )
    other = await sales_member("globex")
    with pytest.raises(NotFound):  # another tenant's email is not there to follow up
        await emails.send_once(
            sales_state.platform,
            settings,
            other.tenant_id,
            "seq:1",
            Outgoing(HELLO.to, "x", "y", in_reply_to=first["id"]),
        )


async def test_failures_name_the_server_and_a_retry_sends_again(
    sales_state: ApiState, sales_member: Join, smtp_server: Inbox
) -> None:
    acme = await sales_member("acme")
    server = f"127.0.0.1:{smtp_server.port}"
    smtp_server.refuse.add("ada@client.example")
    refused = await emails.send_once(
        sales_state.platform, smtp_server.settings(), acme.tenant_id, "k1", HELLO
    )
    assert (refused["status"], refused["smtp_code"], refused["smtp_message"]) == (
        "failed",
        550,
        f"the SMTP server {server} refused every recipient: "
        "ada@client.example (550 5.1.1 no such mailbox here)",
    )
    smtp_server.refuse.clear()
    retried = await emails.send_once(
        sales_state.platform, smtp_server.settings(), acme.tenant_id, "k1", HELLO
    )
    assert (retried["status"], retried["attempts"], retried["message_id"]) == (
        "sent",
        2,
        refused["message_id"],
    )

    wrong = smtp_server.settings(smtp_username="sales", smtp_password="guess")
    denied = await emails.send_once(sales_state.platform, wrong, acme.tenant_id, "k2", HELLO)
    assert (denied["status"], denied["smtp_code"]) == ("failed", 535)
    assert denied["smtp_message"].startswith(
        f"the SMTP server {server} refused the login of 'sales'; check "
        "BATONFLOW_SALES_SMTP_USERNAME and BATONFLOW_SALES_SMTP_PASSWORD: 535"
    )
    right = smtp_server.settings(smtp_username=LOGIN[0], smtp_password=LOGIN[1])
    assert (await emails.send_once(sales_state.platform, right, acme.tenant_id, "k2", HELLO))[
        "status"
    ] == "sent"

    closed = smtp_server.settings(smtp_port=1)
    down = await emails.send_once(sales_state.platform, closed, acme.tenant_id, "k3", HELLO)
    assert (down["status"], down["smtp_code"]) == ("failed", None)
    assert down["smtp_message"].startswith("cannot connect to the SMTP server 127.0.0.1:1")

    tls = smtp_server.settings(smtp_security="starttls")
    plain = await emails.send_once(sales_state.platform, tls, acme.tenant_id, "k4", HELLO)
    assert (plain["status"], plain["smtp_message"]) == (
        "failed",
        f"cannot connect to the SMTP server {server}: "
        "SMTP STARTTLS extension not supported by server.",
    )
    assert len(smtp_server.arrived) == 2


async def test_tls_from_the_start_and_starttls(
    sales_state: ApiState,
    sales_member: Join,
    tls_servers: tuple[Inbox, Inbox],
    certificate: Certificate,
) -> None:
    acme = await sales_member("acme")
    implicit, upgraded = tls_servers
    trusted = {"smtp_ca_file": str(certificate.cert)}
    db = sales_state.platform
    over_tls = implicit.settings(smtp_security="tls", **trusted)
    assert (await emails.send_once(db, over_tls, acme.tenant_id, "t1", HELLO))["status"] == "sent"
    starttls = upgraded.settings(smtp_security="starttls", **trusted)
    assert (await emails.send_once(db, starttls, acme.tenant_id, "t2", HELLO))["status"] == "sent"
    assert [len(implicit.arrived), len(upgraded.arrived)] == [1, 1]

    untrusted = implicit.settings(smtp_security="tls")
    refused = await emails.send_once(db, untrusted, acme.tenant_id, "t3", HELLO)
    assert (refused["status"], refused["smtp_message"]) == (
        "failed",
        IsStr(
            regex=rf"^cannot connect to the SMTP server 127\.0\.0\.1:{implicit.port}: "
            r".*CERTIFICATE_VERIFY_FAILED.*"
        ),
    )
    plain = upgraded.settings()  # the server insists on STARTTLS first
    refused = await emails.send_once(db, plain, acme.tenant_id, "t4", HELLO)
    assert (refused["status"], refused["smtp_code"], refused["smtp_message"]) == (
        "failed",
        530,
        f"the SMTP server 127.0.0.1:{upgraded.port} refused the sender 'sales@acme.example': "
        "530 Must issue a STARTTLS command first",
    )
    assert [len(implicit.arrived), len(upgraded.arrived)] == [1, 1]


async def test_a_refused_message_and_a_silent_server_are_failures(
    sales_state: ApiState, sales_member: Join, smtp_server: Inbox
) -> None:
    acme = await sales_member("acme")
    db = sales_state.platform
    smtp_server.reject = "554 5.7.1 message looks like spam"
    spam = await emails.send_once(db, smtp_server.settings(), acme.tenant_id, "s1", HELLO)
    assert (spam["status"], spam["smtp_code"], spam["smtp_message"]) == (
        "failed",
        554,
        f"the SMTP server 127.0.0.1:{smtp_server.port} refused the message: "
        "554 5.7.1 message looks like spam",
    )

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # never greets
        writer.close()

    mute = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = mute.sockets[0].getsockname()[1]
    slow = smtp_server.settings(smtp_port=port, smtp_timeout=0.3)
    try:
        waited = await emails.send_once(db, slow, acme.tenant_id, "s2", HELLO)
    finally:
        mute.close()
    assert (waited["status"], waited["smtp_message"]) == (
        "failed",
        IsStr(regex=rf"^cannot connect to the SMTP server 127\.0\.0\.1:{port}: .*[Tt]imed out.*"),
    )
    assert smtp_server.arrived == []


async def test_two_calls_at_once_with_one_key_send_once(
    sales_state: ApiState, sales_member: Join, smtp_server: Inbox
) -> None:
    acme = await sales_member("acme")
    settings = smtp_server.settings()
    both = await asyncio.gather(
        *(
            emails.send_once(sales_state.platform, settings, acme.tenant_id, "k", HELLO)
            for _ in "ab"
        )
    )
    assert len(smtp_server.arrived) == 1
    assert {row["id"] for row in both} == {both[0]["id"]}
    assert "sent" in {row["status"] for row in both}
    final = await emails.send_once(sales_state.platform, settings, acme.tenant_id, "k", HELLO)
    assert final["status"] == "sent"  # the exchange's outcome wins over the other's guess
