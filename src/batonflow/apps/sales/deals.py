"""Deals on the database: a company (and contact) buying, in a pipeline's stage, with line items
from the catalog. A deal with lines has the amount its lines add up to (`money.line_net` each,
computed here, never entered); one without lines has the amount entered. Every change of stage,
the first one included, is a stage move: from, to, who (a user or an agent), why, which run.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from batonflow.apps.sales import companies, deal_lines, money, pipelines
from batonflow.apps.sales import tables as t
from batonflow.errors import InvalidInput, NotFound
from batonflow.ids import new_id
from batonflow.store.db import Conn

ACTOR_KINDS = ("user", "agent")
FIELDS = (
    "title",
    "company_id",
    "contact_id",
    "lead_id",
    "amount",
    "currency",
    "close_date",
    "probability",
    "owner",
)


def shown(deal: dict[str, Any]) -> dict[str, Any]:
    """The deal row with its amount in its currency's minor unit (stored text drops zeros)."""
    amount = deal["amount"]
    return deal | {"amount": None if amount is None else money.rounded(amount, deal["currency"])}


async def _lines(conn: Conn, tenant_id: str, deal_id: str) -> list[dict[str, Any]]:
    rows = await conn.execute(
        sa.select(t.deal_lines)
        .where(t.deal_lines.c.tenant_id == tenant_id, t.deal_lines.c.deal_id == deal_id)
        .order_by(t.deal_lines.c.position)
    )
    return [dict(row._mapping) for row in rows]


async def _history(conn: Conn, tenant_id: str, deal_id: str) -> list[dict[str, Any]]:
    rows = await conn.execute(
        sa.select(t.stage_moves)
        .where(t.stage_moves.c.tenant_id == tenant_id, t.stage_moves.c.deal_id == deal_id)
        .order_by(t.stage_moves.c.at, t.stage_moves.c.id)
    )
    return [dict(row._mapping) for row in rows]


async def get_deal(conn: Conn, tenant_id: str, deal_id: str) -> dict[str, Any]:
    """The deal with its `lines` (each with its `net`), `stage`, `history` of stage moves and
    `totals` (`subtotal` before discounts, `discount`, `net`: all in the deal's currency)."""
    row = (
        await conn.execute(
            sa.select(t.deals).where(t.deals.c.tenant_id == tenant_id, t.deals.c.id == deal_id)
        )
    ).first()
    if row is None:
        raise NotFound(f"no deal '{deal_id}'")
    deal = shown(dict(row._mapping))
    code = deal["currency"]
    lines = deal_lines.with_nets(await _lines(conn, tenant_id, deal_id), code)
    gross = money.rounded(sum((x["quantity"] * x["unit_price"] for x in lines), Decimal(0)), code)
    net = sum((x["net"] for x in lines), Decimal(0)) if lines else deal["amount"]
    stage = await pipelines.get_stage(conn, tenant_id, deal["stage_id"])
    return deal | {
        "lines": lines,
        "stage": stage,
        "history": await _history(conn, tenant_id, deal_id),
        "totals": {
            "subtotal": gross if lines else deal["amount"],
            "discount": gross - net if lines else Decimal(0),
            "net": net,
        },
    }


def missing_fields(deal: dict[str, Any], stage: dict[str, Any]) -> list[str]:
    """The fields `stage` requires that `deal` (with its `lines`) lacks."""
    return [
        field
        for field in stage["required_fields"]
        if (not deal.get("lines") if field == "lines" else deal.get(field) in (None, ""))
    ]


async def _check_parties(conn: Conn, tenant_id: str, values: dict[str, Any]) -> None:
    if values.get("company_id"):
        await companies.get_company(conn, tenant_id, values["company_id"])
    if values.get("contact_id"):
        await companies.get_contact(conn, tenant_id, values["contact_id"])
    if values.get("lead_id"):
        found = await conn.scalar(
            sa.select(t.leads.c.id).where(
                t.leads.c.tenant_id == tenant_id, t.leads.c.id == values["lead_id"]
            )
        )
        if found is None:
            raise NotFound(f"no lead '{values['lead_id']}'")
    if values.get("probability") is not None and not 0 <= values["probability"] <= 100:
        raise InvalidInput("a probability is 0 to 100")
    if values.get("amount") is not None and values["amount"] < 0:
        raise InvalidInput("an amount is 0 or more")


