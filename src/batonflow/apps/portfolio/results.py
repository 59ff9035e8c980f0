"""A pattern's results, recorded so that each can be reproduced and checked.

A result row pins what it was computed from: the pricing pack (`pricing_pack_id`), the ledger
state (`ledger_commit_hash`) and the inputs; `result_hash` is the SHA-256 of the result's
canonical JSON, so computing the same pattern again on the same pack, ledger and inputs must
give the same hash, and anyone holding an export can check it was not edited.

Canonical JSON: keys sorted, no whitespace, UTF-8 (not escaped), a `Decimal` as its plain
digits (`format(d, "f")`: "1234.50" keeps the precision it was rounded to, never "1.2345E+3"),
a date or datetime in ISO 8601, a tuple as a list; NaN and infinities are refused. The row
stores the canonical form's JSON value, so hashing the stored result gives `result_hash` again.

One result per run: recording a run again returns the first row (a retried step is harmless),
unless the second result differs, which is a `Conflict` (a run that computed two answers is a
bug to look at, not a row to overwrite).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from batonflow.apps.portfolio.tables import results as results_t
from batonflow.errors import Conflict, InvalidInput, NotFound
from batonflow.ids import new_id
from batonflow.store.db import Conn


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise InvalidInput(f"{value} is not a finite number; a result holds finite numbers")
        return format(value, "f")
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"a {type(value).__name__} has no canonical JSON form")


def canonical(value: Any) -> bytes:
    """The canonical JSON bytes of `value` (see the module docstring)."""
    try:
        text = json.dumps(
            value,
            default=_plain,
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
            allow_nan=False,
        )
    except ValueError:
        raise InvalidInput("a result holds finite numbers only, not NaN or infinity") from None
    except TypeError as exc:
        raise InvalidInput(f"a result holds JSON values, decimals and dates: {exc}") from None
    return text.encode("utf-8")


def result_hash(value: Any) -> str:
    """The SHA-256 (hex) of `value`'s canonical JSON."""
    return hashlib.sha256(canonical(value)).hexdigest()


def _stored(value: Any) -> Any:
    return json.loads(canonical(value))


def _sources(sources: Iterable[str]) -> list[str]:
    names = sorted(set(sources))
    if not all(isinstance(name, str) and name.strip() for name in names):
        raise InvalidInput("sources must be non-empty source names, such as 'offline' or 'fred'")
    return names


_PINNED = ("pattern_id", "pattern_version", "portfolio_id", "pricing_pack_id")


async def record(
    conn: Conn,
    tenant_id: str,
    run_id: str,
    pattern_id: str,
    pattern_version: int,
    portfolio_id: str | None,
    pricing_pack_id: str,
    ledger_commit_hash: str | None,
    inputs: Mapping[str, Any],
    result: Mapping[str, Any],
    sources: Iterable[str],
    actor: str,
    now: datetime,
) -> dict[str, Any]:
    """Record a run's result (its row); the same result again is the first row, another one
    for the same run a `Conflict`."""
    row = {
        "tenant_id": tenant_id,
        "run_id": run_id,
        "pattern_id": pattern_id,
        "pattern_version": pattern_version,
        "portfolio_id": portfolio_id,
        "pricing_pack_id": pricing_pack_id,
        "ledger_commit_hash": ledger_commit_hash,
        "inputs": _stored(dict(inputs)),
        "result": _stored(dict(result)),
        "result_hash": result_hash(dict(result)),
        "sources": _sources(sources),
        "created_by": actor[:200],
        "created_at": now,
    }
    earlier = await _one(conn, tenant_id, results_t.c.run_id == run_id)
    if earlier is not None:
        differ = [
            name
            for name in (*_PINNED, "ledger_commit_hash", "result_hash", "sources")
            if earlier[name] != row[name]
        ]
        if differ:
            raise Conflict(
                f"run {run_id} already recorded a different result ({', '.join(differ)} "
                f"differ); a run records one result",
                details={"result_id": earlier["id"], "differ": differ},
            )
        return earlier
    row["id"] = new_id()
    await conn.execute(sa.insert(results_t).values(**row))
    return await get(conn, tenant_id, row["id"])


async def _one(conn: Conn, tenant_id: str, where: Any) -> dict[str, Any] | None:
    found = (
        (await conn.execute(sa.select(results_t).where(results_t.c.tenant_id == tenant_id, where)))
        .mappings()
        .first()
    )
    return None if found is None else dict(found)


async def get(conn: Conn, tenant_id: str, result_id: str) -> dict[str, Any]:
    """One of the tenant's results; `NotFound` for any other id (another tenant's too)."""
    found = await _one(conn, tenant_id, results_t.c.id == result_id)
    if found is None:
        raise NotFound(f"no result {result_id}")
    return found


async def find_by_run(conn: Conn, tenant_id: str, run_id: str) -> dict[str, Any] | None:
    """The result a run recorded, if it recorded one."""
    return await _one(conn, tenant_id, results_t.c.run_id == run_id)


async def page(
    conn: Conn,
    tenant_id: str,
    *,
    limit: int,
    before: tuple[datetime, str] | None = None,
    portfolio_id: str | None = None,
    pattern_id: str | None = None,
) -> list[dict[str, Any]]:
    """Up to `limit` of the tenant's results, newest first, older than the `(created_at, id)`
    of `before`; only a portfolio's or a pattern's when given."""
    query = sa.select(results_t).where(results_t.c.tenant_id == tenant_id)
    if before is not None:
        at, last_id = before
        query = query.where(
            sa.or_(
                results_t.c.created_at < at,
                sa.and_(results_t.c.created_at == at, results_t.c.id < last_id),
            )
        )
    if portfolio_id is not None:
        query = query.where(results_t.c.portfolio_id == portfolio_id)
    if pattern_id is not None:
        query = query.where(results_t.c.pattern_id == pattern_id)
    rows = await conn.execute(
        query.order_by(results_t.c.created_at.desc(), results_t.c.id.desc()).limit(limit)
    )
    return [dict(row) for row in rows.mappings()]
