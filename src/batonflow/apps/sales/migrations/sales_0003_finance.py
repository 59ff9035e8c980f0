"""The sales app's finance records: contract templates, contracts and their versions,
invoices with their lines and payments, the per-tenant invoice number sequence, and dunning
reminders

Revision ID: sales_0003
Revises: sales_0001
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from batonflow.store.columns import Dec, UtcDateTime

revision = "sales_0003"
down_revision = "sales_0002"
branch_labels = None
depends_on = None


def _tenant() -> sa.Column[str]:
    return sa.Column(
        "tenant_id", sa.String(36), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "sales_contract_templates",
        sa.Column("id", sa.String(36), primary_key=True),
        _tenant(),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("body", sa.Text, nullable=False),  # Jinja2 text, rendered in the sandbox
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("tenant_id", "name", name="uq_sales_contract_templates_name"),
    )

    op.create_table(
        "sales_contracts",
        sa.Column("id", sa.String(36), primary_key=True),
        _tenant(),
        sa.Column(
            "deal_id",
            sa.String(36),
            sa.ForeignKey("sales_deals.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "template_id",
            sa.String(36),
            sa.ForeignKey("sales_contract_templates.id"),
            nullable=False,
        ),
        sa.Column("title", sa.String(200), nullable=False),
        # draft -> in_review -> approved -> sent -> signed (in_review may go back to draft)
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),  # the current version, 1, 2, ...
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Index("ix_sales_contracts_tenant_created", "tenant_id", "created_at", "id"),
    )

    op.create_table(
        "sales_contract_versions",
        sa.Column("id", sa.String(36), primary_key=True),
        _tenant(),
        sa.Column(
            "contract_id",
            sa.String(36),
            sa.ForeignKey("sales_contracts.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("terms", sa.Text, nullable=False),  # the rendered contract text
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("contract_id", "version", name="uq_sales_contract_versions_version"),
    )

    op.create_table(
        "sales_invoices",
        sa.Column("id", sa.String(36), primary_key=True),
        _tenant(),
        sa.Column("deal_id", sa.String(36), sa.ForeignKey("sales_deals.id")),
        sa.Column("company_id", sa.String(36), sa.ForeignKey("sales_companies.id"), nullable=False),
        sa.Column("number", sa.String(32)),  # INV-2026-0001; None while a draft
        sa.Column("currency", sa.String(3), nullable=False),
        # draft -> sent -> paid | overdue -> paid; draft, sent or overdue -> void
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("terms_days", sa.Integer, nullable=False),  # due this many days after issue
        sa.Column("issue_date", sa.Date),
        sa.Column("due_date", sa.Date),
        sa.Column("tax_rate", Dec(), nullable=False),  # a fraction: 0.075 is 7.5 %
        sa.Column("subtotal", Dec(), nullable=False),
        sa.Column("tax", Dec(), nullable=False),
        sa.Column("total", Dec(), nullable=False),
        sa.Column("paid", Dec(), nullable=False),
        sa.Column("notes", sa.Text, nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("tenant_id", "number", name="uq_sales_invoices_number"),
        sa.Index("ix_sales_invoices_tenant_created", "tenant_id", "created_at", "id"),
        sa.Index("ix_sales_invoices_status", "tenant_id", "status", "due_date"),
    )

    op.create_table(
        "sales_invoice_lines",
        sa.Column("id", sa.String(36), primary_key=True),
        _tenant(),
        sa.Column(
            "invoice_id",
            sa.String(36),
            sa.ForeignKey("sales_invoices.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("product_id", sa.String(36), sa.ForeignKey("sales_products.id")),
        sa.Column("description", sa.String(500), nullable=False),
        sa.Column("quantity", Dec(), nullable=False),
        sa.Column("unit_price", Dec(), nullable=False),
        sa.Column("discount", Dec(), nullable=False),  # a fraction: 0.15 is 15 %
        sa.Column("net", Dec(), nullable=False),  # money.line_net of the above
        sa.UniqueConstraint("invoice_id", "position", name="uq_sales_invoice_lines_position"),
    )

    op.create_table(
        "sales_payments",
        sa.Column("id", sa.String(36), primary_key=True),
        _tenant(),
        sa.Column(
            "invoice_id",
            sa.String(36),
            sa.ForeignKey("sales_invoices.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("amount", Dec(), nullable=False),
        sa.Column("paid_on", sa.Date, nullable=False),
        sa.Column("reference", sa.String(200), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Index("ix_sales_payments_invoice", "tenant_id", "invoice_id", "created_at"),
    )

    op.create_table(
        "sales_invoice_numbers",
        _tenant(),
        sa.Column("year", sa.Integer, nullable=False),
        sa.Column("last", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "year", name="pk_sales_invoice_numbers"),
    )

    op.create_table(
        "sales_dunning_reminders",
        sa.Column("id", sa.String(36), primary_key=True),
        _tenant(),
        sa.Column(
            "invoice_id",
            sa.String(36),
            sa.ForeignKey("sales_invoices.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("level", sa.Integer, nullable=False),  # 1, 2, ... in the schedule's order
        sa.Column("due_on", sa.Date, nullable=False),  # the invoice's due date + the level's days
        sa.Column("state", sa.String(8), nullable=False),  # sent, skipped
        sa.Column("email_id", sa.String(255)),  # the email sent (its id), when sent
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("invoice_id", "level", name="uq_sales_dunning_reminders_level"),
        sa.Index("ix_sales_dunning_reminders_tenant", "tenant_id", "invoice_id"),
    )


def downgrade() -> None:
    op.drop_table("sales_dunning_reminders")
    op.drop_table("sales_invoice_numbers")
    op.drop_table("sales_payments")
    op.drop_table("sales_invoice_lines")
    op.drop_table("sales_invoices")
    op.drop_table("sales_contract_versions")
    op.drop_table("sales_contracts")
    op.drop_table("sales_contract_templates")
