"""Admin lists: users, API keys and invitations are paged by (tenant_id, created_at, id)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TABLES = ("users", "api_keys", "invitations")


def upgrade() -> None:
    # The new index leads with tenant_id, so it also serves every lookup the old one did.
    for table in TABLES:
        op.create_index(f"ix_{table}_tenant_created", table, ["tenant_id", "created_at", "id"])
        op.drop_index(f"ix_{table}_tenant_id", table_name=table)


def downgrade() -> None:
    for table in TABLES:
        op.create_index(f"ix_{table}_tenant_id", table, ["tenant_id"])
        op.drop_index(f"ix_{table}_tenant_created", table_name=table)
