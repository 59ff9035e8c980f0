"""Gap-free invoice numbers, per tenant and per calendar year: `INV-2026-0001`, `INV-2026-0002`,
..., starting again at 1 each January.

A number is taken inside the transaction that issues the invoice, from a counter row
(`sales_invoice_numbers`) that the taking statement locks: a transaction that fails after taking
one rolls the counter back with it (no gap), and concurrent issues queue on the row lock, each
reading the count the previous one committed (never the same number, never a skipped one). On
SQLite every write transaction already runs alone.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from batonflow.apps.sales.finance_tables import invoice_numbers
from batonflow.store.db import Conn

PREFIX = "INV"


def formatted(year: int, seq: int) -> str:
    return f"{PREFIX}-{year}-{seq:04d}"


async def take(conn: Conn, tenant_id: str, year: int) -> str:
    """The tenant's next invoice number in `year`, counted in `conn`'s transaction."""
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    # The year's counter row exists before it is incremented; a concurrent first issue of the
    # year waits on the other's insert and then does nothing.
    await conn.execute(
        insert(invoice_numbers)
        .values(tenant_id=tenant_id, year=year, last=0)
        .on_conflict_do_nothing(index_elements=["tenant_id", "year"])
    )
    seq = await conn.scalar(
        sa.update(invoice_numbers)
        .where(invoice_numbers.c.tenant_id == tenant_id, invoice_numbers.c.year == year)
        .values(last=invoice_numbers.c.last + 1)
        .returning(invoice_numbers.c.last)
    )
    return formatted(year, int(seq))
