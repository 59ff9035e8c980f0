"""The email log's API: send an email once under a key, list and read emails with their
threads, resend an unconfirmed or failed one (audit-logged), and record an inbound reply
(a raw RFC 822 message). Reads need `runs:read`, the rest `runs:write`; another tenant's email
is a 404."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, status

from batonflow.api.cursors import decode_cursor, encode_cursor
from batonflow.api.deps import PageSize, State, client_address, require
from batonflow.apps.sales import emails, inbound, threads
from batonflow.apps.sales.email_schemas import (
    Email,
    EmailDetail,
    EmailPage,
    NewEmail,
    Reply,
    Thread,
)
from batonflow.apps.sales.settings import SalesSettings
from batonflow.audit import log as audit
from batonflow.auth.scopes import Principal
from batonflow.errors import InvalidInput
from batonflow.llm.leaks import LeakCheck
from batonflow.store.db import Conn

router = APIRouter(tags=["sales"])
Reader = Annotated[Principal, require("runs:read")]
Writer = Annotated[Principal, require("runs:write")]
RAW_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "message/rfc822": {"schema": {"type": "string"}},
            "text/plain": {"schema": {"type": "string"}},
        },
    }
}


def _settings(state: State) -> SalesSettings:
    settings: SalesSettings = state.apps.settings_of("sales")
    return settings


def _attachments(body: NewEmail) -> list[emails.Attachment]:
    found = []
    for each in body.attachments:
        try:
            data = base64.b64decode(each.content_base64, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInput(f"attachment {each.name!r}: content_base64 is not base64") from None
        found.append(emails.Attachment(each.name, each.mime, data))
    return found


@router.post("/emails", response_model=Email, status_code=status.HTTP_201_CREATED)
async def send_email(state: State, caller: Writer, body: NewEmail) -> Email:
    """Send an email once under `key`: the same key again returns the same email, unsent."""
    row = await emails.send_once(
        state.platform,
        _settings(state),
        caller.tenant_id,
        body.key,
        emails.Outgoing(
            to=body.to,
            subject=body.subject,
            body=body.body,
            lead_id=body.lead_id,
            deal_id=body.deal_id,
            invoice_id=body.invoice_id,
            in_reply_to=body.in_reply_to,
            attachments=_attachments(body),
        ),
        leaks=LeakCheck.of(state.settings),
    )
    return Email.model_validate(row)


@router.get("/emails", response_model=EmailPage)
async def list_emails(
    state: State,
    caller: Reader,
    limit: PageSize,
    cursor: Annotated[str | None, Query(description="the `next_cursor` of the last page")] = None,
    lead_id: str | None = None,
    deal_id: str | None = None,
    invoice_id: str | None = None,
    thread_id: str | None = None,
    status: str | None = None,
) -> EmailPage:
    """The tenant's emails, newest first, a page at a time."""
    after = decode_cursor(cursor) if cursor else None
    rows = await state.query(
        lambda conn: threads.emails_page(
            conn,
            caller.tenant_id,
            limit=limit,
            after=after,
            lead_id=lead_id,
            deal_id=deal_id,
            invoice_id=invoice_id,
            thread_id=thread_id,
            status=status,
        )
    )
    last = rows[-1] if len(rows) == limit else None
    return EmailPage(
        items=[Email.model_validate(row) for row in rows],
        next_cursor=encode_cursor(last["created_at"], last["id"]) if last else None,
    )


@router.get("/emails/{email_id}", response_model=EmailDetail)
async def get_email(state: State, caller: Reader, email_id: str) -> EmailDetail:
    """An email, as sent and as delivered, with its whole thread."""

    async def work(conn: Conn) -> dict[str, Any]:
        row = await threads.get_email(conn, caller.tenant_id, email_id)
        found = await threads.thread(conn, caller.tenant_id, row["thread_id"])
        replied = await threads.thread_replied(conn, caller.tenant_id, row["thread_id"])
        return row | {"thread": found | {"thread_id": row["thread_id"], "replied": replied}}

    row = await state.query(work)
    row["thread"] = Thread.model_validate(row["thread"])
    return EmailDetail.model_validate(row)


@router.post("/emails/{email_id}/resend", response_model=Email)
async def resend_email(state: State, caller: Writer, request: Request, email_id: str) -> Email:
    """Send an unconfirmed or failed email again (the same message and Message-ID), once a
    person knows it did not arrive; the audit log records who did."""
    row = await emails.resend(
        state.platform,
        _settings(state),
        caller.tenant_id,
        email_id,
        audit.Actor.of(caller, client_address(request)),
    )
    return Email.model_validate(row)


@router.post(
    "/emails/inbound",
    response_model=Reply,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=RAW_BODY,
)
async def inbound_reply(state: State, caller: Writer, request: Request) -> Reply:
    """Record a reply (the raw RFC 822 message as the body) against the thread it answers,
    which stops the thread's sequences; a message that matches no thread is a 422."""
    kind = request.headers.get("content-type", "message/rfc822").split(";")[0].strip().lower()
    if kind not in ("message/rfc822", "text/plain", ""):
        raise InvalidInput(f"send the raw message as message/rfc822 or text/plain, not {kind}")
    raw = await request.body()
    row = await state.transact(
        lambda conn: inbound.record_reply(conn, caller.tenant_id, raw, state.now())
    )
    return Reply.model_validate(row)
