"""CRM records for the finance tests, written straight into `tables.py`'s rows (the deal API is
another part's): a company, its contact, a product, a pipeline with a stage, and deals with
lines."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from batonflow.apps.sales import tables as t
from batonflow.ids import new_id
from batonflow.store.db import Conn, Database

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TODAY = date(2026, 3, 2)


async def company(db: Database, tenant_id: str, name: str = "Globex") -> str:
    company_id = new_id()

    async def work(conn: Conn) -> None:
        await conn.execute(
            t.companies.insert().values(
                id=company_id,
                tenant_id=tenant_id,
                name=name,
                domain=f"{name.lower()}.example",
                country="DE",
                created_at=NOW,
                updated_at=NOW,
            )
        )
        await conn.execute(
            t.contacts.insert().values(
                id=new_id(),
                tenant_id=tenant_id,
                company_id=company_id,
                name="Hank Scorpio",
                email=f"hank@{name.lower()}.example",
                created_at=NOW,
                updated_at=NOW,
            )
        )

    await db.write(work)
    return company_id


async def deal(
    db: Database,
    tenant_id: str,
    company_id: str,
    lines: list[tuple[str, str, str, str]],
    *,
    currency: str = "EUR",
    title: str = "Rollout",
) -> str:
    """A deal of `company_id` with lines of (description, quantity, unit price, discount)."""
    deal_id = new_id()

    async def work(conn: Conn) -> None:
        pipeline_id, stage_id, product_id = new_id(), new_id(), new_id()
        await conn.execute(
            t.pipelines.insert().values(
                id=pipeline_id,
                tenant_id=tenant_id,
                name=f"Pipeline {deal_id}",
                is_default=False,
                created_at=NOW,
            )
        )
        await conn.execute(
            t.stages.insert().values(
                id=stage_id,
                tenant_id=tenant_id,
                pipeline_id=pipeline_id,
                position=0,
                name="Won",
                kind="won",
                probability=100,
                required_fields=[],
            )
        )
        await conn.execute(
            t.products.insert().values(
                id=product_id,
                tenant_id=tenant_id,
                sku=f"SKU-{deal_id}",
                name="Seat",
                description="A seat",
                unit_price=Decimal("100"),
                currency=currency,
                active=True,
                created_at=NOW,
            )
        )
        await conn.execute(
            t.deals.insert().values(
                id=deal_id,
                tenant_id=tenant_id,
                pipeline_id=pipeline_id,
                stage_id=stage_id,
                company_id=company_id,
                contact_id=await conn.scalar(
                    sa.select(t.contacts.c.id).where(t.contacts.c.company_id == company_id)
                ),
                title=title,
                currency=currency,
                close_date=TODAY,
                created_at=NOW,
                updated_at=NOW,
            )
        )
        rows: list[dict[str, Any]] = [
            {
                "id": new_id(),
                "tenant_id": tenant_id,
                "deal_id": deal_id,
                "position": position,
                "product_id": product_id,
                "description": description,
                "quantity": Decimal(quantity),
                "unit_price": Decimal(price),
                "discount": Decimal(discount),
            }
            for position, (description, quantity, price, discount) in enumerate(lines)
        ]
        if rows:
            await conn.execute(t.deal_lines.insert(), rows)

    await db.write(work)
    return deal_id
