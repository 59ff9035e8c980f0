"""Executing a pattern: pin the inputs, run the pattern's workflow, keep its result.

A pattern is a workflow shipped with the app (`PATTERNS`). `start` pins what the result will be
computed from before the run starts: the pricing pack (the current fresh one, or the one asked
for; a pack still warming refuses with `NotReady`, which the API answers with 503) and, for a
pattern on a portfolio, the ledger's state (its head commit hash, or the one asked for). The run
carries both as inputs and as labels (on its steps' spans), so the same pattern on the same pins
computes the same bytes: `result_hash` on the result says so, and `rerun` starts a past run's
pattern again on its pins, whatever packs and commits came since.

What a finished run produced is kept in `portfolio_results` by `settle`, the first time anyone
asks for the run after it ended (any process may do it; the record is idempotent per run).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import sqlalchemy as sa

from batonflow.apps.portfolio import ledger, packs, results, rights
from batonflow.errors import InvalidInput, NotFound
from batonflow.events.bus import EventBus
from batonflow.runs.service import Actor, start_run
from batonflow.store import workflows as workflow_store
from batonflow.store.db import Conn
from batonflow.store.tables import Run, table

T = TypeVar("T")
Work = Callable[[Conn], Awaitable[T]]
runs_t = table(Run)
ENDED = frozenset({"succeeded", "failed", "dead", "cancelled"})


@dataclass(frozen=True, slots=True)
class Pattern:
    id: str  # the workflow's id
    title: str
    description: str
    on_portfolio: bool  # needs a portfolio (and pins its ledger state)


PATTERNS = {
    p.id: p
    for p in (
        Pattern(
            "portfolio_overview",
            "Portfolio overview",
            "Positions priced on the pack: value by position and currency, weights, returns, "
            "risk, drawdown, beta against the benchmark and concentration",
            on_portfolio=True,
        ),
        Pattern(
            "macro_regime",
            "Macro regime",
            "The economy's regime from the pack's macro series, with the figures behind it",
            on_portfolio=False,
        ),
    )
}


def pattern(pattern_id: str) -> Pattern:
    found = PATTERNS.get(pattern_id)
    if found is None:
        raise NotFound(f"no pattern '{pattern_id}'; the patterns are: {', '.join(PATTERNS)}")
    return found


@dataclass(frozen=True)
class Host:
    """What executing uses of the process it runs in (the API or the CLI)."""

    write: Callable[[Work[Any]], Awaitable[Any]]
    read: Callable[[Work[Any]], Awaitable[Any]]
    wake: Callable[[], None]  # tell the executors a run was queued
    bus: EventBus
    max_active_runs: int | None = None

    @staticmethod
    def now() -> datetime:
        return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Pins:
    pricing_pack_id: str
    ledger_commit_hash: str | None


async def _pins(
    conn: Conn,
    tenant_id: str,
    found: Pattern,
    portfolio_id: str | None,
    pack_id: str | None,
    commit_hash: str | None,
    now: datetime,
) -> Pins:
    pack = await packs.require_fresh(conn, tenant_id, now, pack_id)
    if not found.on_portfolio:
        return Pins(pack["pack_id"], None)
    if not portfolio_id:
        raise InvalidInput(f"the pattern '{found.id}' runs on a portfolio: give portfolio_id")
    await ledger.get_portfolio(conn, tenant_id, portfolio_id)
    if commit_hash is None:
        commit_hash = await ledger.head(conn, tenant_id, portfolio_id)
        if not commit_hash:
            raise InvalidInput(
                "the portfolio has no transactions yet: add some, or import a ledger CSV"
            )
    else:
        await ledger.commit_at(conn, tenant_id, portfolio_id, commit_hash)
    return Pins(pack["pack_id"], commit_hash)


async def start(
    host: Host,
    actor: Actor,
    tenant_id: str,
    pattern_id: str,
    *,
    inputs: dict[str, Any],
    portfolio_id: str | None = None,
    pricing_pack_id: str | None = None,
    ledger_commit_hash: str | None = None,
) -> str:
    """Start the pattern on pinned inputs; the run's id."""
    found = pattern(pattern_id)

    async def work(conn: Conn) -> str:
        now = host.now()
        pins = await _pins(
            conn, tenant_id, found, portfolio_id, pricing_pack_id, ledger_commit_hash, now
        )
        version = await workflow_store.get_version(conn, tenant_id, found.id)
        labels = {"pattern_id": found.id, "pricing_pack_id": pins.pricing_pack_id}
        pinned = {**inputs, "pricing_pack_id": pins.pricing_pack_id}
        if found.on_portfolio:
            labels["ledger_commit_hash"] = pins.ledger_commit_hash or ""
            pinned |= {"portfolio_id": portfolio_id, "ledger_commit_hash": pins.ledger_commit_hash}
        run = await start_run(
            conn,
            tenant_id=tenant_id,
            version=version,
            inputs=pinned,
            actor=actor,
            now=now,
            ctx={"labels": labels},
            max_active_runs=host.max_active_runs,
        )
        return run.id

    run_id: str = await host.write(work)
    host.wake()
    return run_id


