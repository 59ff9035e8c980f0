"""Short ids: people may name a run or review by a unique prefix or suffix of its id.

Ids begin with a timestamp, so ids made at the same moment share a prefix; the random end is
the part that tells them apart (`runs show 8f3c2a1d`).
"""

from __future__ import annotations

from sqlalchemy import Column, or_, select

from batonflow.errors import NotFound
from batonflow.store.db import Conn

MIN_LENGTH = 6


async def resolve(
    conn: Conn,
    id_column: Column[str],
    tenant_column: Column[str],
    tenant_id: str,
    text: str,
    noun: str,
) -> str:
    if len(text) >= 36:
        return text
    if len(text) < MIN_LENGTH:
        raise NotFound(f"{noun} id '{text}' is too short; give at least {MIN_LENGTH} characters")
    rows = (
        await conn.execute(
            select(id_column)
            .where(
                tenant_column == tenant_id,
                or_(
                    id_column.startswith(text, autoescape=True),
                    id_column.endswith(text, autoescape=True),
                ),
            )
            .limit(2)
        )
    ).all()
    if not rows:
        raise NotFound(f"no {noun} '{text}'")
    if len(rows) > 1:
        raise NotFound(f"{noun} id '{text}' matches more than one {noun}; give more characters")
    return str(rows[0][0])
