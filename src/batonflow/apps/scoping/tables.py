"""The scoping app's tables (SQLAlchemy Core). Every row carries `tenant_id`, a foreign key to
its tenant (a tenant's rows go with it), and every query filters on it.

    scoping_sessions    a session: owner, title, archived, the knowledge base of its documents
    scoping_shares      who else may read (or edit) a session
    scoping_stages      a stage's state: reached, done, whether its agent has no more questions
    scoping_questions   a question an agent asked, in the order asked (the Q -> A log)
    scoping_answers     every answer given, kept in order; the latest one counts
    scoping_executions  a stage execution (a question, an analysis) or a charter, as a run
    scoping_analyses    a stage's analysis, versioned; `stale` once an earlier stage changed
    scoping_charters    the charter, versioned, with the model and prompt versions
    scoping_signoffs    a named stakeholder's review of a charter version
    scoping_slots       a user's one stage execution at a time (the run that holds it)
    scoping_limits      a tenant's own limits
"""

from __future__ import annotations

import sqlalchemy as sa

from batonflow.store.columns import Json, UtcDateTime

metadata = sa.MetaData()


def _tenant() -> sa.Column[str]:
    return sa.Column(
        "tenant_id", sa.String(36), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
    )


sessions = sa.Table(
    "scoping_sessions",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    _tenant(),
    sa.Column("owner_id", sa.String(36), nullable=False),
    sa.Column("owner_name", sa.String(200), nullable=False),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("title_key", sa.String(200), nullable=False),  # casefolded, for search
    sa.Column("archived", sa.Boolean, nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.Column("kb_id", sa.String(36)),  # its attached documents' knowledge base, once it has one
    sa.Index("ix_scoping_sessions_owner", "tenant_id", "owner_id", "created_at", "id"),
    sa.Index("ix_scoping_sessions_tenant", "tenant_id", "created_at", "id"),
)

shares = sa.Table(
    "scoping_shares",
    metadata,
    sa.Column("session_id", sa.String(36), primary_key=True),
    sa.Column("user_id", sa.String(36), primary_key=True),
    _tenant(),
    sa.Column("access", sa.String(8), nullable=False),  # read | edit
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Index("ix_scoping_shares_user", "tenant_id", "user_id"),
)

stages = sa.Table(
    "scoping_stages",
    metadata,
    sa.Column("session_id", sa.String(36), primary_key=True),
    sa.Column("number", sa.Integer, primary_key=True),
    _tenant(),
    sa.Column("done", sa.Boolean, nullable=False),  # the person said done (or used the budget)
    sa.Column("agent_done", sa.Boolean, nullable=False),  # the agent has nothing more to ask
    sa.Column("opened_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)

questions = sa.Table(
    "scoping_questions",
    metadata,
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
    sa.Column("sources", Json),  # the attached documents' passages it drew on (None: before 0002)
    sa.UniqueConstraint("session_id", "stage", "seq", name="uq_scoping_questions_seq"),
)

answers = sa.Table(
    "scoping_answers",
    metadata,
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

executions = sa.Table(
    "scoping_executions",
    metadata,
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

analyses = sa.Table(
    "scoping_analyses",
    metadata,
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

charters = sa.Table(
    "scoping_charters",
    metadata,
    sa.Column("session_id", sa.String(36), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    _tenant(),
    sa.Column("body", Json, nullable=False),
    sa.Column("model", sa.String(200), nullable=False),
    sa.Column("prompts", Json, nullable=False),  # {"scoping.charter": 1, "scoping.analyse": 1, ...}
    sa.Column("run_id", sa.String(36), nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
)

signoffs = sa.Table(
    "scoping_signoffs",
    metadata,
    sa.Column("session_id", sa.String(36), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("user_id", sa.String(36), primary_key=True),
    _tenant(),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("role", sa.String(200), nullable=False),
    sa.Column("decision", sa.String(20), nullable=False),  # pending | approved | changes_requested
    sa.Column("comment", sa.Text, nullable=False),
    sa.Column("requested_at", UtcDateTime(), nullable=False),
    sa.Column("decided_at", UtcDateTime()),
)

slots = sa.Table(
    "scoping_slots",
    metadata,
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

limits = sa.Table(
    "scoping_limits",
    metadata,
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
