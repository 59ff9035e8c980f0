"""The sales app's records: companies, contacts, leads, the product catalog, pipelines and
their stages, deals with their line items, and each deal's stage history

Revision ID: sales_0001
Revises:
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from batonflow.store.columns import Dec, Json, UtcDateTime

revision = "sales_0001"
down_revision = None
branch_labels = ("sales",)
depends_on = "0004"


def _tenant() -> sa.Column[str]:
    return sa.Column(
        "tenant_id", sa.String(36), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "sales_companies",
        sa.Column("id", sa.String(36), primary_key=True),
        _tenant(),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("domain", sa.String(253)),
        sa.Column("industry", sa.String(100)),
        sa.Column("employees", sa.Integer),
        sa.Column("country", sa.String(2)),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("tenant_id", "name", name="uq_sales_companies_name"),
    )

    op.create_table(
        "sales_contacts",
        sa.Column("id", sa.String(36), primary_key=True),
        _tenant(),
        sa.Column(
            "company_id", sa.String(36), sa.ForeignKey("sales_companies.id", ondelete="CASCADE")
        ),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),  # lower-cased
        sa.Column("title", sa.String(200)),
        sa.Column("phone", sa.String(50)),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("tenant_id", "email", name="uq_sales_contacts_email"),
        sa.Index("ix_sales_contacts_company", "tenant_id", "company_id"),
    )

    op.create_table(
        "sales_leads",
        sa.Column("id", sa.String(36), primary_key=True),
        _tenant(),
        sa.Column("company_id", sa.String(36), sa.ForeignKey("sales_companies.id"), nullable=False),
        sa.Column("contact_id", sa.String(36), sa.ForeignKey("sales_contacts.id"), nullable=False),
        sa.Column("source", sa.String(100), nullable=False),  # web, event, referral, import, ...
        # new -> qualified | disqualified -> contacted -> converted (to a deal)
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("owner", sa.String(200)),
        sa.Column("notes", sa.Text, nullable=False),
        sa.Column("budget", Dec()),
        sa.Column("currency", sa.String(3)),
        sa.Column("score", sa.Integer),  # 0..100, set by `lead.qualify`
        sa.Column("score_reasons", Json),  # [{"rule"|"model": ..., "points": n, "why": ...}, ...]
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Index("ix_sales_leads_tenant_created", "tenant_id", "created_at", "id"),
        sa.Index("ix_sales_leads_status", "tenant_id", "status"),
    )

    op.create_table(
        "sales_products",
        sa.Column("id", sa.String(36), primary_key=True),
        _tenant(),
        sa.Column("sku", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("unit_price", Dec(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("tenant_id", "sku", name="uq_sales_products_sku"),
    )

    op.create_table(
        "sales_pipelines",
        sa.Column("id", sa.String(36), primary_key=True),
        _tenant(),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("is_default", sa.Boolean, nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("tenant_id", "name", name="uq_sales_pipelines_name"),
    )

    op.create_table(
        "sales_stages",
        sa.Column("id", sa.String(36), primary_key=True),
        _tenant(),
        sa.Column(
            "pipeline_id",
            sa.String(36),
            sa.ForeignKey("sales_pipelines.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("position", sa.Integer, nullable=False),  # 0, 1, ... in the pipeline's order
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),  # open, won, lost
        sa.Column("probability", sa.Integer, nullable=False),  # 0..100
        sa.Column("required_fields", Json, nullable=False),  # deal fields a deal needs to enter
        sa.UniqueConstraint("pipeline_id", "name", name="uq_sales_stages_name"),
        sa.Index("ix_sales_stages_pipeline", "tenant_id", "pipeline_id", "position"),
    )

    op.create_table(
        "sales_deals",
        sa.Column("id", sa.String(36), primary_key=True),
        _tenant(),
        sa.Column(
            "pipeline_id", sa.String(36), sa.ForeignKey("sales_pipelines.id"), nullable=False
        ),
        sa.Column("stage_id", sa.String(36), sa.ForeignKey("sales_stages.id"), nullable=False),
        sa.Column("company_id", sa.String(36), sa.ForeignKey("sales_companies.id"), nullable=False),
        sa.Column("contact_id", sa.String(36), sa.ForeignKey("sales_contacts.id")),
        sa.Column("lead_id", sa.String(36), sa.ForeignKey("sales_leads.id")),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("amount", Dec()),  # the sum of the lines when it has lines, else as entered
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("close_date", sa.Date),
        sa.Column("probability", sa.Integer),  # unset: the stage's
        sa.Column("owner", sa.String(200)),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Index("ix_sales_deals_tenant_created", "tenant_id", "created_at", "id"),
        sa.Index("ix_sales_deals_stage", "tenant_id", "pipeline_id", "stage_id"),
    )

    op.create_table(
        "sales_deal_lines",
        sa.Column("id", sa.String(36), primary_key=True),
        _tenant(),
        sa.Column(
            "deal_id",
            sa.String(36),
            sa.ForeignKey("sales_deals.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("product_id", sa.String(36), sa.ForeignKey("sales_products.id"), nullable=False),
        sa.Column("description", sa.String(500), nullable=False),
        sa.Column("quantity", Dec(), nullable=False),
        sa.Column("unit_price", Dec(), nullable=False),  # copied from the catalog when added
        sa.Column("discount", Dec(), nullable=False),  # a fraction: 0.15 is 15 %
        sa.UniqueConstraint("deal_id", "position", name="uq_sales_deal_lines_position"),
    )

    op.create_table(
        "sales_stage_moves",
        sa.Column("id", sa.String(36), primary_key=True),
        _tenant(),
        sa.Column(
            "deal_id",
            sa.String(36),
            sa.ForeignKey("sales_deals.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("from_stage_id", sa.String(36)),  # None: the deal was created in `to_stage_id`
        sa.Column("to_stage_id", sa.String(36), nullable=False),
        sa.Column("actor_kind", sa.String(10), nullable=False),  # user, agent
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("run_id", sa.String(36)),  # the run of the agent that moved it
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Index("ix_sales_stage_moves_deal", "tenant_id", "deal_id", "at"),
    )


def downgrade() -> None:
    op.drop_table("sales_stage_moves")
    op.drop_table("sales_deal_lines")
    op.drop_table("sales_deals")
    op.drop_table("sales_stages")
    op.drop_table("sales_pipelines")
    op.drop_table("sales_products")
    op.drop_table("sales_leads")
    op.drop_table("sales_contacts")
    op.drop_table("sales_companies")
