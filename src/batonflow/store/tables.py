"""The database schema. Every tenant-owned table carries `tenant_id`; one Alembic tree follows it."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    BindParameter,
    Boolean,
    ColumnElement,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Select,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    or_,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from batonflow.store.columns import EventId, Json, PicoUsd, UtcDateTime


def table(model: type[DeclarativeBase]) -> Table:
    """The Core table behind a mapped class, typed as such."""
    return cast(Table, model.__table__)


NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UtcDateTime(), dict[str, Any]: Json}


class Tenant(Base):
    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    llm_log_bodies: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    budget_tokens: Mapped[int | None] = mapped_column(BigInteger)
    budget_usd: Mapped[Decimal | None] = mapped_column(PicoUsd())


class WorkflowVersion(Base):
    __tablename__ = "workflow_versions"
    __table_args__ = (UniqueConstraint("tenant_id", "workflow_id", "version"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    workflow_id: Mapped[str] = mapped_column(String(128))
    version: Mapped[str] = mapped_column(String(64))
    content_hash: Mapped[str] = mapped_column(String(80))
    description: Mapped[str] = mapped_column(Text, default="")
    spec: Mapped[dict[str, Any]]
    source: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class Run(Base):
    __tablename__ = "runs"
    __table_args__ = (
        Index("ix_runs_tenant_created", "tenant_id", "created_at", "id"),
        Index("ix_runs_tenant_status", "tenant_id", "status"),
        Index("ix_runs_status", "status"),
        UniqueConstraint("parent_run_id", "parent_step_key", "parent_attempt"),
        UniqueConstraint("tenant_id", "idempotency_key"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    workflow_version_pk: Mapped[str] = mapped_column(ForeignKey("workflow_versions.id"))
    workflow_id: Mapped[str] = mapped_column(String(128))
    workflow_version: Mapped[str] = mapped_column(String(64))
    content_hash: Mapped[str] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(String(16))
    inputs: Mapped[dict[str, Any]]
    ctx: Mapped[dict[str, Any]]
    outputs: Mapped[dict[str, Any] | None]
    error: Mapped[dict[str, Any] | None]
    event_seq: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[str] = mapped_column(String(200))
    parent_run_id: Mapped[str | None] = mapped_column(String(36))
    parent_step_key: Mapped[str | None] = mapped_column(String(200))
    parent_attempt: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]
    # Set when the run was started through the API with an `Idempotency-Key` header: the same
    # key (per tenant) returns this run; `idempotency_hash` is the hash of the request it answered.
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    idempotency_hash: Mapped[str | None] = mapped_column(String(80))
    # The user the run is private to (an app's run holding what that user keeps private, such
    # as a scoping session's stage): the generic run reads show it to them and to the tenant's
    # admins only. NULL: the tenant's members see it. Child runs inherit it.
    private_to: Mapped[str | None] = mapped_column(String(36))


def visible(
    viewer: str | BindParameter[str] | None, private_to: ColumnElement[Any] | None = None
) -> ColumnElement[bool]:
    """The runs (or the rows of another table with a `private_to` column: knowledge bases)
    `viewer` (`runs/run.py::run_viewer`) may see of its tenant's: every one for None (an
    admin), else those private to nobody or to them."""
    if viewer is None:
        return true()
    column = table(Run).c.private_to if private_to is None else private_to
    return or_(column.is_(None), column == viewer)


def of_visible_runs(
    query: Select[Any], rows: Table, tenant_id: str, viewer: str | None
) -> Select[Any]:
    """`query` over `rows` (a table with `run_id`) narrowed to the rows of runs `viewer` may see."""
    if viewer is None:
        return query
    runs = table(Run)
    return query.join_from(rows, runs, runs.c.id == rows.c.run_id).where(
        runs.c.tenant_id == tenant_id, visible(viewer)
    )


class Step(Base):
    """A step's current state; with status `ready` it is also the work queue."""

    __tablename__ = "steps"
    __table_args__ = (
        Index("ix_steps_status_available", "status", "available_at"),
        Index("ix_steps_status_lease", "status", "lease_expires_at"),
    )

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    parent_key: Mapped[str | None] = mapped_column(String(200))
    item_index: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    dispatch: Mapped[int] = mapped_column(Integer, default=0)
    lost: Mapped[int] = mapped_column(Integer, default=0)
    available_at: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    result: Mapped[Any | None] = mapped_column(Json)
    error: Mapped[dict[str, Any] | None]
    exhausted: Mapped[bool] = mapped_column(Boolean, default=False)
    overridden_by: Mapped[str | None] = mapped_column(String(200))
    override_reason: Mapped[str | None] = mapped_column(Text)
    # Celery execution: the queue the step was routed to, and when a wake-up went there (a wake-up
    # still unclaimed `republish_seconds` later is sent again; none for a step the commit that
    # made it ready claimed on the worker that serves its queue).
    queue: Mapped[str | None] = mapped_column(String(200))
    published_at: Mapped[datetime | None]


class Attempt(Base):
    """One dispatch of a step to a worker, written when it ends (or when its lease is reaped)."""

    __tablename__ = "attempts"

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    step_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    dispatch: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    worker: Mapped[str] = mapped_column(String(200))
    idempotency_key: Mapped[str] = mapped_column(String(300))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime]
    duration_ms: Mapped[float] = mapped_column(Float)
    error: Mapped[dict[str, Any] | None]
    args: Mapped[Any | None] = mapped_column(Json)  # what the step's templates resolved to


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("run_id", "seq"),
        Index("ix_events_tenant_id", "tenant_id", "id"),
    )

    id: Mapped[int] = mapped_column(EventId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String(36))
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    step_key: Mapped[str | None] = mapped_column(String(200))
    data: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


