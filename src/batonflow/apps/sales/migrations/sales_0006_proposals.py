"""The sales agent's records: proposals of deals, and the answers of agent calls by call key

Revision ID: sales_0006
Revises: sales_0001
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from batonflow.store.columns import Json, UtcDateTime

revision = "sales_0006"
down_revision = "sales_0005"
branch_labels = None
depends_on = None


def _tenant() -> sa.Column[str]:
    return sa.Column(
        "tenant_id", sa.String(36), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "sales_proposals",
        sa.Column("id", sa.String(36), primary_key=True),
        _tenant(),
        sa.Column(
            "deal_id",
            sa.String(36),
            sa.ForeignKey("sales_deals.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("lines", Json, nullable=False),
        sa.Column("totals", Json, nullable=False),
        sa.Column("text", Json, nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("model", sa.String(200)),
        sa.Column("run_id", sa.String(36)),
        sa.Column("call_key", sa.String(300), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("tenant_id", "deal_id", "version", name="uq_sales_proposals_version"),
        sa.UniqueConstraint("tenant_id", "call_key", name="uq_sales_proposals_call"),
    )
    op.create_table(
        "sales_agent_calls",
        sa.Column("id", sa.String(36), primary_key=True),
        _tenant(),
        sa.Column("call_key", sa.String(300), nullable=False),
        sa.Column("capability", sa.String(100), nullable=False),
        sa.Column("result", Json, nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("tenant_id", "call_key", name="uq_sales_agent_calls_key"),
    )


def downgrade() -> None:
    op.drop_table("sales_agent_calls")
    op.drop_table("sales_proposals")
