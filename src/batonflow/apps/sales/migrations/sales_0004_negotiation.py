"""The negotiation's records: the tenant's versioned discount policy, and every offer and
counter-offer of a deal with the policy's verdict

Revision ID: sales_0004
Revises: sales_0001
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from batonflow.store.columns import Dec, Json, UtcDateTime

revision = "sales_0004"
down_revision = "sales_0003"
branch_labels = None
depends_on = None


def _tenant() -> sa.Column[str]:
    return sa.Column(
        "tenant_id", sa.String(36), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "sales_discount_policies",
        sa.Column("id", sa.String(36), primary_key=True),
        _tenant(),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("policy", Json, nullable=False),
        sa.Column("changed_by", sa.String(200), nullable=False),
        sa.Column("changed_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("tenant_id", "version", name="uq_sales_discount_policies_version"),
    )

    op.create_table(
        "sales_offers",
        sa.Column("id", sa.String(36), primary_key=True),
        _tenant(),
        sa.Column(
            "deal_id",
            sa.String(36),
            sa.ForeignKey("sales_deals.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("round", sa.Integer, nullable=False),
        sa.Column("party", sa.String(10), nullable=False),
        sa.Column("action", sa.String(10), nullable=False),
        sa.Column("terms", Json, nullable=False),
        sa.Column("discount", Dec(), nullable=False),
        sa.Column("net_amount", Dec(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("reasoning", sa.Text, nullable=False),
        sa.Column("reply", sa.Text, nullable=False),
        sa.Column("verdict", sa.String(20), nullable=False),
        sa.Column("verdict_reasons", Json, nullable=False),
        sa.Column("role_needed", sa.String(20)),
        sa.Column("policy_version", sa.Integer, nullable=False),
        sa.Column("approved_by", sa.String(200)),
        sa.Column("approved_at", UtcDateTime()),
        sa.Column("run_id", sa.String(36)),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("deal_id", "round", "party", "action", name="uq_sales_offers_round"),
        sa.Index("ix_sales_offers_deal", "tenant_id", "deal_id", "round"),
    )


def downgrade() -> None:
    op.drop_table("sales_offers")
    op.drop_table("sales_discount_policies")
