"""Runs as the API lists them: keyset pages with filters, costs per run, active-run counts and
idempotent starts. Every query takes `tenant_id`.

A page may be narrowed to runs whose id starts or ends with a short id (what the CLI accepts), and
searched: words match an id's start or end, the workflow id or the text of the inputs.

A page is ordered newest first by `(created_at, id)` and continued from the last row's pair, so
a deep page costs what the first one does (the `ix_runs_tenant_created` index serves both).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Text, bindparam, cast, func, or_, select, tuple_, type_coerce

from batonflow.runs.run import RunStatus
from batonflow.store.columns import UtcDateTime, usd
from batonflow.store.db import Conn, Prepared
from batonflow.store.runs import of_tenant
from batonflow.store.tables import LlmCall, Run, table, visible

runs_t = table(Run)
calls_t = table(LlmCall)
ACTIVE = (RunStatus.QUEUED.value, RunStatus.RUNNING.value, RunStatus.WAITING.value)
SUMMARY_COLUMNS = (
    "id",
    "workflow_id",
    "workflow_version",
    "status",
    "created_by",
    "parent_run_id",
    "error",
    "created_at",
    "started_at",
    "finished_at",
    "inputs",
)
DETAIL_COLUMNS = (*SUMMARY_COLUMNS, "content_hash", "private_to", "ctx", "outputs")


@dataclass(frozen=True, slots=True)
class Spend:
    calls: int
    tokens: int
    cost_usd: Decimal


def _spent(amount: Any) -> Any:
    """A run's model-call total, as a column of the run's row (the `ix_llm_calls_run` index
    serves it): a page of 50 runs and their costs is one statement."""
    return (
        select(func.coalesce(amount, 0))
        .where(calls_t.c.run_id == runs_t.c.id)
        .correlate(runs_t)
        .scalar_subquery()
    )


PAGE_COLUMNS = (*SUMMARY_COLUMNS, "calls", "tokens", "pico")


@functools.lru_cache(maxsize=256)
def _page_query(
    statuses: int,
    workflow: bool,
    since: bool,
    before: bool,
    after: bool,
    limit: int,
    short_id: bool = False,
    search: bool = False,
    private: bool = False,
) -> Prepared:
    """The page statement for one shape of filters, compiled once; `private`: the viewer is
    no admin, so runs private to someone else are left out."""
    query = select(
        *(runs_t.c[name] for name in SUMMARY_COLUMNS),
        _spent(func.count()),
        _spent(func.sum(calls_t.c.input_tokens + calls_t.c.output_tokens)),
        _spent(func.sum(type_coerce(calls_t.c.cost_usd, BigInteger))),
    ).where(runs_t.c.tenant_id == bindparam("tenant_id"))
    if private:
        query = query.where(visible(bindparam("viewer")))
    if statuses:
        query = query.where(
            or_(*(runs_t.c.status == bindparam(f"status_{i}") for i in range(statuses)))
        )
    if workflow:
        query = query.where(runs_t.c.workflow_id == bindparam("workflow_id"))
    if since:
        query = query.where(runs_t.c.created_at >= bindparam("created_after", type_=UtcDateTime()))
    if before:
        query = query.where(runs_t.c.created_at < bindparam("created_before", type_=UtcDateTime()))
    if short_id:
        query = query.where(_id_matches("short_id"))
    if search:
        inputs = cast(runs_t.c.inputs, Text)
        query = query.where(
            or_(
                _id_matches("search"),
                runs_t.c.workflow_id.ilike(bindparam("search_anywhere"), escape="/"),
                inputs.ilike(bindparam("search_anywhere"), escape="/"),
                # JSON may store non-ASCII text escaped (`M\u00fcller`): look for that too.
                inputs.ilike(bindparam("search_json"), escape="/"),
            )
        )
    if after:
        query = query.where(
            tuple_(runs_t.c.created_at, runs_t.c.id)
            < tuple_(bindparam("after_created", type_=UtcDateTime()), bindparam("after_id"))
        )
    return Prepared(query.order_by(runs_t.c.created_at.desc(), runs_t.c.id.desc()).limit(limit))


def _id_matches(name: str) -> Any:
    """The id starts with the `<name>_start` pattern or ends with the `<name>_end` one."""
    return or_(
        runs_t.c.id.like(bindparam(f"{name}_start"), escape="/"),
        runs_t.c.id.like(bindparam(f"{name}_end"), escape="/"),
    )


def _literal(text: str) -> str:
    """`text` for a LIKE pattern with `/` as its escape character."""
    return text.replace("/", "//").replace("%", "/%").replace("_", "/_")


def _id_params(name: str, text: str) -> dict[str, str]:
    return {f"{name}_start": _literal(text) + "%", f"{name}_end": "%" + _literal(text)}


async def page(
    conn: Conn,
    tenant_id: str,
    *,
    limit: int,
    status: Sequence[str] = (),
    workflow_id: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    after: tuple[datetime, str] | None = None,
    short_id: str | None = None,
    search: str | None = None,
    viewer: str | None,
) -> list[tuple[dict[str, Any], Spend]]:
    """Up to `limit` runs `viewer` may see (`store.tables.visible`) with what each spent, newest
    first, continuing after the `(created_at, id)` of `after`; `short_id` keeps runs whose id
    starts or ends with it, `search` those whose id starts or ends with it or whose workflow id
    or inputs contain it."""
    statement = _page_query(
        len(status),
        bool(workflow_id),
        created_after is not None,
        created_before is not None,
        after is not None,
        limit,
        bool(short_id),
        bool(search),
        viewer is not None,
    )
    params: dict[str, Any] = {"tenant_id": tenant_id, "workflow_id": workflow_id}
    if viewer is not None:
        params["viewer"] = viewer
    params |= {f"status_{i}": value for i, value in enumerate(status)}
    params |= {"created_after": created_after, "created_before": created_before}
    if short_id:
        params |= _id_params("short_id", short_id.lower())
    if search:
        params |= _id_params("search", search.lower())
        params["search_anywhere"] = f"%{_literal(search)}%"
        params["search_json"] = f"%{_literal(json.dumps(search)[1:-1])}%"
    if after is not None:
        params |= {"after_created": after[0], "after_id": after[1]}
    out = []
    for values in await statement.fetch(conn, params):
        row = dict(zip(PAGE_COLUMNS, values, strict=True))
        calls, tokens, pico = row.pop("calls"), row.pop("tokens"), row.pop("pico")
        out.append((row, Spend(int(calls), int(tokens), usd(int(pico)))))
    return out


# The reads of every get-run are prepared (compiled once; in the SQLite database thread they run
# straight on the sqlite3 connection). Queries that name a run compare the tenant through
# `of_tenant`, so SQLite finds the run's rows by their key rather than walking the tenant's.
_DETAIL = select(*(runs_t.c[name] for name in DETAIL_COLUMNS)).where(
    runs_t.c.id == bindparam("run_id"), of_tenant(runs_t.c.tenant_id, bindparam("tenant_id"))
)
_DETAILS = (Prepared(_DETAIL), Prepared(_DETAIL.where(visible(bindparam("viewer")))))
_RUN_SPEND = Prepared(
    select(
        func.count(),
        func.coalesce(func.sum(calls_t.c.input_tokens + calls_t.c.output_tokens), 0),
        func.coalesce(func.sum(type_coerce(calls_t.c.cost_usd, BigInteger)), 0),
    ).where(
        calls_t.c.run_id == bindparam("run_id"),
        of_tenant(calls_t.c.tenant_id, bindparam("tenant_id")),
    )
)


async def detail(
    conn: Conn, tenant_id: str, run_id: str, *, viewer: str | None
) -> dict[str, Any] | None:
    """The summary columns with the run's content hash, inputs, ctx and outputs, in one read;
    None when the tenant has no such run or `viewer` may not see it."""
    params = {"tenant_id": tenant_id, "run_id": run_id}
    if viewer is None:
        rows = await _DETAILS[0].fetch(conn, params)
    else:
        rows = await _DETAILS[1].fetch(conn, params | {"viewer": viewer})
    return dict(zip(DETAIL_COLUMNS, rows[0], strict=True)) if rows else None


async def run_spend(conn: Conn, tenant_id: str, run_id: str) -> Spend:
    """Model calls, tokens and exact cost of one run."""
    calls, tokens, pico = (
        await _RUN_SPEND.fetch(conn, {"tenant_id": tenant_id, "run_id": run_id})
    )[0]
    return Spend(int(calls), int(tokens), usd(int(pico)))


async def active_count(conn: Conn, tenant_id: str) -> int:
    """Top-level runs of the tenant that are queued, running or waiting."""
    value = await conn.scalar(
        select(func.count()).where(
            runs_t.c.tenant_id == tenant_id,
            runs_t.c.status.in_(ACTIVE),
            runs_t.c.parent_run_id.is_(None),
        )
    )
    return int(value or 0)


async def by_idempotency_key(conn: Conn, tenant_id: str, key: str) -> tuple[str, str] | None:
    """(run id, request hash) of the run the tenant started with `key`, if any."""
    row = (
        await conn.execute(
            select(runs_t.c.id, runs_t.c.idempotency_hash).where(
                runs_t.c.tenant_id == tenant_id, runs_t.c.idempotency_key == key
            )
        )
    ).first()
    return (row.id, row.idempotency_hash) if row else None
