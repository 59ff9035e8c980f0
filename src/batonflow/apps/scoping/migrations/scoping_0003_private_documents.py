"""The scoping app: a session's knowledge base is private to the session's owner, like the
session's runs, for the sessions that attached documents before knowledge bases could be private

Revision ID: scoping_0003
Revises: scoping_0002
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "scoping_0003"
down_revision = "scoping_0002"
branch_labels = None
depends_on = "0011"


def upgrade() -> None:
    op.execute(
        "UPDATE knowledge_bases SET private_to = ("
        " SELECT s.owner_id FROM scoping_sessions s"
        " WHERE s.kb_id = knowledge_bases.id AND s.tenant_id = knowledge_bases.tenant_id)"
        " WHERE private_to IS NULL AND EXISTS ("
        " SELECT 1 FROM scoping_sessions s"
        " WHERE s.kb_id = knowledge_bases.id AND s.tenant_id = knowledge_bases.tenant_id)"
    )


def downgrade() -> None:
    """Nothing to undo: dropping the column (core 0011) forgets who each one was private to."""
