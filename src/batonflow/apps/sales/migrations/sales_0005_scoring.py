"""The sales app's lead scoring rules, versioned per tenant

Revision ID: sales_0005
Revises: sales_0001
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from batonflow.store.columns import Json, UtcDateTime

revision = "sales_0005"
down_revision = "sales_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sales_scoring_rules",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "tenant_id",
            sa.String(36),
            sa.ForeignKey("tenants.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("rules", Json, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("tenant_id", "version", name="uq_sales_scoring_rules_version"),
    )


def downgrade() -> None:
    op.drop_table("sales_scoring_rules")
