"""The limits on stage executions: per user, one running at a time and 100 started an hour;
10,000 an hour across the installation; a tenant may set its own per-user figures and a
tenant-wide hourly cap (`scoping_limits`).

Hourly counts live where the API's rate limits live (`RateLimiter.check_quotas`: in memory, or
Redis shared by every API process). Running executions are rows (`scoping_slots`): a user holds
one slot per execution whose run has not ended, and taking a slot is an insert or a conditional
update in the transaction that starts the run, so two API processes cannot both take the last
one. A refusal is `RateLimited` (429 with Retry-After) naming the limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from batonflow.apps.scoping import tables as t
from batonflow.apps.scoping.settings import ScopingSettings
from batonflow.auth.ratelimit import Quota, RateLimiter
from batonflow.errors import Conflict, InvalidInput, RateLimited
from batonflow.runs.run import RunStatus
from batonflow.store.db import Conn
from batonflow.store.tables import Run, table

runs_t = table(Run)
ACTIVE = [s.value for s in RunStatus if not s.terminal]
BUSY_RETRY_SECONDS = 5  # a stage execution on the local model takes seconds


@dataclass(frozen=True, slots=True)
class Limits:
    user_concurrent: int
    user_hourly: int
    tenant_hourly: int | None
    installation_hourly: int
    custom: bool  # the tenant set its own


async def for_tenant(conn: Conn, tenant_id: str, settings: ScopingSettings) -> Limits:
    row = (await conn.execute(sa.select(t.limits).where(t.limits.c.tenant_id == tenant_id))).first()
    if row is None:
        return Limits(
            settings.user_concurrent,
            settings.user_hourly,
            None,
            settings.installation_hourly,
            False,
        )
    return Limits(
        row.user_concurrent, row.user_hourly, row.tenant_hourly, settings.installation_hourly, True
    )


async def set_for_tenant(
    conn: Conn,
    tenant_id: str,
    now: datetime,
    *,
    user_concurrent: int,
    user_hourly: int,
    tenant_hourly: int | None,
) -> None:
    if user_concurrent < 1 or user_hourly < 1 or (tenant_hourly is not None and tenant_hourly < 1):
        raise InvalidInput("every limit allows at least one stage execution")
    await conn.execute(sa.delete(t.limits).where(t.limits.c.tenant_id == tenant_id))
    await conn.execute(
        sa.insert(t.limits).values(
            tenant_id=tenant_id,
            user_concurrent=user_concurrent,
            user_hourly=user_hourly,
            tenant_hourly=tenant_hourly,
            updated_at=now,
        )
    )


async def reset_for_tenant(conn: Conn, tenant_id: str) -> None:
    await conn.execute(sa.delete(t.limits).where(t.limits.c.tenant_id == tenant_id))


def _busy(limit: int) -> RateLimited:
    error = RateLimited(
        f"rate limited by the per-user limit on running stage executions ({limit} at a time); "
        f"wait for your running stage to finish, retry after {BUSY_RETRY_SECONDS} s",
        retry_after=BUSY_RETRY_SECONDS,
    )
    error.details["limit"] = "scoping_user_running"
    return error


async def _slots(conn: Conn, tenant_id: str, user_id: str) -> dict[int, tuple[str, bool]]:
    """The user's slots: slot -> (run id, whether that run is still going)."""
    rows = await conn.execute(
        sa.select(t.slots.c.slot, t.slots.c.run_id, runs_t.c.status)
        .outerjoin(
            runs_t, sa.and_(runs_t.c.id == t.slots.c.run_id, runs_t.c.tenant_id == tenant_id)
        )
        .where(t.slots.c.tenant_id == tenant_id, t.slots.c.user_id == user_id)
    )
    return {row.slot: (row.run_id, row.status in ACTIVE) for row in rows}


async def check_running(conn: Conn, tenant_id: str, user_id: str, limit: int) -> None:
    """Refuse at once when the user already runs `limit` stage executions."""
    busy = sum(1 for _, going in (await _slots(conn, tenant_id, user_id)).values() if going)
    if busy >= limit:
        raise _busy(limit)


async def take_slot(conn: Conn, tenant_id: str, user_id: str, run_id: str, limit: int) -> None:
    """Give `run_id` a free slot of the user's, in the transaction that starts it."""
    held = await _slots(conn, tenant_id, user_id)
    for slot in range(limit):
        if slot not in held:
            await conn.execute(
                sa.insert(t.slots).values(
                    tenant_id=tenant_id, user_id=user_id, slot=slot, run_id=run_id
                )
            )
            return
        old_run, going = held[slot]
        if going:
            continue
        taken = await conn.execute(
            sa.update(t.slots)
            .where(
                t.slots.c.tenant_id == tenant_id,
                t.slots.c.user_id == user_id,
                t.slots.c.slot == slot,
                t.slots.c.run_id == old_run,
            )
            .values(run_id=run_id)
        )
        if taken.rowcount:
            return
        raise Conflict("a concurrent request took the same slot")
    raise _busy(limit)


def refusal_of_lost_race(limit: int) -> RateLimited:
    """What a request that lost the race for the last slot (a `Conflict`) is told."""
    return _busy(limit)


async def count_hourly(limiter: RateLimiter, limits: Limits, tenant_id: str, user_id: str) -> None:
    """Take one stage execution from the user's, the tenant's and the installation's hour."""
    quotas = [
        Quota(
            "scoping_user_hourly",
            f"{limits.user_hourly}/hour",
            f"{tenant_id}:{user_id}",
            "the per-user limit on stage executions",
        ),
        Quota(
            "scoping_installation_hourly",
            f"{limits.installation_hourly}/hour",
            "all",
            "the installation-wide limit on stage executions",
        ),
    ]
    if limits.tenant_hourly is not None:
        quotas.append(
            Quota(
                "scoping_tenant_hourly",
                f"{limits.tenant_hourly}/hour",
                tenant_id,
                "the tenant's limit on stage executions",
            )
        )
    await limiter.check_quotas(quotas)
