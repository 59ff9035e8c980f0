"""Pricing packs: immutable, dated snapshots of prices, FX, corporate actions (splits and
dividends), macro series and news that the
portfolio patterns compute on, so a result can name exactly the data it used.

A build is a `portfolio_packs` row that moves

    warming -> fresh -> superseded        (the next fresh pack replaces it)
    warming -> failed                     (the error is recorded; a retry warms it again)
    warming -> unchanged                  (the data is that of an existing pack: no new pack)

A fresh pack's id is its content hash: sha256 of the canonical JSON of its `as_of` and every
series row sorted by (kind, key). Building the same data twice gives the same id, so the second
build adds no pack: it ends `unchanged`, its `same_as` naming the pack it matched (which becomes
the current one again if it had been superseded). One pack at a time is fresh per tenant.

`require_fresh` is the freshness gate the patterns pass: the current pack, or `NotReady` (HTTP
503 with `Retry-After`) while a newer build is warming, unless the caller pinned a pack.
The build's row moves are `pack_rows.py`, fetching from the providers `pack_build.py`;
this module reads packs.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from batonflow.apps.portfolio.model import PackData, Series
from batonflow.apps.portfolio.providers import ACTIONS
from batonflow.apps.portfolio.tables import pack_series, packs
from batonflow.errors import Conflict, NotFound, NotReady
from batonflow.store.db import Conn
from batonflow.store.tables import Run

OVERDUE_RETRY = 5.0  # seconds to wait for a build that is past its estimate
_ENDED = ("succeeded", "failed", "dead", "cancelled")


def row_of(found: Any) -> dict[str, Any]:
    """A pack row as the API and the CLI show it."""
    row = dict(found._mapping)
    row["as_of"] = row["as_of"].isoformat()
    return row


async def get_build(conn: Conn, tenant_id: str, build_id: str) -> dict[str, Any]:
    found = (
        await conn.execute(
            sa.select(packs).where(packs.c.tenant_id == tenant_id, packs.c.build_id == build_id)
        )
    ).first()
    if found is None:
        raise NotFound(f"no pack build '{build_id}'")
    return row_of(found)


# -- reading -----------------------------------------------------------------------------------


async def current(conn: Conn, tenant_id: str) -> dict[str, Any] | None:
    """The newest fresh pack row (None: the tenant has none)."""
    found = (
        await conn.execute(
            sa.select(packs)
            .where(packs.c.tenant_id == tenant_id, packs.c.state == "fresh")
            .order_by(packs.c.ready_at.desc(), packs.c.build_id.desc())
            .limit(1)
        )
    ).first()
    return None if found is None else row_of(found)


async def _newest_build(conn: Conn, tenant_id: str) -> dict[str, Any] | None:
    """The tenant's newest build, a warming one whose run ended without it counted failed."""
    found = (
        await conn.execute(
            sa.select(packs, Run.status.label("run_status"))
            .select_from(
                packs.outerjoin(
                    Run, sa.and_(Run.id == packs.c.run_id, Run.tenant_id == packs.c.tenant_id)
                )
            )
            .where(packs.c.tenant_id == tenant_id)
            .order_by(packs.c.started_at.desc(), packs.c.build_id.desc())
            .limit(1)
        )
    ).first()
    if found is None:
        return None
    row = row_of(found)
    status = row.pop("run_status")
    if row["state"] == "warming" and status in _ENDED:
        row["state"] = "failed"
        row["error"] = {"message": f"the build's run ended ({status}) before the pack was ready"}
    return row


async def _pack_row(conn: Conn, tenant_id: str, pack_id: str) -> Any:
    found = (
        await conn.execute(
            sa.select(packs).where(packs.c.tenant_id == tenant_id, packs.c.pack_id == pack_id)
        )
    ).first()
    if found is None:
        raise NotFound(f"no pricing pack '{pack_id}'")
    return found


async def get_pack(conn: Conn, tenant_id: str, pack_id: str) -> dict[str, Any]:
    """A pack by its id, with a summary of each series; `NotFound` otherwise."""
    found = await _pack_row(conn, tenant_id, pack_id)
    row = row_of(found)
    series = await conn.execute(
        sa.select(pack_series)
        .where(pack_series.c.tenant_id == tenant_id, pack_series.c.build_id == found.build_id)
        .order_by(pack_series.c.kind, pack_series.c.key)
    )
    row["series"] = [_summary(s) for s in series]
    return row


def _summary(found: Any) -> dict[str, Any]:
    body = found.body
    dates = body.get("dates") or [a["published_at"][:10] for a in body.get("articles", [])]
    return {
        "kind": found.kind,
        "key": found.key,
        "source": found.source,
        "currency": found.currency,
        "points": len(dates),
        "first": min(dates) if dates else None,
        "last": max(dates) if dates else None,
    }


async def list_packs(
    conn: Conn,
    tenant_id: str,
    *,
    limit: int,
    after: tuple[datetime, str] | None = None,
    state: str | None = None,
) -> list[dict[str, Any]]:
    """The tenant's builds, newest first, a page of `limit` after the `(started_at, build_id)`
    of the previous page's last row."""
    query = sa.select(packs).where(packs.c.tenant_id == tenant_id)
    if state is not None:
        query = query.where(packs.c.state == state)
    if after is not None:
        started, build_id = after
        query = query.where(
            sa.or_(
                packs.c.started_at < started,
                sa.and_(packs.c.started_at == started, packs.c.build_id < build_id),
            )
        )
    query = query.order_by(packs.c.started_at.desc(), packs.c.build_id.desc()).limit(limit)
    return [row_of(found) for found in await conn.execute(query)]


