"""Reviews: decisions people owe `review` and `input` steps. A reader sees those of the runs
they may see (`store.tables.visible`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update

from batonflow.errors import NotFound
from batonflow.store import short_ids
from batonflow.store.db import Conn, Prepared
from batonflow.store.tables import Review, of_visible_runs, table

reviews_t = table(Review)


@dataclass(frozen=True, slots=True)
class ReviewRow:
    id: str
    tenant_id: str
    run_id: str
    step_key: str
    attempt: int
    kind: str
    status: str
    subject: Any
    instructions: str
    input_schema: dict[str, Any] | None
    reviewers: list[str]
    allow_edit: bool
    decision: str | None
    data: Any
    comment: str | None
    decided_by: str | None
    decided_at: datetime | None
    created_at: datetime


_COLUMNS = [reviews_t.c[name] for name in ReviewRow.__slots__]


async def get_review(
    conn: Conn, tenant_id: str, review_id: str, *, viewer: str | None = None
) -> ReviewRow:
    """The review; `NotFound` when the tenant has none by that id or `viewer` may not see its
    run (None: every run, as the platform or an admin)."""
    query = select(*_COLUMNS).where(reviews_t.c.tenant_id == tenant_id, reviews_t.c.id == review_id)
    row = (await conn.execute(of_visible_runs(query, reviews_t, tenant_id, viewer))).first()
    if row is None:
        raise NotFound(f"no review '{review_id}'")
    return ReviewRow(**row._asdict())


async def find_review_by_prefix(conn: Conn, tenant_id: str, text: str) -> str:
    """Resolve a full review id from a unique prefix or suffix."""
    return await short_ids.resolve(
        conn, reviews_t.c.id, reviews_t.c.tenant_id, tenant_id, text, "review"
    )


async def list_reviews(
    conn: Conn,
    tenant_id: str,
    *,
    status: str | None = "pending",
    run_id: str | None = None,
    limit: int = 100,
    viewer: str | None = None,
) -> list[ReviewRow]:
    """Oldest first, those of the runs `viewer` may see."""
    query = select(*_COLUMNS).where(reviews_t.c.tenant_id == tenant_id)
    query = of_visible_runs(query, reviews_t, tenant_id, viewer)
    if status is not None:
        query = query.where(reviews_t.c.status == status)
    if run_id is not None:
        query = query.where(reviews_t.c.run_id == run_id)
    rows = await conn.execute(query.order_by(reviews_t.c.created_at, reviews_t.c.id).limit(limit))
    return [ReviewRow(**row._asdict()) for row in rows]


_PENDING_OF_RUN = Prepared(
    select(reviews_t.c.id, reviews_t.c.step_key, reviews_t.c.kind)
    .where(
        reviews_t.c.run_id == bindparam("run_id"),
        # `+ ""` keeps SQLite off the tenant index: the run's own rows are found by its id.
        (reviews_t.c.tenant_id + "") == bindparam("tenant_id"),
        reviews_t.c.status == "pending",
    )
    .order_by(reviews_t.c.created_at, reviews_t.c.id)
)


async def pending_of_run(conn: Conn, tenant_id: str, run_id: str) -> list[tuple[str, str, str]]:
    """(id, step key, kind) of the reviews a run waits on, oldest first."""
    rows = await _PENDING_OF_RUN.fetch(conn, {"tenant_id": tenant_id, "run_id": run_id})
    return [(row[0], row[1], row[2]) for row in rows]


async def close_review(
    conn: Conn,
    tenant_id: str,
    review_id: str,
    *,
    status: str,
    decision: str | None,
    data: Any,
    comment: str | None,
    by: str,
    now: datetime,
) -> bool:
    """Move a pending review to `status`; False when it was no longer pending."""
    result = await conn.execute(
        update(reviews_t)
        .where(
            reviews_t.c.tenant_id == tenant_id,
            reviews_t.c.id == review_id,
            reviews_t.c.status == "pending",
        )
        .values(
            status=status,
            decision=decision,
            data=data,
            comment=comment,
            decided_by=by,
            decided_at=now,
        )
    )
    return result.rowcount == 1


async def cancel_pending(conn: Conn, tenant_id: str, run_id: str, by: str, now: datetime) -> None:
    await conn.execute(
        update(reviews_t)
        .where(
            reviews_t.c.tenant_id == tenant_id,
            reviews_t.c.run_id == run_id,
            reviews_t.c.status == "pending",
        )
        .values(status="cancelled", decided_by=by, decided_at=now)
    )


async def close_open_for_step(
    conn: Conn, tenant_id: str, run_id: str, step_key: str, by: str, now: datetime
) -> None:
    """Close a step's pending review because its output was set by hand."""
    await conn.execute(
        update(reviews_t)
        .where(
            reviews_t.c.tenant_id == tenant_id,
            reviews_t.c.run_id == run_id,
            reviews_t.c.step_key == step_key,
            reviews_t.c.status == "pending",
        )
        .values(status="overridden", decided_by=by, decided_at=now)
    )
