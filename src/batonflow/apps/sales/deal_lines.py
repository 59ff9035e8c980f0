"""A deal's line items: products from the catalog with a quantity, a unit price (the catalog's,
copied when the line is written, unless the line names one) and a discount fraction. Each
line's net amount is `money.line_net`; a deal with lines has their sum as its amount.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from batonflow.apps.sales import catalog, money
from batonflow.apps.sales import tables as t
from batonflow.errors import InvalidInput
from batonflow.ids import new_id
from batonflow.store.db import Conn


def with_nets(lines: list[dict[str, Any]], code: str) -> list[dict[str, Any]]:
    return [
        line | {"net": money.line_net(line["quantity"], line["unit_price"], line["discount"], code)}
        for line in lines
    ]


async def priced(
    conn: Conn, tenant_id: str, code: str, lines: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Lines ready to store: each product offered in the catalog, its price copied unless the
    line names one, in the deal's currency."""
    priced: list[dict[str, Any]] = []
    for number, line in enumerate(lines, 1):
        product = await catalog.get_product(conn, tenant_id, line["product_id"])
        where = f"line {number} ({product['sku']})"
        if not product["active"]:
            raise InvalidInput(f"{where}: the product is retired; pick one in the catalog")
        if line.get("unit_price") is None and product["currency"] != code:
            raise InvalidInput(
                f"{where}: the product is priced in {product['currency']}, the deal in {code}; "
                "give the line a unit_price in the deal's currency"
            )
        quantity, discount = line["quantity"], line.get("discount") or Decimal(0)
        if quantity <= 0:
            raise InvalidInput(f"{where}: a quantity is more than 0")
        if not Decimal(0) <= discount <= Decimal(1):
            raise InvalidInput(f"{where}: a discount is a fraction from 0 to 1 (0.15 is 15 %)")
        price = product["unit_price"] if line.get("unit_price") is None else line["unit_price"]
        if price < 0:
            raise InvalidInput(f"{where}: a unit price is 0 or more")
        priced.append(
            {
                "product_id": product["id"],
                "description": (line.get("description") or product["name"])[:500],
                "quantity": quantity,
                "unit_price": price,
                "discount": discount,
            }
        )
    return priced


async def store(
    conn: Conn, tenant_id: str, deal_id: str, code: str, lines: list[dict[str, Any]]
) -> Decimal | None:
    """Replace the deal's lines; the amount they add up to (None without lines)."""
    await conn.execute(
        t.deal_lines.delete().where(
            t.deal_lines.c.tenant_id == tenant_id, t.deal_lines.c.deal_id == deal_id
        )
    )
    for position, line in enumerate(lines):
        await conn.execute(
            t.deal_lines.insert().values(
                id=new_id(), tenant_id=tenant_id, deal_id=deal_id, position=position, **line
            )
        )
    if not lines:
        return None
    return sum((x["net"] for x in with_nets(lines, code)), Decimal(0))
