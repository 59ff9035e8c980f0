"""Schedules, the due times they fired, webhook triggers and their deliveries.

`schedule_fires` is keyed by (schedule, due time): a due time is fired by inserting its row in
the transaction that starts its run, so of several schedulers only one can fire it.
`hook_deliveries` is keyed by (hook, delivery id) the same way, so a replayed delivery finds the
run the first one started.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from batonflow.store.tables import Base


class Schedule(Base):
    __tablename__ = "schedules"
    __table_args__ = (
        UniqueConstraint("tenant_id", "name"),
        Index("ix_schedules_due", "paused", "next_fire_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    name: Mapped[str] = mapped_column(String(100))
    workflow_id: Mapped[str] = mapped_column(String(128))
    version: Mapped[str | None] = mapped_column(String(64))  # None: the newest at each fire
    inputs: Mapped[dict[str, Any]]
    kind: Mapped[str] = mapped_column(String(16))
    cron: Mapped[str | None] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    interval_seconds: Mapped[int | None] = mapped_column(Integer)
    start_at: Mapped[datetime | None]
    catch_up: Mapped[str] = mapped_column(String(8))
    catch_up_limit: Mapped[int] = mapped_column(Integer)
    paused: Mapped[bool] = mapped_column(Boolean)
    next_fire_at: Mapped[datetime | None]
    last_fired_at: Mapped[datetime | None]
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ScheduleFire(Base):
    __tablename__ = "schedule_fires"
    __table_args__ = (Index("ix_schedule_fires_tenant_schedule", "tenant_id", "schedule_id"),)

    schedule_id: Mapped[str] = mapped_column(
        ForeignKey("schedules.id", ondelete="CASCADE"), primary_key=True
    )
    due_at: Mapped[datetime] = mapped_column(primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36))
    run_id: Mapped[str | None] = mapped_column(String(36))
    error: Mapped[str | None] = mapped_column(Text)
    fired_by: Mapped[str] = mapped_column(String(200))
    fired_at: Mapped[datetime]


class Hook(Base):
    __tablename__ = "hooks"
    __table_args__ = (Index("ix_hooks_tenant_created", "tenant_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # unguessable: in the URL
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    name: Mapped[str] = mapped_column(String(100))
    workflow_id: Mapped[str] = mapped_column(String(128))
    version: Mapped[str | None] = mapped_column(String(64))
    salt: Mapped[str] = mapped_column(String(64))  # the secret is derived from it (hooks.py)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    rotated_at: Mapped[datetime]


class HookDelivery(Base):
    __tablename__ = "hook_deliveries"

    hook_id: Mapped[str] = mapped_column(
        ForeignKey("hooks.id", ondelete="CASCADE"), primary_key=True
    )
    delivery_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36))
    body_hash: Mapped[str] = mapped_column(String(80))
    run_id: Mapped[str] = mapped_column(String(36))
    created_at: Mapped[datetime]
