"""A pack build: what to fetch (the tenant's symbols, the FX pairs its currencies need, the
macro series), fetching it from the configured providers (the first that knows a key gives
it), and the build row's moves (`pack_rows.py`). The fetching happens outside any transaction:
`begin` and `finish` (or `fail`) are short write transactions of their own.

What a build asks for, unless the caller names symbols: every symbol of the tenant's ledgers
and every portfolio's benchmark (a tenant with neither gets the offline provider's symbols),
with their splits and dividends; the pair `XXXUSD` of every other currency its ledgers and
portfolios use; and `MACRO`. Prices and corporate actions run from ten days before the first
trade (or `HISTORY` before `as_of`) to `as_of`; macro series from `MACRO_HISTORY` before `as_of`
at the latest. A symbol without a split or a dividend in those dates is the norm, not a missing
key.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

import sqlalchemy as sa

from batonflow.apps.portfolio import pack_rows
from batonflow.apps.portfolio.providers import ACTIONS, Fetched, Provider, open_providers
from batonflow.apps.portfolio.providers.client import Backoff
from batonflow.apps.portfolio.providers.offline import Offline
from batonflow.apps.portfolio.settings import PortfolioSettings
from batonflow.apps.portfolio.tables import portfolios, transactions
from batonflow.errors import BatonflowError, InvalidInput
from batonflow.runs.service import Actor, start_run
from batonflow.store import workflows as workflow_store
from batonflow.store.db import Conn

T = TypeVar("T")
Work = Callable[[Callable[[Conn], Awaitable[T]]], Awaitable[T]]

WORKFLOW = "portfolio-pack-build"
# The macro series the macro regime reads (10- and 2-year Treasury yields, unemployment, the
# consumer price index), the 3-month bill and the VIX; a year and more of them, for the regime's
# changes over twelve months.
MACRO = ("DGS10", "DGS2", "UNRATE", "CPIAUCSL", "DTB3", "VIXCLS")
MACRO_HISTORY = timedelta(days=400)
HISTORY = timedelta(days=5 * 365)
LEAD = timedelta(days=10)
MAX_SYMBOLS = 500


@dataclass(frozen=True, slots=True)
class Plan:
    """What one build fetches, and over which dates."""

    as_of: date
    start: date
    keys: dict[str, list[str]]  # by kind
    macro_start: date | None = None  # macro series start here (default: `start`)

    def start_of(self, kind: str) -> date:
        return self.macro_start or self.start if kind == "macro" else self.start


async def plan(conn: Conn, tenant_id: str, as_of: date, symbols: list[str] | None = None) -> Plan:
    """What to fetch for the tenant (see the module docstring)."""
    traded = (
        await conn.execute(
            sa.select(
                transactions.c.symbol, transactions.c.currency, transactions.c.trade_date
            ).where(transactions.c.tenant_id == tenant_id)
        )
    ).all()
    held = (
        await conn.execute(
            sa.select(portfolios.c.benchmark, portfolios.c.base_currency).where(
                portfolios.c.tenant_id == tenant_id
            )
        )
    ).all()
    if symbols:
        wanted = sorted({s.strip().upper() for s in symbols if s.strip()})
    else:
        found = {r.symbol for r in traded if r.symbol} | {r.benchmark for r in held if r.benchmark}
        wanted = sorted(found) or Offline.symbols()
    if len(wanted) > MAX_SYMBOLS:
        raise InvalidInput(f"a pack prices at most {MAX_SYMBOLS} symbols; {len(wanted)} asked")
    currencies = {r.currency for r in traded} | {r.base_currency for r in held}
    pairs = sorted(f"{c}USD" for c in currencies if c and c != "USD")
    first = min((r.trade_date for r in traded), default=None)
    start = first - LEAD if first is not None else as_of - HISTORY
    keys = {
        "price": wanted,
        "fx": pairs,
        "split": wanted,
        "dividend": wanted,
        "macro": list(MACRO),
        "news": wanted,
    }
    start = min(start, as_of)
    return Plan(as_of, start, keys, macro_start=min(start, as_of - MACRO_HISTORY))


async def fetch(providers: list[Provider], plan: Plan) -> tuple[list[Fetched], list[str]]:
    """Every key of the plan from the first provider that knows it (a provider that fails
    fails the build); and the keys nobody knew, as `kind:key`."""

    async def one(kind: str, key: str) -> Fetched | None:
        for provider in providers:
            if kind in provider.kinds:
                found = await provider.fetch(kind, key, plan.start_of(kind), plan.as_of)
                if found is not None:
                    return found
        return None

    asked = [
        (kind, key)
        for kind, keys in plan.keys.items()
        if any(kind in p.kinds for p in providers)
        for key in keys
    ]
    got = await asyncio.gather(*(one(kind, key) for kind, key in asked))
    rows = [row for row in got if row is not None]
    missing = [
        f"{kind}:{key}"
        for (kind, key), row in zip(asked, got, strict=True)
        if row is None and kind not in ACTIONS
    ]
    return rows, missing


async def queue(
    conn: Conn,
    tenant_id: str,
    actor: Actor,
    now: datetime,
    settings: PortfolioSettings,
    *,
    as_of: date | None = None,
    symbols: list[str] | None = None,
    max_active_runs: int | None = None,
) -> dict[str, Any]:
    """Start a build: queue a `portfolio-pack-build` run and its warming row (the harvester
    takes that row up when the run executes)."""
    day = as_of or now.date()
    version = await workflow_store.get_version(conn, tenant_id, WORKFLOW)
    run = await start_run(
        conn,
        tenant_id=tenant_id,
        version=version,
        inputs={"as_of": day.isoformat(), "symbols": symbols or []},
        actor=actor,
        now=now,
        max_active_runs=max_active_runs,
    )
    estimate = await pack_rows.estimate_seconds(conn, tenant_id, settings.pack_estimate)
    return await pack_rows.begin(conn, tenant_id, now, as_of=day, estimate=estimate, run_id=run.id)


def _error_of(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, BatonflowError):
        return {"code": exc.code, "message": exc.message, "details": exc.details}
    return {"code": "exception", "message": str(exc) or type(exc).__name__, "details": {}}


async def build(
    write: Work[Any],
    read: Work[Any],
    settings: PortfolioSettings,
    tenant_id: str,
    *,
    as_of: date | None = None,
    symbols: list[str] | None = None,
    run_id: str | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    backoff: Backoff | None = None,
) -> dict[str, Any]:
    """Build a pack for the tenant: the build row as it ends (`fresh`, `unchanged` or, with
    the error raised after it is recorded, `failed`)."""
    day = as_of or now().date()

    async def begin(conn: Conn) -> dict[str, Any]:
        estimate = await pack_rows.estimate_seconds(conn, tenant_id, settings.pack_estimate)
        return await pack_rows.begin(
            conn, tenant_id, now(), as_of=day, estimate=estimate, run_id=run_id
        )

    row: dict[str, Any] = await write(begin)
    if row["state"] not in ("warming", "failed"):
        return row  # an earlier attempt finished it
    build_id, day = row["build_id"], date.fromisoformat(row["as_of"])  # as queued
    try:
        wanted = await read(lambda conn: plan(conn, tenant_id, day, symbols))
        providers = open_providers(settings, backoff)
        try:
            rows, missing = await fetch(providers, wanted)
        finally:
            for provider in providers:
                await provider.aclose()
    except Exception as exc:
        error = _error_of(exc)
        await write(lambda conn: pack_rows.fail(conn, tenant_id, build_id, error, now()))
        raise
    sources = sorted({r.source for r in rows})
    counts: dict[str, Any] = {kind: sum(r.kind == kind for r in rows) for kind in wanted.keys}
    counts["missing"] = missing
    done: dict[str, Any] = await write(
        lambda conn: pack_rows.finish(
            conn, tenant_id, build_id, rows, sources=sources, counts=counts, now=now()
        )
    )
    return done
