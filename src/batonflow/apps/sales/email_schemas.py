"""The email log's API shapes."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class AttachmentInfo(BaseModel):
    name: str
    mime: str
    size: int


class Email(BaseModel):
    id: str
    idempotency_key: str
    message_id: str
    thread_id: str
    in_reply_to: str | None
    references: str
    from_addr: str
    to_addrs: list[str]
    subject: str
    body: str
    attachments: list[AttachmentInfo]
    status: str  # sending, sent, failed, unconfirmed
    attempts: int
    smtp_code: int | None
    smtp_message: str | None
    lead_id: str | None
    deal_id: str | None
    invoice_id: str | None
    created_at: datetime
    sent_at: datetime | None
    replied_at: datetime | None
    delivered_at: datetime | None  # when the local SMTP catcher received it


class Reply(BaseModel):
    id: str
    email_id: str
    thread_id: str
    message_id: str
    from_addr: str
    subject: str
    body: str
    matched_by: str  # headers, subject
    received_at: datetime


class Thread(BaseModel):
    thread_id: str
    replied: bool
    emails: list[Email]
    replies: list[Reply]


class EmailDetail(Email):
    raw: str  # the message as sent
    delivered_raw: str | None  # the message as the local catcher received it
    thread: Thread


class EmailPage(BaseModel):
    items: list[Email]
    next_cursor: str | None


class NewAttachment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=255)
    mime: str = Field(description="type/subtype, like application/pdf")
    content_base64: str


class NewEmail(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(
        min_length=1, max_length=200, description="the idempotency key: one email per key"
    )
    to: list[str] = Field(min_length=1)
    subject: str = Field(min_length=1, max_length=900)
    body: str
    lead_id: str | None = None
    deal_id: str | None = None
    invoice_id: str | None = None
    in_reply_to: str | None = Field(None, description="the id of the email this follows up")
    attachments: list[NewAttachment] = []