async def _record_move(
    conn: Conn,
    tenant_id: str,
    deal_id: str,
    from_stage: str | None,
    to_stage: str,
    *,
    actor_kind: str,
    actor: str,
    reason: str,
    run_id: str | None,
    now: datetime,
) -> None:
    if actor_kind not in ACTOR_KINDS:
        raise InvalidInput(f"a stage move is made by a user or an agent, not '{actor_kind}'")
    await conn.execute(
        t.stage_moves.insert().values(
            id=new_id(),
            tenant_id=tenant_id,
            deal_id=deal_id,
            from_stage_id=from_stage,
            to_stage_id=to_stage,
            actor_kind=actor_kind,
            actor=actor,
            reason=reason,
            run_id=run_id,
            at=now,
        )
    )


def _refuse_missing(deal: dict[str, Any], stage: dict[str, Any]) -> None:
    missing = missing_fields(deal, stage)
    if missing:
        raise InvalidInput(
            f"a deal in '{stage['name']}' needs {', '.join(missing)}; set them first",
            details={"stage_id": stage["id"], "missing": missing},
        )


async def create_deal(
    conn: Conn,
    tenant_id: str,
    *,
    title: str,
    company_id: str,
    currency: str,
    pipeline_id: str | None = None,
    stage_id: str | None = None,
    lines: list[dict[str, Any]] | None = None,
    actor_kind: str = "user",
    actor: str,
    reason: str = "created",
    run_id: str | None = None,
    now: datetime,
    **fields: Any,
) -> dict[str, Any]:
    """A new deal in `stage_id`, or the first stage of its pipeline (the default pipeline
    unless `pipeline_id` names one); the stage's required fields are checked."""
    code = money.currency(currency)
    values: dict[str, Any] = {k: fields.get(k) for k in FIELDS if k in fields} | {
        "company_id": company_id
    }
    await _check_parties(conn, tenant_id, values)
    if values.get("amount") is not None:
        values["amount"] = money.rounded(values["amount"], code)
    if stage_id is not None:
        stage = await pipelines.get_stage(conn, tenant_id, stage_id)
        if pipeline_id is not None and stage["pipeline_id"] != pipeline_id:
            raise InvalidInput(f"the stage '{stage['name']}' is not in pipeline {pipeline_id}")
    else:
        pipeline = (
            await pipelines.get_pipeline(conn, tenant_id, pipeline_id)
            if pipeline_id
            else await pipelines.default_pipeline(conn, tenant_id, now)
        )
        stage = pipeline["stages"][0]
    priced = await deal_lines.priced(conn, tenant_id, code, lines or [])
    deal_id = new_id()
    row = values | {
        "id": deal_id,
        "tenant_id": tenant_id,
        "pipeline_id": stage["pipeline_id"],
        "stage_id": stage["id"],
        "title": companies.name(title, "deal title"),
        "currency": code,
        "created_at": now,
        "updated_at": now,
    }
    _refuse_missing(row | {"lines": priced}, stage)
    await conn.execute(t.deals.insert().values(row))
    amount = await deal_lines.store(conn, tenant_id, deal_id, code, priced)
    if amount is not None:
        await conn.execute(t.deals.update().where(t.deals.c.id == deal_id).values(amount=amount))
    await _record_move(
        conn,
        tenant_id,
        deal_id,
        None,
        stage["id"],
        actor_kind=actor_kind,
        actor=actor,
        reason=reason,
        run_id=run_id,
        now=now,
    )
    return await get_deal(conn, tenant_id, deal_id)