async def rerun(host: Host, actor: Actor, tenant_id: str, run_id: str) -> str:
    """Run a past execution's pattern again on the same inputs and pins."""
    row = await host.read(lambda conn: _run(conn, tenant_id, run_id))
    inputs = dict(row["inputs"] or {})
    return await start(
        host,
        actor,
        tenant_id,
        row["workflow_id"],
        inputs={k: v for k, v in inputs.items() if k not in _PINNED},
        portfolio_id=inputs.get("portfolio_id"),
        pricing_pack_id=inputs.get("pricing_pack_id"),
        ledger_commit_hash=inputs.get("ledger_commit_hash"),
    )


_PINNED = frozenset({"portfolio_id", "pricing_pack_id", "ledger_commit_hash"})


async def _run(conn: Conn, tenant_id: str, run_id: str) -> dict[str, Any]:
    row = (
        await conn.execute(
            sa.select(
                runs_t.c.id,
                runs_t.c.workflow_id,
                runs_t.c.workflow_version_pk,
                runs_t.c.status,
                runs_t.c.inputs,
                runs_t.c.outputs,
                runs_t.c.error,
                runs_t.c.created_by,
            ).where(runs_t.c.tenant_id == tenant_id, runs_t.c.id == run_id)
        )
    ).first()
    if row is None or row.workflow_id not in PATTERNS:
        raise NotFound(f"no pattern execution '{run_id}'")
    return dict(row._mapping)


async def wait(host: Host, tenant_id: str, run_id: str, seconds: float) -> str:
    """The run's status once it ended, or when `seconds` passed. The bus is the
    doorbell; the runs table is the truth (read on each ring, and every quarter second for
    runs that another process executes)."""
    deadline = time.monotonic() + seconds
    async with host.bus.subscribe() as bell:
        while True:
            status: str = (await host.read(lambda conn: _run(conn, tenant_id, run_id)))["status"]
            left = deadline - time.monotonic()
            if status in ENDED or left <= 0:
                return status
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(bell.get(), min(left, 0.25))


async def settle(host: Host, tenant_id: str, run_id: str) -> dict[str, Any]:
    """The execution as the API and the CLI show it: the run's state, and once it succeeded its
    kept result (recorded now if nobody did yet) with the attribution its sources ask for."""
    run = await host.read(lambda conn: _run(conn, tenant_id, run_id))
    inputs = run["inputs"] or {}
    answer: dict[str, Any] = {
        "run_id": run_id,
        "pattern_id": run["workflow_id"],
        "status": run["status"],
        "pricing_pack_id": inputs.get("pricing_pack_id"),
        "ledger_commit_hash": inputs.get("ledger_commit_hash"),
        "error": run["error"] if run["status"] in ENDED - {"succeeded"} else None,
        "pattern_version": None,
        "result_id": None,
        "result_hash": None,
        "result": None,
        "sources": [],
        "attribution": [],
    }
    if run["status"] != "succeeded":
        return answer

    async def keep(conn: Conn) -> dict[str, Any]:
        kept = await results.find_by_run(conn, tenant_id, run_id)
        if kept is not None:
            return kept
        version = await workflow_store.get_version_by_pk(
            conn, tenant_id, run["workflow_version_pk"]
        )
        sealed = (run["outputs"] or {})["sealed"]
        return await results.record(
            conn,
            tenant_id,
            run_id=run_id,
            pattern_id=run["workflow_id"],
            pattern_version=int(version.version),
            portfolio_id=inputs.get("portfolio_id"),
            pricing_pack_id=inputs["pricing_pack_id"],
            ledger_commit_hash=inputs.get("ledger_commit_hash"),
            inputs=inputs,
            result=sealed["result"],
            sources=sealed["sources"],
            actor=run["created_by"],
            now=host.now(),
        )

    kept = await host.write(keep)
    sources = list(kept["sources"])
    lines = await host.read(lambda conn: rights.attribution_lines(conn, tenant_id, sources))
    return answer | {
        "pattern_version": kept["pattern_version"],
        "result_id": kept["id"],
        "result_hash": kept["result_hash"],
        "result": kept["result"],
        "sources": sources,
        "attribution": lines,
    }
