"""Proposals on the database: a deal's lines priced from the catalog, by code, and the text a
model wrote about them, kept as numbered versions per deal.

`price` reads the catalog and computes every number a proposal shows (each line's net with
`money.line_net`, the subtotal before discounts, the discount and the total, in the deal's
currency); `record` writes the priced lines to the deal (replacing its lines) and keeps the
proposal as the deal's next version. A proposal is written once per call key (the run and step
of the agent call that wrote it): `find_by_call` finds the one a retried attempt must return.

`recall` and `remember` keep what another agent call that changes records answered, by call
key, for the same reason.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from batonflow.apps.sales import deals, money
from batonflow.apps.sales import proposal_tables as pt
from batonflow.apps.sales import tables as t
from batonflow.errors import InvalidInput, NotFound
from batonflow.ids import new_id
from batonflow.store.db import Conn

AMOUNTS = ("quantity", "unit_price", "discount", "net")


def shown_price(price: Decimal, code: str) -> Decimal:
    """A unit price to the currency's minor unit, unless the catalog has it more precisely."""
    places = -int(price.as_tuple().exponent)
    return price if places > money.MINOR_UNITS[code] else money.rounded(price, code)


async def _products_by_sku(conn: Conn, tenant_id: str, skus: list[str]) -> dict[str, Any]:
    rows = await conn.execute(
        sa.select(t.products).where(t.products.c.tenant_id == tenant_id, t.products.c.sku.in_(skus))
    )
    return {row.sku: dict(row._mapping) for row in rows}


async def _products_by_id(conn: Conn, tenant_id: str, ids: list[str]) -> dict[str, Any]:
    rows = await conn.execute(
        sa.select(t.products).where(t.products.c.tenant_id == tenant_id, t.products.c.id.in_(ids))
    )
    return {row.id: dict(row._mapping) for row in rows}


async def _wanted(
    conn: Conn, tenant_id: str, deal: dict[str, Any], items: list[dict[str, Any]] | None
) -> list[tuple[dict[str, Any], Decimal, Decimal]]:
    """(product, quantity, discount) of each line to propose: the items asked for (a product
    already on the deal keeps its line's discount unless the item names one), else the deal's
    current lines."""
    if items is None:
        products = await _products_by_id(conn, tenant_id, [x["product_id"] for x in deal["lines"]])
        return [(products[x["product_id"]], x["quantity"], x["discount"]) for x in deal["lines"]]
    skus = [item["sku"] for item in items]
    twice = sorted({sku for sku in skus if skus.count(sku) > 1})
    if twice:
        raise InvalidInput(f"the SKU {', '.join(twice)} is named twice; give each product once")
    products = await _products_by_sku(conn, tenant_id, skus)
    unknown = [sku for sku in skus if sku not in products]
    if unknown:
        raise InvalidInput(
            f"no product with the SKU {', '.join(unknown)} in the catalog; list it with "
            "GET /api/v1/sales/products"
        )
    kept = {x["product_id"]: x["discount"] for x in deal["lines"]}
    wanted = []
    for item in items:
        product = products[item["sku"]]
        discount = item.get("discount")
        if discount is None:
            discount = kept.get(product["id"], Decimal(0))
        wanted.append((product, Decimal(item["quantity"]), Decimal(discount)))
    return wanted


async def price(
    conn: Conn, tenant_id: str, deal: dict[str, Any], items: list[dict[str, Any]] | None
) -> tuple[list[dict[str, Any]], dict[str, Decimal]]:
    """The proposal's lines priced from the catalog in the deal's currency, and its totals
    (`subtotal` before discounts, `discount`, `total`). `items` (`sku`, `quantity`, optional
    `discount`) replace the deal's lines; None reprices the deal's current lines."""
    code = deal["currency"]
    wanted = await _wanted(conn, tenant_id, deal, items)
    if not wanted:
        raise InvalidInput(
            "the deal has no lines to propose; name the products (SKU and quantity) to offer"
        )
    lines = []
    for number, (product, quantity, discount) in enumerate(wanted, 1):
        where = f"line {number} ({product['sku']})"
        if not product["active"]:
            raise InvalidInput(f"{where}: the product is retired; propose one the catalog offers")
        if product["currency"] != code:
            raise InvalidInput(
                f"{where}: the catalog prices the product in {product['currency']}, the deal is "
                f"in {code}; a proposal is priced from the catalog in the deal's currency"
            )
        if quantity <= 0:
            raise InvalidInput(f"{where}: a quantity is more than 0")
        unit_price = shown_price(product["unit_price"], code)
        lines.append(
            {
                "product_id": product["id"],
                "sku": product["sku"],
                "description": product["name"],
                "quantity": quantity,
                "unit_price": unit_price,
                "discount": discount,
                "net": money.line_net(quantity, unit_price, discount, code),
            }
        )
    gross = sum((x["quantity"] * x["unit_price"] for x in lines), Decimal(0))
    subtotal = money.rounded(gross, code)
    total = sum((x["net"] for x in lines), Decimal(0))
    return lines, {"subtotal": subtotal, "discount": subtotal - total, "total": total}


