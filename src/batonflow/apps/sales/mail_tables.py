"""The sales app's email log (SQLAlchemy Core), on the records' `metadata`.

    sales_emails         every outgoing email: its idempotency key (one email per key and
                         tenant), its stable Message-ID, its thread (the first Message-ID of the
                         thread), In-Reply-To and References, from, to, subject, body, the raw
                         message as sent, its status and the SMTP server's reply, the lead, deal
                         or invoice it is about; when a catcher saw it arrive and what arrived
    sales_email_replies  inbound replies, each recorded against the email and thread it answers

Status: `sending` (committed before the SMTP exchange) -> `sent` (with the server's reply), or
`failed` (the server refused, or no connection: a retry sends again), or `unconfirmed` (a retry
found it still `sending`: it may have gone out; only a person resends it).
"""

from __future__ import annotations

import sqlalchemy as sa

from batonflow.apps.sales.tables import metadata, tenant_column
from batonflow.store.columns import Json, UtcDateTime

STATUSES = ("sending", "sent", "failed", "unconfirmed")

emails = sa.Table(
    "sales_emails",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    tenant_column(),
    sa.Column("idempotency_key", sa.String(200), nullable=False),
    sa.Column("message_id", sa.String(255), nullable=False),  # with its angle brackets
    sa.Column("thread_id", sa.String(255), nullable=False),  # the thread's first Message-ID
    sa.Column("in_reply_to", sa.String(255)),
    sa.Column("references", sa.Text, nullable=False),  # Message-IDs, space separated
    sa.Column("from_addr", sa.String(320), nullable=False),
    sa.Column("to_addrs", Json, nullable=False),  # ["a@example.com", ...]
    sa.Column("subject", sa.String(998), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("attachments", Json, nullable=False),  # [{"name", "mime", "size"}, ...]
    sa.Column("raw", sa.Text, nullable=False),  # the message as sent (a resend sends it again)
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),  # SMTP exchanges begun
    sa.Column("smtp_code", sa.Integer),
    sa.Column("smtp_message", sa.Text),
    sa.Column("lead_id", sa.String(36), sa.ForeignKey("sales_leads.id", ondelete="SET NULL")),
    sa.Column("deal_id", sa.String(36), sa.ForeignKey("sales_deals.id", ondelete="SET NULL")),
    sa.Column("invoice_id", sa.String(36)),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("sent_at", UtcDateTime()),
    sa.Column("replied_at", UtcDateTime()),  # the first inbound reply to this email
    sa.Column("delivered_at", UtcDateTime()),  # when the local catcher received it
    sa.Column("delivered_raw", sa.Text),  # what the catcher received
    sa.UniqueConstraint("tenant_id", "idempotency_key", name="uq_sales_emails_key"),
    sa.UniqueConstraint("tenant_id", "message_id", name="uq_sales_emails_message_id"),
    sa.Index("ix_sales_emails_tenant_created", "tenant_id", "created_at", "id"),
    sa.Index("ix_sales_emails_thread", "tenant_id", "thread_id"),
    sa.Index("ix_sales_emails_message_id", "message_id"),
)

replies = sa.Table(
    "sales_email_replies",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    tenant_column(),
    sa.Column(
        "email_id",
        sa.String(36),
        sa.ForeignKey("sales_emails.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("thread_id", sa.String(255), nullable=False),
    sa.Column("message_id", sa.String(255), nullable=False),  # the reply's own Message-ID
    sa.Column("from_addr", sa.String(320), nullable=False),
    sa.Column("subject", sa.String(998), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("raw", sa.Text, nullable=False),
    sa.Column("matched_by", sa.String(10), nullable=False),  # headers, subject
    sa.Column("received_at", UtcDateTime(), nullable=False),
    sa.UniqueConstraint("tenant_id", "message_id", name="uq_sales_email_replies_message_id"),
    sa.Index("ix_sales_email_replies_thread", "tenant_id", "thread_id"),
)
