"""The scoping app: documents attached to a session (the knowledge base holding them) and the
passages of them each question drew on

Revision ID: scoping_0002
Revises: scoping_0001
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from batonflow.store.columns import Json

revision = "scoping_0002"
down_revision = "scoping_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("scoping_sessions", sa.Column("kb_id", sa.String(36)))
    op.add_column("scoping_questions", sa.Column("sources", Json))


def downgrade() -> None:
    with op.batch_alter_table("scoping_questions") as batch:
        batch.drop_column("sources")
    with op.batch_alter_table("scoping_sessions") as batch:
        batch.drop_column("kb_id")
