"""The scoping app: sessions, shares, stages, the Q -> A log, executions, analyses, charters,
sign-offs and limits

Revision ID: scoping_0001
Revises:
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from batonflow.store.columns import Json, UtcDateTime

revision = "scoping_0001"
down_revision = None
branch_labels = ("scoping",)
depends_on = "0004"


def _tenant() -> sa.Column[str]:
    return sa.Column(
        "tenant_id", sa.String(36), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "scoping_sessions",
        sa.Column("id", sa.String(36), primary_key=True),
        _tenant(),
        sa.Column("owner_id", sa.String(36), nullable=False),
        sa.Column("owner_name", sa.String(200), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("title_key", sa.String(200), nullable=False),  # casefolded, for search
        sa.Column("archived", sa.Boolean, nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Index("ix_scoping_sessions_owner", "tenant_id", "owner_id", "created_at", "id"),
        sa.Index("ix_scoping_sessions_tenant", "tenant_id", "created_at", "id"),
    )
    op.create_table(
        "scoping_shares",
        sa.Column("session_id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(36), primary_key=True),
        _tenant(),
        sa.Column("access", sa.String(8), nullable=False),  # read | edit
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Index("ix_scoping_shares_user", "tenant_id", "user_id"),
    )
    op.create_table(
        "scoping_stages",
        sa.Column("session_id", sa.String(36), primary_key=True),
        sa.Column("number", sa.Integer, primary_key=True),
        _tenant(),
        sa.Column("done", sa.Boolean, nullable=False),  # the person said done (or used the budget)
        sa.Column("agent_done", sa.Boolean, nullable=False),  # the agent has nothing more to ask
        sa.Column("opened_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "scoping_questions",
        sa.Column("id", sa.String(36), primary_key=True),
        _tenant(),
        sa.Column("session_id", sa.String(36), nullable=False),
        sa.Column("stage", sa.Integer, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),  # choice | text
        sa.Column("choices", Json, nullable=False),
        sa.Column("recommended", sa.Text),
        sa.Column("rationale", sa.Text, nullable=False),
        sa.Column("run_id", sa.String(36), nullable=False),
        sa.Column("asked_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("session_id", "stage", "seq", name="uq_scoping_questions_seq"),
    )
    op.create_table(
        "scoping_answers",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        _tenant(),
        sa.Column("session_id", sa.String(36), nullable=False),
        sa.Column("question_id", sa.String(36), nullable=False),
        sa.Column("text", sa.Text),  # None: skipped
        sa.Column("skipped", sa.Boolean, nullable=False),
        sa.Column("by_id", sa.String(36), nullable=False),
        sa.Column("by_name", sa.String(200), nullable=False),
        sa.Column("answered_at", UtcDateTime(), nullable=False),
        sa.Index("ix_scoping_answers_session", "tenant_id", "session_id", "id"),
    )
    op.create_table(
        "scoping_executions",
        sa.Column("run_id", sa.String(36), primary_key=True),
        _tenant(),
        sa.Column("session_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(12), nullable=False),  # question | analysis | charter
        sa.Column("stages", Json, nullable=False),  # the stage numbers it works on
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),  # running | succeeded | failed
        sa.Column("error", Json),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("settled_at", UtcDateTime()),
        sa.Index("ix_scoping_executions_session", "tenant_id", "session_id", "created_at"),
    )
    op.create_table(
        "scoping_analyses",
        sa.Column("session_id", sa.String(36), primary_key=True),
        sa.Column("stage", sa.Integer, primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        _tenant(),
        sa.Column("body", Json, nullable=False),
        sa.Column("stale", sa.Boolean, nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("run_id", sa.String(36), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "scoping_charters",
        sa.Column("session_id", sa.String(36), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        _tenant(),
        sa.Column("body", Json, nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column(
            "prompts", Json, nullable=False
        ),  # {"scoping.charter": 1, "scoping.analyse": 1, ...}
        sa.Column("run_id", sa.String(36), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "scoping_signoffs",
        sa.Column("session_id", sa.String(36), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.String(36), primary_key=True),
        _tenant(),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(200), nullable=False),
        sa.Column(
            "decision", sa.String(20), nullable=False
        ),  # pending | approved | changes_requested
        sa.Column("comment", sa.Text, nullable=False),
        sa.Column("requested_at", UtcDateTime(), nullable=False),
        sa.Column("decided_at", UtcDateTime()),
    )
    op.create_table(
        "scoping_slots",
        sa.Column(
            "tenant_id",
            sa.String(36),
            sa.ForeignKey("tenants.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("user_id", sa.String(36), primary_key=True),
        sa.Column("slot", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("run_id", sa.String(36), nullable=False),
    )
    op.create_table(
        "scoping_limits",
        sa.Column(
            "tenant_id",
            sa.String(36),
            sa.ForeignKey("tenants.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("user_concurrent", sa.Integer, nullable=False),
        sa.Column("user_hourly", sa.Integer, nullable=False),
        sa.Column("tenant_hourly", sa.Integer),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("scoping_limits")
    op.drop_table("scoping_slots")
    op.drop_table("scoping_signoffs")
    op.drop_table("scoping_charters")
    op.drop_table("scoping_analyses")
    op.drop_table("scoping_executions")
    op.drop_table("scoping_answers")
    op.drop_table("scoping_questions")
    op.drop_table("scoping_stages")
    op.drop_table("scoping_shares")
    op.drop_table("scoping_sessions")
