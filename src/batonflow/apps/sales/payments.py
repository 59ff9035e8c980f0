"""Payments against issued invoices. An invoice is paid when its balance reaches zero; a payment
larger than the balance is refused, saying the balance."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from batonflow.apps.sales import money
from batonflow.apps.sales.finance_tables import invoices, payments
from batonflow.apps.sales.invoices import OPEN, get_invoice, invoice_row
from batonflow.errors import Conflict, InvalidInput
from batonflow.ids import new_id
from batonflow.store.db import Conn


async def record(
    conn: Conn,
    tenant_id: str,
    invoice_id: str,
    *,
    amount: Decimal,
    paid_on: date,
    reference: str,
    actor: str,
    now: datetime,
) -> dict[str, Any]:
    """Record a payment of `amount` (in the invoice's currency) and return the invoice."""
    row = await invoice_row(conn, tenant_id, invoice_id, lock=True)
    if row.status not in OPEN:
        raise Conflict(
            f"invoice {row.number or invoice_id} is {row.status}; "
            "only an issued, unpaid invoice takes payments"
        )
    if not amount.is_finite() or amount <= 0:
        raise InvalidInput("a payment's amount must be above 0")
    if money.rounded(amount, row.currency) != amount:
        raise InvalidInput(
            f"{amount} has more decimals than {row.currency} has; round it to the currency"
        )
    balance = row.total - row.paid
    if amount > balance:
        raise InvalidInput(
            f"{amount} {row.currency} is more than the balance of invoice {row.number}, "
            f"{money.text(balance, row.currency)} {row.currency}; record at most the balance"
        )
    reference = reference.strip()
    if len(reference) > 200:
        raise InvalidInput("a payment reference has at most 200 characters")
    await conn.execute(
        payments.insert().values(
            id=new_id(),
            tenant_id=tenant_id,
            invoice_id=invoice_id,
            amount=amount,
            paid_on=paid_on,
            reference=reference,
            actor=actor,
            created_at=now,
        )
    )
    paid = row.paid + amount
    await conn.execute(
        invoices.update()
        .where(invoices.c.tenant_id == tenant_id, invoices.c.id == invoice_id)
        .values(
            paid=paid,
            status="paid" if paid == row.total else row.status,
            updated_at=now,
        )
    )
    return await get_invoice(conn, tenant_id, invoice_id)
