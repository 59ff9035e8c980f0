"""The email log through the API, on SQLite and PostgreSQL: send under a key, list with filters
a page at a time, read an email with its thread, record inbound replies against their thread
(by headers, by subject and sender), and another tenant's emails are not there."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from dirty_equals import IsDatetime, IsStr

from batonflow.api.deps import ApiState
from batonflow.apps.sales import tables, threads
from batonflow.ids import new_id
from batonflow.store.db import Conn
from tests.apps.sales.conftest import SALES, Join, Member
from tests.apps.sales.smtp_fixtures import Inbox, smtp_server

__all__ = ["smtp_server"]
E = f"{SALES}/emails"


async def a_lead(state: ApiState, tenant_id: str) -> str:
    """A lead of the tenant (its company and contact), straight in the tables."""
    now = datetime.now(UTC)
    company, contact, lead = new_id(), new_id(), new_id()

    async def work(conn: Conn) -> None:
        await conn.execute(
            sa.insert(tables.companies).values(
                id=company, tenant_id=tenant_id, name="Client Co", created_at=now, updated_at=now
            )
        )
        await conn.execute(
            sa.insert(tables.contacts).values(
                id=contact,
                tenant_id=tenant_id,
                company_id=company,
                name="Ada",
                email="ada@client.example",
                created_at=now,
                updated_at=now,
            )
        )
        await conn.execute(
            sa.insert(tables.leads).values(
                id=lead,
                tenant_id=tenant_id,
                company_id=company,
                contact_id=contact,
                source="web",
                status="new",
                notes="",
                created_at=now,
                updated_at=now,
            )
        )

    await state.transact(work)
    return lead


async def send(member: Member, key: str, **fields: Any) -> dict[str, Any]:
    body = {"key": key, "to": ["ada@client.example"], "subject": "Hello", "body": "Hi"} | fields
    sent = await member.client.post(E, json=body)
    assert sent.status_code == 201, sent.text
    reply: dict[str, Any] = sent.json()
    return reply


def reply_to(message_id: str, *, subject: str = "Re: Hello", refs: str = "") -> bytes:
    headers = [
        "From: Ada <ada@client.example>",
        "To: sales@acme.example",
        f"Subject: {subject}",
        "Message-ID: <answer-1@client.example>",
    ]
    if message_id:
        headers.append(f"In-Reply-To: {message_id}")
    if refs:
        headers.append(f"References: {refs}")
    return ("\r\n".join(headers) + "\r\n\r\nYes please, call me Tuesday.\r\n").encode()


async def test_send_list_and_read_emails(
    sales_state: ApiState, sales_member: Join, smtp_server: Inbox
) -> None:
    sales_state.apps.settings["sales"] = smtp_server.settings()
    acme = await sales_member("acme")
    lead = await a_lead(sales_state, acme.tenant_id)
    first = await send(acme, "k1", lead_id=lead)
    assert first == {
        "id": IsStr(),
        "idempotency_key": "k1",
        "message_id": IsStr(regex=r"^<[0-9a-f]{40}@acme\.example>$"),
        "thread_id": first["message_id"],
        "in_reply_to": None,
        "references": "",
        "from_addr": "Acme Sales <sales@acme.example>",
        "to_addrs": ["ada@client.example"],
        "subject": "Hello",
        "body": "Hi",
        "attachments": [],
        "status": "sent",
        "attempts": 1,
        "smtp_code": 250,
        "smtp_message": "2.0.0 queued as m1",
        "lead_id": lead,
        "deal_id": None,
        "invoice_id": None,
        "created_at": IsDatetime(iso_string=True),
        "sent_at": IsDatetime(iso_string=True),
        "replied_at": None,
        "delivered_at": None,
    }
    assert await send(acme, "k1", lead_id=lead) == first  # the same key: the same email
    second = await send(
        acme,
        "k2",
        subject="Re: Hello",
        in_reply_to=first["id"],
        attachments=[{"name": "a.txt", "mime": "text/plain", "content_base64": "aGk="}],
    )
    third = await send(acme, "k3", invoice_id="inv-9")
    assert len(smtp_server.arrived) == 3

    page = (await acme.client.get(E, params={"limit": 2})).json()
    assert [e["id"] for e in page["items"]] == [third["id"], second["id"]]
    rest = (await acme.client.get(E, params={"limit": 2, "cursor": page["next_cursor"]})).json()
    assert rest == {"items": [first], "next_cursor": None}
    filters: list[tuple[dict[str, str], list[str]]] = [
        ({"lead_id": lead}, [first["id"]]),
        ({"invoice_id": "inv-9"}, [third["id"]]),
        ({"thread_id": first["thread_id"]}, [second["id"], first["id"]]),
        ({"status": "sent"}, [third["id"], second["id"], first["id"]]),
        ({"status": "failed"}, []),
    ]
    for params, ids in filters:
        found = (await acme.client.get(E, params=params)).json()["items"]
        assert [e["id"] for e in found] == ids, params

    detail = (await acme.client.get(f"{E}/{second['id']}")).json()
    assert detail == second | {
        "raw": IsStr(regex=r"(?s).*In-Reply-To: <.*attachment; filename=\"a\.txt\".*"),
        "delivered_raw": None,
        "thread": {
            "thread_id": first["message_id"],
            "replied": False,
            "emails": [first, second],
            "replies": [],
        },
    }

    bad = await acme.client.get(E, params={"status": "lost"})
    assert (bad.status_code, bad.json()["error"]["message"]) == (
        422,
        "status 'lost' is not an email status; use one of "
        "('sending', 'sent', 'failed', 'unconfirmed')",
    )
    reused = await acme.client.post(
        E, json={"key": "k1", "to": ["bob@client.example"], "subject": "Other", "body": "x"}
    )
    assert (reused.status_code, reused.json()["error"]["message"]) == (
        409,
        f"the idempotency key 'k1' was used for another email ({first['id']}); "
        "use a new key for a new email",
    )
    unknown = await acme.client.post(
        E, json={"key": "k9", "to": ["a@b.example"], "subject": "S", "body": "", "lead_id": "x"}
    )
    assert (unknown.status_code, unknown.json()["error"]["message"]) == (
        404,
        "lead x not found; link the email to one of this tenant's",
    )
    extra = await acme.client.post(
        E, json={"key": "k9", "to": ["a@b.example"], "subject": "S", "body": "", "status": "sent"}
    )
    assert extra.status_code == 422  # a field the caller may not set
    invalid = await acme.client.post(
        E, json={"key": "k9", "to": ["nobody"], "subject": "S", "body": ""}
    )
    assert (invalid.status_code, invalid.json()["error"]["message"]) == (
        422,
        "'nobody' is not an email address; write it as name@domain",
    )

    globex = await sales_member("globex")
    for path in (f"{E}/{first['id']}", f"{E}/{first['id']}/resend"):
        call = globex.client.get if not path.endswith("resend") else globex.client.post
        assert (await call(path)).status_code == 404
    assert (await globex.client.get(E)).json() == {"items": [], "next_cursor": None}
    # Another tenant may use the same key: its own email, with its own Message-ID.
    theirs = await send(globex, "k1")
    assert theirs["message_id"] != first["message_id"]


async def test_inbound_replies_are_matched_to_their_thread(
    sales_state: ApiState, sales_member: Join, smtp_server: Inbox
) -> None:
    sales_state.apps.settings["sales"] = smtp_server.settings()
    acme = await sales_member("acme")
    first = await send(acme, "k1")
    follow = await send(acme, "k2", subject="Re: Hello", in_reply_to=first["id"])
    other = await send(acme, "k3", subject="Pricing")

    async def replied(thread_id: str) -> bool:
        return await sales_state.query(
            lambda conn: threads.thread_replied(conn, acme.tenant_id, thread_id)
        )

    assert not await replied(first["thread_id"])
    raw = reply_to(follow["message_id"], refs=f"{first['message_id']} {follow['message_id']}")
    got = await acme.client.post(
        f"{E}/inbound", content=raw, headers={"content-type": "message/rfc822"}
    )
    assert got.status_code == 201, got.text
    assert got.json() == {
        "id": IsStr(),
        "email_id": follow["id"],
        "thread_id": first["message_id"],
        "message_id": "<answer-1@client.example>",
        "from_addr": "ada@client.example",
        "subject": "Re: Hello",
        "body": "Yes please, call me Tuesday.\n",
        "matched_by": "headers",
        "received_at": IsDatetime(iso_string=True),
    }
    again = await acme.client.post(f"{E}/inbound", content=raw)  # a webhook's retry
    assert (again.status_code, again.json()) == (201, got.json())
    assert await replied(first["thread_id"])
    assert not await replied(other["thread_id"])
    thread = (await acme.client.get(f"{E}/{first['id']}")).json()["thread"]
    assert (thread["replied"], [r["id"] for r in thread["replies"]]) == (True, [got.json()["id"]])
    assert (await acme.client.get(f"{E}/{follow['id']}")).json()["replied_at"] is not None

    # A reply to the reply (its In-Reply-To names the reply) lands in the same thread.
    answer = reply_to("<answer-1@client.example>").replace(
        b"Message-ID: <answer-1", b"Message-ID: <answer-4"
    )
    deeper = await acme.client.post(f"{E}/inbound", content=answer)
    assert (deeper.status_code, deeper.json()["email_id"], deeper.json()["thread_id"]) == (
        201,
        follow["id"],
        first["message_id"],
    )

    # A client that drops the headers: the subject (without "Re:") and the sender match.
    bare = reply_to("", subject="RE: Pricing").replace(b"answer-1", b"answer-2")
    by_subject = await acme.client.post(
        f"{E}/inbound", content=bare, headers={"content-type": "text/plain"}
    )
    assert (by_subject.status_code, by_subject.json()["matched_by"]) == (201, "subject")
    assert by_subject.json()["email_id"] == other["id"]

    stranger = reply_to("", subject="Re: Something else").replace(b"answer-1", b"answer-3")
    lost = await acme.client.post(f"{E}/inbound", content=stranger)
    assert (lost.status_code, lost.json()["error"]["message"]) == (
        422,
        "the message matches no email of this tenant: it names no In-Reply-To or References, "
        "and no email with the subject 'Something else' went to ada@client.example",
    )
    empty = await acme.client.post(f"{E}/inbound", content=b"")
    assert (empty.status_code, empty.json()["error"]["message"]) == (
        422,
        "the body is empty; send the reply as a raw RFC 822 message",
    )
    wrong = await acme.client.post(
        f"{E}/inbound", content=b"{}", headers={"content-type": "application/json"}
    )
    assert (wrong.status_code, wrong.json()["error"]["message"]) == (
        422,
        "send the raw message as message/rfc822 or text/plain, not application/json",
    )

    # Another tenant's reply cannot land in this tenant's thread.
    globex = await sales_member("globex")
    foreign = await globex.client.post(
        f"{E}/inbound", content=raw.replace(b"answer-1", b"answer-9")
    )
    assert foreign.status_code == 422
