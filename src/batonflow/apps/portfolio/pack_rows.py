"""A pack build's row moves (see `packs.py` for the states): `begin` warms a row (one per
run, however often its attempts retry), `finish` makes it fresh, superseding the previous fresh
pack, or ends it `unchanged` when a pack of the same content exists, and `fail` records why it
failed. The pack id is the content hash (`content_hash`)."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from batonflow.apps.portfolio.packs import get_build, row_of
from batonflow.apps.portfolio.providers import Fetched
from batonflow.apps.portfolio.tables import pack_series, packs
from batonflow.store.db import Conn

ESTIMATE_FROM = 5  # the last fresh builds whose mean duration estimates the next one


def content_hash(as_of: date, rows: Iterable[Fetched]) -> str:
    """The pack id of these series at `as_of` (see the module docstring)."""
    series = [
        {"kind": r.kind, "key": r.key, "source": r.source, "currency": r.currency, "body": r.body}
        for r in sorted(rows, key=lambda r: (r.kind, r.key))
    ]
    canonical = json.dumps(
        {"as_of": as_of.isoformat(), "series": series},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


async def estimate_seconds(conn: Conn, tenant_id: str, default: float) -> float:
    """The mean duration of the tenant's last fresh builds, else `default`."""
    found = await conn.execute(
        sa.select(packs.c.started_at, packs.c.ready_at)
        .where(
            packs.c.tenant_id == tenant_id,
            packs.c.pack_id.is_not(None),
            packs.c.ready_at.is_not(None),
        )
        .order_by(packs.c.ready_at.desc())
        .limit(ESTIMATE_FROM)
    )
    durations = [(r.ready_at - r.started_at).total_seconds() for r in found]
    return sum(durations) / len(durations) if durations else default


async def begin(
    conn: Conn,
    tenant_id: str,
    now: datetime,
    *,
    as_of: date,
    estimate: float,
    run_id: str | None = None,
) -> dict[str, Any]:
    """The warming row of a build. The build of `run_id` already begun is that row again (a
    retried attempt warms the same row; one that failed warms again), never a second one."""
    if run_id is not None:
        found = (
            await conn.execute(
                sa.select(packs).where(packs.c.tenant_id == tenant_id, packs.c.run_id == run_id)
            )
        ).first()
        if found is not None:
            if found.state == "failed":
                await conn.execute(
                    packs.update()
                    .where(packs.c.tenant_id == tenant_id, packs.c.build_id == found.build_id)
                    .values(
                        state="warming",
                        error=None,
                        estimated_ready=now + timedelta(seconds=estimate),
                    )
                )
                return await get_build(conn, tenant_id, found.build_id)
            return row_of(found)
    build_id = str(uuid.uuid4())
    await conn.execute(
        packs.insert().values(
            build_id=build_id,
            tenant_id=tenant_id,
            pack_id=None,
            as_of=as_of,
            state="warming",
            sources=[],
            counts={},
            estimated_ready=now + timedelta(seconds=estimate),
            error=None,
            run_id=run_id,
            started_at=now,
        )
    )
    return await get_build(conn, tenant_id, build_id)


async def _supersede_others(conn: Conn, tenant_id: str, keep: str, now: datetime) -> None:
    await conn.execute(
        packs.update()
        .where(packs.c.tenant_id == tenant_id, packs.c.state == "fresh", packs.c.build_id != keep)
        .values(state="superseded", superseded_at=now)
    )


async def finish(
    conn: Conn,
    tenant_id: str,
    build_id: str,
    rows: Sequence[Fetched],
    *,
    sources: list[str],
    counts: dict[str, Any],
    now: datetime,
) -> dict[str, Any]:
    """Make the warming build fresh with `rows` (the previous fresh pack is superseded), or end
    it `unchanged` when a pack of the same content exists (see the module docstring)."""
    build = await get_build(conn, tenant_id, build_id)
    if build["state"] not in ("warming", "failed"):
        return build  # finished by an earlier attempt whose checkpoint was lost
    pack_id = content_hash(date.fromisoformat(build["as_of"]), rows)
    same = (
        await conn.execute(
            sa.select(packs).where(packs.c.tenant_id == tenant_id, packs.c.pack_id == pack_id)
        )
    ).first()
    done = {"sources": sources, "counts": counts, "ready_at": now, "estimated_ready": None}
    if same is not None:
        if same.state != "fresh":
            await conn.execute(
                packs.update()
                .where(packs.c.tenant_id == tenant_id, packs.c.build_id == same.build_id)
                .values(state="fresh", superseded_at=None)
            )
            await _supersede_others(conn, tenant_id, same.build_id, now)
        note = f"the data is that of pack {pack_id}, which is the current pack; no new pack"
        await conn.execute(
            packs.update()
            .where(packs.c.tenant_id == tenant_id, packs.c.build_id == build_id)
            .values(state="unchanged", same_as=pack_id, error={"message": note}, **done)
        )
        return await get_build(conn, tenant_id, build_id)
    if rows:
        await conn.execute(
            pack_series.insert(),
            [
                {
                    "build_id": build_id,
                    "kind": r.kind,
                    "key": r.key,
                    "tenant_id": tenant_id,
                    "source": r.source,
                    "currency": r.currency,
                    "body": r.body,
                }
                for r in rows
            ],
        )
    await conn.execute(
        packs.update()
        .where(packs.c.tenant_id == tenant_id, packs.c.build_id == build_id)
        .values(state="fresh", pack_id=pack_id, error=None, **done)
    )
    await _supersede_others(conn, tenant_id, build_id, now)
    return await get_build(conn, tenant_id, build_id)


async def fail(
    conn: Conn, tenant_id: str, build_id: str, error: dict[str, Any], now: datetime
) -> dict[str, Any]:
    """Record why the build failed; the current pack, if any, stays current."""
    await conn.execute(
        packs.update()
        .where(
            packs.c.tenant_id == tenant_id,
            packs.c.build_id == build_id,
            packs.c.state == "warming",
        )
        .values(state="failed", error=error, ready_at=None, estimated_ready=None)
    )
    return await get_build(conn, tenant_id, build_id)
