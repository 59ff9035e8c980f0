"""The sales app's finance records (SQLAlchemy Core), on the CRM's `metadata`: contracts and
their versions, invoices with their lines and payments, each tenant's invoice number sequence,
and the dunning reminders sent or skipped. Money is `Dec` (exact decimal text).

    sales_contract_templates   a tenant's contract templates: name and template text
    sales_contracts            a deal's contract: status, current version
    sales_contract_versions    each render of a contract: the terms, who and why
    sales_invoices             an invoice: customer, number once issued, dates, status, totals
    sales_invoice_lines        an invoice's lines: quantity, unit price, discount, net
    sales_payments             payments received against an invoice
    sales_invoice_numbers      the last invoice number a tenant issued, per year
    sales_dunning_reminders    a reminder level of an invoice: sent (with its email) or skipped
"""

from __future__ import annotations

import sqlalchemy as sa

from batonflow.apps.sales.tables import metadata, tenant_column
from batonflow.store.columns import Dec, UtcDateTime

contract_templates = sa.Table(
    "sales_contract_templates",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    tenant_column(),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("body", sa.Text, nullable=False),  # Jinja2 text, rendered in the sandbox
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.UniqueConstraint("tenant_id", "name", name="uq_sales_contract_templates_name"),
)

contracts = sa.Table(
    "sales_contracts",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    tenant_column(),
    sa.Column(
        "deal_id",
        sa.String(36),
        sa.ForeignKey("sales_deals.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column(
        "template_id", sa.String(36), sa.ForeignKey("sales_contract_templates.id"), nullable=False
    ),
    sa.Column("title", sa.String(200), nullable=False),
    # draft -> in_review -> approved -> sent -> signed (in_review may go back to draft)
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),  # the current version, 1, 2, ...
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.Index("ix_sales_contracts_tenant_created", "tenant_id", "created_at", "id"),
)

contract_versions = sa.Table(
    "sales_contract_versions",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    tenant_column(),
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

invoices = sa.Table(
    "sales_invoices",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    tenant_column(),
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

invoice_lines = sa.Table(
    "sales_invoice_lines",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    tenant_column(),
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

payments = sa.Table(
    "sales_payments",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    tenant_column(),
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

invoice_numbers = sa.Table(
    "sales_invoice_numbers",
    metadata,
    tenant_column(),
    sa.Column("year", sa.Integer, nullable=False),
    sa.Column("last", sa.Integer, nullable=False),
    sa.PrimaryKeyConstraint("tenant_id", "year", name="pk_sales_invoice_numbers"),
)

dunning_reminders = sa.Table(
    "sales_dunning_reminders",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    tenant_column(),
    sa.Column(
        "invoice_id",
        sa.String(36),
        sa.ForeignKey("sales_invoices.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("level", sa.Integer, nullable=False),  # 1, 2, ... in the schedule's order
    sa.Column("due_on", sa.Date, nullable=False),  # the invoice's due date + the level's days
    sa.Column("state", sa.String(8), nullable=False),  # sent, skipped, replied
    sa.Column("email_id", sa.String(255)),  # the email sent (its id), when sent
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.UniqueConstraint("invoice_id", "level", name="uq_sales_dunning_reminders_level"),
    sa.Index("ix_sales_dunning_reminders_tenant", "tenant_id", "invoice_id"),
)
