"""The sales app's email log: every outgoing email under its idempotency key, with its
Message-ID, thread, status and the SMTP server's reply, and inbound replies against the thread

Revision ID: sales_0002
Revises: sales_0001
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from batonflow.store.columns import Json, UtcDateTime

revision = "sales_0002"
down_revision = "sales_0001"
branch_labels = None
depends_on = None


def _tenant() -> sa.Column[str]:
    return sa.Column(
        "tenant_id", sa.String(36), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "sales_emails",
        sa.Column("id", sa.String(36), primary_key=True),
        _tenant(),
        sa.Column("idempotency_key", sa.String(200), nullable=False),
        sa.Column("message_id", sa.String(255), nullable=False),
        sa.Column("thread_id", sa.String(255), nullable=False),
        sa.Column("in_reply_to", sa.String(255)),
        sa.Column("references", sa.Text, nullable=False),
        sa.Column("from_addr", sa.String(320), nullable=False),
        sa.Column("to_addrs", Json, nullable=False),
        sa.Column("subject", sa.String(998), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("attachments", Json, nullable=False),
        sa.Column("raw", sa.Text, nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("smtp_code", sa.Integer),
        sa.Column("smtp_message", sa.Text),
        sa.Column("lead_id", sa.String(36), sa.ForeignKey("sales_leads.id", ondelete="SET NULL")),
        sa.Column("deal_id", sa.String(36), sa.ForeignKey("sales_deals.id", ondelete="SET NULL")),
        sa.Column("invoice_id", sa.String(36)),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("sent_at", UtcDateTime()),
        sa.Column("replied_at", UtcDateTime()),
        sa.Column("delivered_at", UtcDateTime()),
        sa.Column("delivered_raw", sa.Text),
        sa.UniqueConstraint("tenant_id", "idempotency_key", name="uq_sales_emails_key"),
        sa.UniqueConstraint("tenant_id", "message_id", name="uq_sales_emails_message_id"),
        sa.Index("ix_sales_emails_tenant_created", "tenant_id", "created_at", "id"),
        sa.Index("ix_sales_emails_thread", "tenant_id", "thread_id"),
        sa.Index("ix_sales_emails_message_id", "message_id"),
    )

    op.create_table(
        "sales_email_replies",
        sa.Column("id", sa.String(36), primary_key=True),
        _tenant(),
        sa.Column(
            "email_id",
            sa.String(36),
            sa.ForeignKey("sales_emails.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("thread_id", sa.String(255), nullable=False),
        sa.Column("message_id", sa.String(255), nullable=False),
        sa.Column("from_addr", sa.String(320), nullable=False),
        sa.Column("subject", sa.String(998), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("raw", sa.Text, nullable=False),
        sa.Column("matched_by", sa.String(10), nullable=False),
        sa.Column("received_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("tenant_id", "message_id", name="uq_sales_email_replies_message_id"),
        sa.Index("ix_sales_email_replies_thread", "tenant_id", "thread_id"),
    )


def downgrade() -> None:
    op.drop_table("sales_email_replies")
    op.drop_table("sales_emails")