async def load(
    conn: Conn, tenant_id: str, pack_id: str, *, symbols: Iterable[str] | None = None
) -> PackData:
    """A pack's data (prices, corporate actions and news of `symbols` only, when given; FX and
    macro whole). The other symbols' rows are not read: a pattern on a few symbols of a large
    pack parses only theirs. Series on the same dates share one tuple of dates, parsed once."""
    row = row_of(await _pack_row(conn, tenant_id, pack_id))
    query = (
        sa.select(pack_series)
        .where(pack_series.c.tenant_id == tenant_id, pack_series.c.build_id == row["build_id"])
        .order_by(pack_series.c.kind, pack_series.c.key)
    )
    if symbols is not None:
        whole = pack_series.c.kind.in_(("fx", "macro"))
        query = query.where(sa.or_(whole, pack_series.c.key.in_(sorted(set(symbols)))))
    found = await conn.execute(query)
    data = PackData(
        pack_id=pack_id, as_of=date.fromisoformat(row["as_of"]), sources=tuple(row["sources"])
    )
    seen: tuple[list[str], tuple[date, ...]] = ([], ())
    for s in found:
        if s.kind == "news":
            data.news.extend({"symbol": s.key, **a} for a in s.body["articles"])
            continue
        if s.kind in ACTIONS:
            data.actions.extend(_actions(s))
            continue
        if s.body["dates"] != seen[0]:
            seen = (s.body["dates"], tuple(map(date.fromisoformat, s.body["dates"])))
        series = Series(
            key=s.key,
            dates=seen[1],
            values=tuple(map(Decimal, s.body["values"])),
            source=s.source,
            currency=s.currency,
        )
        {"price": data.prices, "fx": data.fx, "macro": data.macro}[s.kind][s.key] = series
    data.actions.sort(key=lambda a: (a["date"], a["symbol"], a["kind"]))
    return data


def _actions(row: Any) -> list[dict[str, Any]]:
    """A split or dividend series as the pack's corporate actions: `{kind, symbol, date, value,
    currency, source}`, the value a split's ratio (new shares per old) or a dividend per share."""
    return [
        {
            "kind": row.kind,
            "symbol": row.key,
            "date": date.fromisoformat(day),
            "value": Decimal(value),
            "currency": row.currency,
            "source": row.source,
        }
        for day, value in zip(row.body["dates"], row.body["values"], strict=True)
    ]


def _wait(build: dict[str, Any], now: datetime) -> float:
    ready = build["estimated_ready"]
    left = (ready - now).total_seconds() if ready is not None else OVERDUE_RETRY
    return max(1.0, left) if left > 0 else OVERDUE_RETRY


async def require_fresh(
    conn: Conn, tenant_id: str, now: datetime, pack_id: str | None = None
) -> dict[str, Any]:
    """The pack row to compute on: `pack_id`'s (fresh or superseded) when pinned, else the
    current pack; `NotReady` while a newer build is warming, `Conflict` when there is none."""
    if pack_id is not None:
        return await get_pack(conn, tenant_id, pack_id)
    newest = await _newest_build(conn, tenant_id)
    if newest is not None and newest["state"] == "warming":
        ready = newest["estimated_ready"]
        raise NotReady(
            "a new pricing pack is warming; ask again when it is ready, or pin a pack "
            "(pricing_pack_id; --pack in the CLI) to compute on it now",
            retry_after=_wait(newest, now),
            estimated_ready=ready.isoformat() if ready else None,
            details={"build_id": newest["build_id"]},
        )
    found = await current(conn, tenant_id)
    if found is None:
        why = ""
        if newest is not None and newest["state"] == "failed":
            why = f"; the last build failed: {(newest['error'] or {}).get('message', '')}"
        raise Conflict(
            "there is no fresh pricing pack yet: build one (POST /api/v1/portfolio/packs or "
            f"`batonflow portfolio packs build`){why}"
        )
    return found


async def health(conn: Conn, tenant_id: str, now: datetime) -> dict[str, Any]:
    """The state of the tenant's packs: `warming` while a build runs (with when it should be
    ready), else `fresh` (the current pack), `failed` (the last build failed and no pack is
    fresh) or `none`."""
    newest = await _newest_build(conn, tenant_id)
    found = await current(conn, tenant_id)
    superseded = (
        await conn.execute(
            sa.select(packs.c.pack_id)
            .where(packs.c.tenant_id == tenant_id, packs.c.state == "superseded")
            .order_by(packs.c.superseded_at.desc(), packs.c.build_id.desc())
            .limit(1)
        )
    ).scalar()
    warming = newest is not None and newest["state"] == "warming"
    if warming:
        state = "warming"
    elif found is not None:
        state = "fresh"
    else:
        state = "failed" if newest is not None and newest["state"] == "failed" else "none"
    ready = newest["estimated_ready"] if warming and newest else None
    last_error = newest["error"] if newest is not None and newest["state"] == "failed" else None
    return {
        "state": state,
        "pack_id": found["pack_id"] if found else None,
        "as_of": found["as_of"] if found else None,
        "sources": found["sources"] if found else [],
        "ready_at": found["ready_at"].isoformat() if found else None,
        "building": newest["build_id"] if warming and newest else None,
        "estimated_ready": ready.isoformat() if ready else None,
        "retry_after_seconds": round(_wait(newest, now)) if warming and newest else None,
        "superseded": superseded,
        "last_error": last_error,
    }
