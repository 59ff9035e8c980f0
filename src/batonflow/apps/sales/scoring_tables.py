"""A tenant's lead scoring rules, versioned: each change is a new row, the newest one is in force.

    sales_scoring_rules   version 1, 2, ... per tenant: the rules document, who set it, when

A tenant that never set rules scores by `scoring.DEFAULT_RULES` (reported as version 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from batonflow.apps.sales.scoring import DEFAULT_RULES, ScoreRules
from batonflow.apps.sales.tables import metadata, tenant_column
from batonflow.ids import new_id
from batonflow.store.columns import Json, UtcDateTime
from batonflow.store.db import Conn

scoring_rules = sa.Table(
    "sales_scoring_rules",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    tenant_column(),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("rules", Json, nullable=False),  # `ScoreRules` as JSON
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.UniqueConstraint("tenant_id", "version", name="uq_sales_scoring_rules_version"),
)


@dataclass(frozen=True, slots=True)
class RulesVersion:
    version: int  # 0: the defaults, never set by the tenant
    rules: ScoreRules
    created_by: str | None
    created_at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "rules": self.rules.model_dump(mode="json"),
            "created_by": self.created_by,
            "created_at": self.created_at,
        }


async def current(conn: Conn, tenant_id: str) -> RulesVersion:
    """The tenant's rules in force: its newest version, or the defaults."""
    row = (
        await conn.execute(
            sa.select(scoring_rules)
            .where(scoring_rules.c.tenant_id == tenant_id)
            .order_by(scoring_rules.c.version.desc())
            .limit(1)
        )
    ).first()
    if row is None:
        return RulesVersion(0, DEFAULT_RULES, None, None)
    return RulesVersion(
        row.version, ScoreRules.model_validate(row.rules), row.created_by, row.created_at
    )


async def save(
    conn: Conn, tenant_id: str, rules: ScoreRules, actor: str, now: datetime
) -> RulesVersion:
    """Store `rules` as the tenant's next version (a concurrent save of the same version loses
    on the unique constraint: a conflict, to retry)."""
    latest = await current(conn, tenant_id)
    version = latest.version + 1
    await conn.execute(
        sa.insert(scoring_rules).values(
            id=new_id(),
            tenant_id=tenant_id,
            version=version,
            rules=rules.model_dump(mode="json"),
            created_by=actor,
            created_at=now,
        )
    )
    return RulesVersion(version, rules, actor, now)
