"""The product catalog: what a tenant sells, by SKU (unique in the tenant), at a unit price in a
currency. A deal line copies the price when it is added, so changing a price later leaves
existing deals as they were; a retired product stays on its deals but is offered no more.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from batonflow.apps.sales import companies, money
from batonflow.apps.sales import tables as t
from batonflow.errors import Conflict, InvalidInput, NotFound
from batonflow.ids import new_id
from batonflow.store.db import Conn


def _price(value: Decimal) -> Decimal:
    if value < 0:
        raise InvalidInput("a unit price is 0 or more")
    return value


async def create_product(
    conn: Conn,
    tenant_id: str,
    *,
    sku: str,
    name: str,
    unit_price: Decimal,
    currency: str,
    description: str = "",
    now: datetime,
) -> dict[str, Any]:
    cleaned = companies.name(sku, "SKU", 64)
    taken = await conn.scalar(
        sa.select(t.products.c.id).where(
            t.products.c.tenant_id == tenant_id, t.products.c.sku == cleaned
        )
    )
    if taken is not None:
        raise Conflict(f"the SKU '{cleaned}' is product {taken}; pick another SKU")
    row = {
        "id": new_id(),
        "tenant_id": tenant_id,
        "sku": cleaned,
        "name": companies.name(name, "product name"),
        "description": description,
        "unit_price": _price(unit_price),
        "currency": money.currency(currency),
        "active": True,
        "created_at": now,
    }
    await conn.execute(t.products.insert().values(row))
    return row


async def get_product(conn: Conn, tenant_id: str, product_id: str) -> dict[str, Any]:
    row = (
        await conn.execute(
            sa.select(t.products).where(
                t.products.c.tenant_id == tenant_id, t.products.c.id == product_id
            )
        )
    ).first()
    if row is None:
        raise NotFound(f"no product '{product_id}'")
    return dict(row._mapping)


async def update_product(
    conn: Conn, tenant_id: str, product_id: str, **changes: Any
) -> dict[str, Any]:
    """Change the name, description, unit price or currency (deal lines keep their prices)."""
    current = await get_product(conn, tenant_id, product_id)
    values = {
        k: v
        for k, v in changes.items()
        if k in ("name", "description", "unit_price", "currency") and v is not None
    }
    if "name" in values:
        values["name"] = companies.name(values["name"], "product name")
    if "unit_price" in values:
        values["unit_price"] = _price(values["unit_price"])
    if "currency" in values:
        values["currency"] = money.currency(values["currency"])
    if values:
        await conn.execute(
            t.products.update()
            .where(t.products.c.tenant_id == tenant_id, t.products.c.id == product_id)
            .values(values)
        )
    return current | values


async def retire_product(conn: Conn, tenant_id: str, product_id: str) -> dict[str, Any]:
    """Take a product off the catalog: new deal lines cannot use it; old ones keep it."""
    await get_product(conn, tenant_id, product_id)
    await conn.execute(
        t.products.update()
        .where(t.products.c.tenant_id == tenant_id, t.products.c.id == product_id)
        .values(active=False)
    )
    return await get_product(conn, tenant_id, product_id)


async def list_products(
    conn: Conn, tenant_id: str, *, active: bool | None = None, q: str | None = None
) -> list[dict[str, Any]]:
    """The catalog by SKU; `active` picks offered (True) or retired (False) products, `q`
    searches the SKU and the name."""
    query = sa.select(t.products).where(t.products.c.tenant_id == tenant_id)
    if active is not None:
        query = query.where(t.products.c.active == active)
    if q:
        pattern = companies.like(q)
        query = query.where(
            sa.or_(
                sa.func.lower(t.products.c.sku).like(pattern, escape="\\"),
                sa.func.lower(t.products.c.name).like(pattern, escape="\\"),
            )
        )
    rows = await conn.execute(query.order_by(t.products.c.sku))
    return [dict(row._mapping) for row in rows]