class Review(Base):
    """A decision a person owes a `review` or `input` step; decided exactly once."""

    __tablename__ = "reviews"
    __table_args__ = (
        UniqueConstraint("run_id", "step_key", "attempt"),
        Index("ix_reviews_tenant_status", "tenant_id", "status", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36))
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    step_key: Mapped[str] = mapped_column(String(200))
    attempt: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    subject: Mapped[Any] = mapped_column(Json)
    instructions: Mapped[str] = mapped_column(Text, default="")
    input_schema: Mapped[dict[str, Any] | None]
    reviewers: Mapped[list[str]] = mapped_column(Json)
    allow_edit: Mapped[bool] = mapped_column(Boolean, default=False)
    decision: Mapped[str | None] = mapped_column(String(16))
    data: Mapped[Any | None] = mapped_column(Json)
    comment: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class Effect(Base):
    """A side effect applied under an idempotency key: the same key never applies twice."""

    __tablename__ = "effects"

    tenant_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]]
    run_id: Mapped[str | None] = mapped_column(String(36), index=True)
    created_at: Mapped[datetime]


class LlmCall(Base):
    """One model call made by the gateway (one hop of a route, with its retries)."""

    __tablename__ = "llm_calls"
    __table_args__ = (
        Index("ix_llm_calls_tenant_created", "tenant_id", "created_at"),
        Index("ix_llm_calls_run", "run_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36))
    run_id: Mapped[str | None] = mapped_column(String(36))
    step_key: Mapped[str | None] = mapped_column(String(200))
    attempt: Mapped[int | None] = mapped_column(Integer)
    route: Mapped[str | None] = mapped_column(String(64))
    hop: Mapped[int] = mapped_column(Integer)
    provider: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    retries: Mapped[int] = mapped_column(Integer)
    input_tokens: Mapped[int] = mapped_column(Integer)
    output_tokens: Mapped[int] = mapped_column(Integer)
    cached_input_tokens: Mapped[int] = mapped_column(Integer)
    cache_write_tokens: Mapped[int] = mapped_column(Integer)
    reasoning_tokens: Mapped[int] = mapped_column(Integer)
    cost_usd: Mapped[Decimal | None] = mapped_column(PicoUsd())
    price_version: Mapped[str | None] = mapped_column(String(32))
    latency_ms: Mapped[float | None] = mapped_column(Float)
    ttft_ms: Mapped[float | None] = mapped_column(Float)
    prompt_key: Mapped[str | None] = mapped_column(String(128))
    prompt_version: Mapped[int | None] = mapped_column(Integer)
    prompt_hash: Mapped[str] = mapped_column(String(80))
    request_body: Mapped[str | None] = mapped_column(Text)
    response_body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


class Prompt(Base):
    """An immutable version of a prompt template, by key, per tenant."""

    __tablename__ = "prompts"
    __table_args__ = (UniqueConstraint("tenant_id", "key", "version"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    key: Mapped[str] = mapped_column(String(128))
    version: Mapped[int] = mapped_column(Integer)
    template: Mapped[str] = mapped_column(Text)
    system: Mapped[str | None] = mapped_column(Text)
    variables: Mapped[list[str]] = mapped_column(Json)
    description: Mapped[str] = mapped_column(Text, default="")
    content_hash: Mapped[str] = mapped_column(String(80))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]


class User(Base):
    """A person who signs in. An email address belongs to one tenant."""

    __tablename__ = "users"
    # The admin list's keyset pages, in (created_at, id) order within the tenant
    __table_args__ = (Index("ix_users_tenant_created", "tenant_id", "created_at", "id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    last_login_at: Mapped[datetime | None]


class RefreshToken(Base):
    """One refresh token of a sign-in. Each use rotates it to a new one of the same family;
    presenting a rotated token again revokes the whole family."""

    __tablename__ = "refresh_tokens"
    __table_args__ = (Index("ix_refresh_tokens_family", "family_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    family_id: Mapped[str] = mapped_column(String(36))
    token_hash: Mapped[str] = mapped_column(String(80), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    rotated_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class ApiKey(Base):
    """A machine client's key: stored as a hash, shown once, with scopes and an expiry."""

    __tablename__ = "api_keys"
    # The admin list's keyset pages, in (created_at, id) order within the tenant
    __table_args__ = (Index("ix_api_keys_tenant_created", "tenant_id", "created_at", "id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(32))
    key_hash: Mapped[str] = mapped_column(String(80), unique=True)
    scopes: Mapped[list[str]] = mapped_column(Json)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class Invitation(Base):
    """An invitation to join a tenant with a role; the token is stored as a hash."""

    __tablename__ = "invitations"
    # The admin list's keyset pages, in (created_at, id) order within the tenant
    __table_args__ = (Index("ix_invitations_tenant_created", "tenant_id", "created_at", "id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    email: Mapped[str] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(80), unique=True)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


# The knowledge-base tables and the audit log live in their own modules; importing them here
# puts them in `Base.metadata` wherever the schema is built from the models.
from batonflow.store import audit as _audit  # noqa: E402, F401
from batonflow.store import kb_tables as _kb_tables  # noqa: E402, F401
from batonflow.store import trigger_tables as _trigger_tables  # noqa: E402, F401