async def update_deal(
    conn: Conn,
    tenant_id: str,
    deal_id: str,
    *,
    now: datetime,
    lines: list[dict[str, Any]] | None = None,
    **changes: Any,
) -> dict[str, Any]:
    """Change the given fields (None clears an optional one) and, given `lines`, replace the
    lines. The amount of a deal with lines is theirs: setting it is refused. The deal must
    still have what its stage requires."""
    current = await get_deal(conn, tenant_id, deal_id)
    values = {k: v for k, v in changes.items() if k in FIELDS}
    if "title" in values:
        values["title"] = companies.name(values["title"], "deal title")
    if values.get("company_id") is None:
        values.pop("company_id", None)
    if "currency" in values:
        values["currency"] = money.currency(values["currency"] or "")
    await _check_parties(conn, tenant_id, values)
    code = values.get("currency", current["currency"])
    if values.get("amount") is not None:
        values["amount"] = money.rounded(values["amount"], code)
    stored = (
        current["lines"] if lines is None else await deal_lines.priced(conn, tenant_id, code, lines)
    )
    if values.get("amount") is not None and stored:
        raise InvalidInput("the amount of a deal with lines is the sum of its lines; change those")
    if "currency" in values and lines is None and stored and code != current["currency"]:
        raise InvalidInput("to change the currency of a deal with lines, send its lines again")
    _refuse_missing(current | values | {"lines": stored}, current["stage"])
    if lines is not None:
        amount = await deal_lines.store(conn, tenant_id, deal_id, code, stored)
        values["amount"] = amount if amount is not None else values.get("amount")
    values["updated_at"] = now
    await conn.execute(
        t.deals.update()
        .where(t.deals.c.tenant_id == tenant_id, t.deals.c.id == deal_id)
        .values(values)
    )
    return await get_deal(conn, tenant_id, deal_id)


async def move(
    conn: Conn,
    tenant_id: str,
    deal_id: str,
    stage_id: str,
    *,
    actor_kind: str,
    actor: str,
    reason: str,
    run_id: str | None = None,
    now: datetime,
) -> dict[str, Any]:
    """Move the deal to `stage_id` (of its pipeline) if the deal has the fields the stage
    requires (`InvalidInput` listing the missing ones otherwise), recording the move."""
    deal = await get_deal(conn, tenant_id, deal_id)
    stage = await pipelines.get_stage(conn, tenant_id, stage_id)
    if stage["pipeline_id"] != deal["pipeline_id"]:
        raise InvalidInput(f"the stage '{stage['name']}' is in another pipeline than the deal")
    if stage["id"] == deal["stage_id"]:
        return deal
    _refuse_missing(deal, stage)
    await _record_move(
        conn,
        tenant_id,
        deal_id,
        deal["stage_id"],
        stage["id"],
        actor_kind=actor_kind,
        actor=actor,
        reason=reason,
        run_id=run_id,
        now=now,
    )
    await conn.execute(
        t.deals.update()
        .where(t.deals.c.tenant_id == tenant_id, t.deals.c.id == deal_id)
        .values(stage_id=stage["id"], updated_at=now)
    )
    return await get_deal(conn, tenant_id, deal_id)


async def delete_deal(conn: Conn, tenant_id: str, deal_id: str) -> None:
    """Delete a deal with its lines and stage history."""
    await get_deal(conn, tenant_id, deal_id)
    for table in (t.deal_lines, t.stage_moves):
        await conn.execute(
            table.delete().where(table.c.tenant_id == tenant_id, table.c.deal_id == deal_id)
        )
    await conn.execute(
        t.deals.delete().where(t.deals.c.tenant_id == tenant_id, t.deals.c.id == deal_id)
    )


def _filtered(tenant_id: str, **filters: Any) -> sa.Select[Any]:
    query = sa.select(t.deals).where(t.deals.c.tenant_id == tenant_id)
    for key in ("pipeline_id", "stage_id", "owner", "company_id"):
        if filters.get(key) is not None:
            query = query.where(t.deals.c[key] == filters[key])
    if filters.get("q"):
        query = query.where(
            sa.func.lower(t.deals.c.title).like(companies.like(filters["q"]), escape="\\")
        )
    return query


async def list_deals(
    conn: Conn,
    tenant_id: str,
    *,
    limit: int,
    after: tuple[datetime, str] | None = None,
    pipeline_id: str | None = None,
    stage_id: str | None = None,
    owner: str | None = None,
    company_id: str | None = None,
    q: str | None = None,
) -> list[dict[str, Any]]:
    """A page of deals (without their lines), newest first; `q` searches the title."""
    query = _filtered(
        tenant_id,
        pipeline_id=pipeline_id,
        stage_id=stage_id,
        owner=owner,
        company_id=company_id,
        q=q,
    )
    rows = await conn.execute(companies.newest_first(query, t.deals, after, limit))
    return [shown(dict(row._mapping)) for row in rows]