def _as_json(lines: list[dict[str, Any]], totals: dict[str, Decimal]) -> tuple[Any, Any]:
    return (
        [x | {k: str(x[k]) for k in AMOUNTS} for x in lines],
        {k: str(v) for k, v in totals.items()},
    )


def _shown(row: Any) -> dict[str, Any]:
    found = dict(row._mapping)
    found.pop("tenant_id")
    found.pop("call_key")
    return found


async def find_by_call(conn: Conn, tenant_id: str, call_key: str) -> dict[str, Any] | None:
    """The proposal the agent call `call_key` wrote, if it wrote one."""
    row = (
        await conn.execute(
            sa.select(pt.proposals).where(
                pt.proposals.c.tenant_id == tenant_id, pt.proposals.c.call_key == call_key
            )
        )
    ).first()
    return None if row is None else _shown(row)


async def record(
    conn: Conn,
    tenant_id: str,
    deal_id: str,
    *,
    lines: list[dict[str, Any]],
    totals: dict[str, Decimal],
    text: dict[str, Any],
    note: str | None,
    model: str | None,
    run_id: str | None,
    call_key: str,
    now: datetime,
) -> dict[str, Any]:
    """Write `lines` as the deal's lines and keep the proposal as its next version; the call
    `call_key` already wrote one: that one, and nothing written."""
    kept = await find_by_call(conn, tenant_id, call_key)
    if kept is not None:
        return kept
    deal = await deals.get_deal(conn, tenant_id, deal_id)
    await deals.update_deal(
        conn,
        tenant_id,
        deal_id,
        now=now,
        lines=[
            {k: x[k] for k in ("product_id", "description", "quantity", "unit_price", "discount")}
            for x in lines
        ],
    )
    latest = await conn.scalar(
        sa.select(sa.func.max(pt.proposals.c.version)).where(
            pt.proposals.c.tenant_id == tenant_id, pt.proposals.c.deal_id == deal_id
        )
    )
    stored_lines, stored_totals = _as_json(lines, totals)
    proposal_id = new_id()
    await conn.execute(
        pt.proposals.insert().values(
            id=proposal_id,
            tenant_id=tenant_id,
            deal_id=deal_id,
            version=(latest or 0) + 1,
            currency=deal["currency"],
            lines=stored_lines,
            totals=stored_totals,
            text=text,
            note=note,
            model=model,
            run_id=run_id,
            call_key=call_key,
            created_at=now,
        )
    )
    return await get_proposal(conn, tenant_id, proposal_id)


async def get_proposal(conn: Conn, tenant_id: str, proposal_id: str) -> dict[str, Any]:
    row = (
        await conn.execute(
            sa.select(pt.proposals).where(
                pt.proposals.c.tenant_id == tenant_id, pt.proposals.c.id == proposal_id
            )
        )
    ).first()
    if row is None:
        raise NotFound(f"no proposal '{proposal_id}'")
    return _shown(row)


async def list_proposals(conn: Conn, tenant_id: str, deal_id: str) -> list[dict[str, Any]]:
    """The deal's proposals, the latest version first."""
    found = await conn.scalar(
        sa.select(t.deals.c.id).where(t.deals.c.tenant_id == tenant_id, t.deals.c.id == deal_id)
    )
    if found is None:
        raise NotFound(f"no deal '{deal_id}'")
    rows = await conn.execute(
        sa.select(pt.proposals)
        .where(pt.proposals.c.tenant_id == tenant_id, pt.proposals.c.deal_id == deal_id)
        .order_by(pt.proposals.c.version.desc())
    )
    return [_shown(row) for row in rows]


async def recall(conn: Conn, tenant_id: str, call_key: str) -> dict[str, Any] | None:
    """What the agent call `call_key` answered, if it answered."""
    result = await conn.scalar(
        sa.select(pt.agent_calls.c.result).where(
            pt.agent_calls.c.tenant_id == tenant_id, pt.agent_calls.c.call_key == call_key
        )
    )
    return None if result is None else dict(result)


async def remember(
    conn: Conn, tenant_id: str, call_key: str, capability: str, result: Any, now: datetime
) -> None:
    """Keep what the agent call `call_key` answered (JSON), in its transaction."""
    await conn.execute(
        pt.agent_calls.insert().values(
            id=new_id(),
            tenant_id=tenant_id,
            call_key=call_key,
            capability=capability,
            result=result,
            created_at=now,
        )
    )
