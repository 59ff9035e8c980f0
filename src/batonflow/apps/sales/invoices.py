"""Invoices on the database: drafts (by hand or from a deal's lines), issuing (a gap-free number,
`invoice_numbers`), voiding, reading, pages, and marking unpaid invoices overdue.

Totals are computed by `money` from the lines whenever a draft's lines change, and stored;
an issued invoice's lines and totals are frozen (a mistake is voided, keeping its number, and
billed again). Status: draft -> sent (issued) -> paid, or sent -> overdue -> paid; draft, sent
and overdue may be voided.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from batonflow.apps.sales import invoice_numbers, money, negotiation
from batonflow.apps.sales import tables as crm
from batonflow.apps.sales.finance_tables import invoice_lines, invoices, payments
from batonflow.errors import Conflict, InvalidInput, NotFound
from batonflow.ids import new_id
from batonflow.store.db import Conn

STATUSES = ("draft", "sent", "overdue", "paid", "void")
OPEN = ("sent", "overdue")  # issued and not yet paid


@dataclass(frozen=True, slots=True)
class NewLine:
    description: str
    quantity: Decimal
    unit_price: Decimal
    discount: Decimal = Decimal(0)
    product_id: str | None = None


def _not_found(invoice_id: str) -> NotFound:
    return NotFound(f"no invoice '{invoice_id}'")


def _lines(lines: Sequence[NewLine], code: str) -> list[dict[str, Any]]:
    if not lines:
        raise InvalidInput("an invoice needs at least one line")
    rows = []
    for position, line in enumerate(lines, start=1):
        description = line.description.strip()
        if not description or len(description) > 500:
            raise InvalidInput(f"line {position}: a description has 1 to 500 characters")
        if not line.quantity.is_finite() or line.quantity <= 0:
            raise InvalidInput(f"line {position}: the quantity must be above 0")
        if not line.unit_price.is_finite() or line.unit_price < 0:
            raise InvalidInput(f"line {position}: the unit price must be 0 or more")
        try:
            net = money.line_net(line.quantity, line.unit_price, line.discount, code)
        except InvalidInput as exc:
            raise InvalidInput(f"line {position}: {exc.message}") from None
        rows.append(
            {
                "position": position,
                "product_id": line.product_id,
                "description": description,
                "quantity": line.quantity,
                "unit_price": line.unit_price,
                "discount": line.discount,
                "net": net,
            }
        )
    return rows


async def _references(
    conn: Conn, tenant_id: str, company_id: str, deal_id: str | None, lines: Sequence[NewLine]
) -> None:
    """The company, deal and products an invoice names are the tenant's own."""
    found = await conn.scalar(
        sa.select(crm.companies.c.id).where(
            crm.companies.c.tenant_id == tenant_id, crm.companies.c.id == company_id
        )
    )
    if found is None:
        raise InvalidInput(f"no company '{company_id}'; bill one of the tenant's companies")
    if deal_id is not None:
        found = await conn.scalar(
            sa.select(crm.deals.c.id).where(
                crm.deals.c.tenant_id == tenant_id, crm.deals.c.id == deal_id
            )
        )
        if found is None:
            raise InvalidInput(f"no deal '{deal_id}'; leave deal_id out or name a deal of yours")
    products = {line.product_id for line in lines if line.product_id is not None}
    if products:
        found_ids = await conn.execute(
            sa.select(crm.products.c.id).where(
                crm.products.c.tenant_id == tenant_id, crm.products.c.id.in_(products)
            )
        )
        known = set(found_ids.scalars())
        for position, line in enumerate(lines, start=1):
            if line.product_id is not None and line.product_id not in known:
                raise InvalidInput(f"line {position}: no product '{line.product_id}'")


async def create_draft(
    conn: Conn,
    tenant_id: str,
    *,
    company_id: str,
    currency: str,
    lines: Sequence[NewLine],
    tax_rate: Decimal,
    terms_days: int = 30,
    deal_id: str | None = None,
    notes: str = "",
    now: datetime,
) -> dict[str, Any]:
    """A draft invoice (no number yet) with its lines and their totals."""
    code = money.currency(currency)
    if not 0 <= terms_days <= 365:
        raise InvalidInput("payment terms are 0 to 365 days")
    await _references(conn, tenant_id, company_id, deal_id, lines)
    rows = _lines(lines, code)
    sums = money.totals([r["net"] for r in rows], tax_rate, code)
    invoice_id = new_id()
    await conn.execute(
        invoices.insert().values(
            id=invoice_id,
            tenant_id=tenant_id,
            deal_id=deal_id,
            company_id=company_id,
            number=None,
            currency=code,
            status="draft",
            terms_days=terms_days,
            issue_date=None,
            due_date=None,
            tax_rate=tax_rate,
            subtotal=sums.subtotal,
            tax=sums.tax,
            total=sums.total,
            paid=Decimal(0),
            notes=notes,
            created_at=now,
            updated_at=now,
        )
    )
    await _insert_lines(conn, tenant_id, invoice_id, rows)
    return await get_invoice(conn, tenant_id, invoice_id)


async def _insert_lines(
    conn: Conn, tenant_id: str, invoice_id: str, rows: list[dict[str, Any]]
) -> None:
    await conn.execute(
        invoice_lines.insert(),
        [r | {"id": new_id(), "tenant_id": tenant_id, "invoice_id": invoice_id} for r in rows],
    )


async def agreed_discounts(conn: Conn, tenant_id: str, deal_id: str) -> dict[int, Decimal]:
    """Each line's discount (a fraction) by position in the deal's latest negotiation round in
    which we accepted the customer's terms; empty when there is none."""
    accepted = [
        row
        for row in await negotiation.list_offers(conn, tenant_id, deal_id)
        if row["party"] == "us" and row["action"] == "accept"
    ]
    if not accepted:
        return {}
    lines = accepted[-1]["terms"]["lines"]
    return {int(line["position"]): Decimal(line["discount"]) / 100 for line in lines}


async def from_deal(
    conn: Conn,
    tenant_id: str,
    deal_id: str,
    *,
    tax_rate: Decimal,
    terms_days: int = 30,
    notes: str = "",
    now: datetime,
) -> dict[str, Any]:
    """A draft invoice billing a deal's company for the deal's lines, in the deal's currency,
    each line at the discount the negotiation agreed (the latest round in which we accepted the
    customer's terms), else at the line's own."""
    deal = (
        await conn.execute(
            sa.select(crm.deals).where(
                crm.deals.c.tenant_id == tenant_id, crm.deals.c.id == deal_id
            )
        )
    ).first()
    if deal is None:
        raise NotFound(f"no deal '{deal_id}'")
    found = await conn.execute(
        sa.select(crm.deal_lines)
        .where(crm.deal_lines.c.tenant_id == tenant_id, crm.deal_lines.c.deal_id == deal_id)
        .order_by(crm.deal_lines.c.position)
    )
    agreed = await agreed_discounts(conn, tenant_id, deal_id)
    lines = [
        NewLine(
            description=r.description,
            quantity=r.quantity,
            unit_price=r.unit_price,
            discount=agreed.get(r.position, r.discount),
            product_id=r.product_id,
        )
        for r in found
    ]
    if not lines:
        raise InvalidInput(f"deal '{deal_id}' has no line items to invoice; add some first")
    return await create_draft(
        conn,
        tenant_id,
        company_id=deal.company_id,
        currency=deal.currency,
        lines=lines,
        tax_rate=tax_rate,
        terms_days=terms_days,
        deal_id=deal_id,
        notes=notes,
        now=now,
    )


async def invoice_row(conn: Conn, tenant_id: str, invoice_id: str, *, lock: bool = False) -> Any:
    query = sa.select(invoices).where(
        invoices.c.tenant_id == tenant_id, invoices.c.id == invoice_id
    )
    row = (await conn.execute(query.with_for_update() if lock else query)).first()
    if row is None:
        raise _not_found(invoice_id)
    return row


AMOUNTS = ("subtotal", "tax", "total", "paid")


def _shown(row: Any) -> dict[str, Any]:
    """An invoice's row with its amounts written to the currency's minor unit, and its balance."""
    invoice = dict(row._mapping)
    code = invoice["currency"]
    for name in AMOUNTS:
        invoice[name] = money.rounded(invoice[name], code)
    invoice["balance"] = invoice["total"] - invoice["paid"]
    return invoice


async def get_invoice(conn: Conn, tenant_id: str, invoice_id: str) -> dict[str, Any]:
    """An invoice with its lines, its payments and its balance (total less paid)."""
    invoice = _shown(await invoice_row(conn, tenant_id, invoice_id))
    lines = await conn.execute(
        sa.select(invoice_lines)
        .where(invoice_lines.c.tenant_id == tenant_id, invoice_lines.c.invoice_id == invoice_id)
        .order_by(invoice_lines.c.position)
    )
    paid = await conn.execute(
        sa.select(payments)
        .where(payments.c.tenant_id == tenant_id, payments.c.invoice_id == invoice_id)
        .order_by(payments.c.created_at, payments.c.id)
    )
    code = invoice["currency"]
    invoice["lines"] = [dict(r._mapping) | {"net": money.rounded(r.net, code)} for r in lines]
    invoice["payments"] = [
        dict(r._mapping) | {"amount": money.rounded(r.amount, code)} for r in paid
    ]
    return invoice


async def replace_lines(
    conn: Conn,
    tenant_id: str,
    invoice_id: str,
    lines: Sequence[NewLine],
    *,
    tax_rate: Decimal | None,
    now: datetime,
) -> dict[str, Any]:
    """A draft's lines (and tax rate) replaced, and its totals computed again."""
    row = await invoice_row(conn, tenant_id, invoice_id, lock=True)
    if row.status != "draft":
        raise Conflict(
            f"invoice {row.number} is issued: its lines and totals are frozen "
            "(void it and bill a new one)"
        )
    rate = row.tax_rate if tax_rate is None else tax_rate
    await _references(conn, tenant_id, row.company_id, row.deal_id, lines)
    rows = _lines(lines, row.currency)
    sums = money.totals([r["net"] for r in rows], rate, row.currency)
    await conn.execute(
        invoice_lines.delete().where(
            invoice_lines.c.tenant_id == tenant_id, invoice_lines.c.invoice_id == invoice_id
        )
    )
    await _insert_lines(conn, tenant_id, invoice_id, rows)
    await conn.execute(
        invoices.update()
        .where(invoices.c.tenant_id == tenant_id, invoices.c.id == invoice_id)
        .values(
            tax_rate=rate, subtotal=sums.subtotal, tax=sums.tax, total=sums.total, updated_at=now
        )
    )
    return await get_invoice(conn, tenant_id, invoice_id)


async def issue(
    conn: Conn, tenant_id: str, invoice_id: str, *, today: date, now: datetime
) -> dict[str, Any]:
    """Issue a draft: its number (taken in this transaction), issue date `today` and due date
    after its payment terms; its status becomes `sent`."""
    row = await invoice_row(conn, tenant_id, invoice_id, lock=True)
    if row.status != "draft":
        raise Conflict(f"invoice {row.number} is already issued ({row.status})")
    number = await invoice_numbers.take(conn, tenant_id, today.year)
    await conn.execute(
        invoices.update()
        .where(invoices.c.tenant_id == tenant_id, invoices.c.id == invoice_id)
        .values(
            number=number,
            status="sent",
            issue_date=today,
            due_date=today + timedelta(days=row.terms_days),
            updated_at=now,
        )
    )
    return await get_invoice(conn, tenant_id, invoice_id)


async def void(conn: Conn, tenant_id: str, invoice_id: str, *, now: datetime) -> dict[str, Any]:
    """Void a draft or an unpaid issued invoice; an issued one keeps its number."""
    row = await invoice_row(conn, tenant_id, invoice_id, lock=True)
    if row.status in ("paid", "void"):
        raise Conflict(f"invoice {row.number or invoice_id} is {row.status}; it cannot be voided")
    if row.paid > 0:
        raise Conflict(
            f"invoice {row.number} has payments of {row.paid} {row.currency}; "
            "refund them before voiding it"
        )
    await conn.execute(
        invoices.update()
        .where(invoices.c.tenant_id == tenant_id, invoices.c.id == invoice_id)
        .values(status="void", updated_at=now)
    )
    return await get_invoice(conn, tenant_id, invoice_id)


async def page(
    conn: Conn,
    tenant_id: str,
    *,
    limit: int,
    after: tuple[datetime, str] | None = None,
    status: str | None = None,
    company_id: str | None = None,
    deal_id: str | None = None,
) -> list[dict[str, Any]]:
    """Invoices newest first (without lines), after the keyset `(created_at, id)`."""
    if status is not None and status not in STATUSES:
        raise InvalidInput(f"status '{status}' is not one of {', '.join(STATUSES)}")
    query = sa.select(invoices).where(invoices.c.tenant_id == tenant_id)
    if status is not None:
        query = query.where(invoices.c.status == status)
    if company_id is not None:
        query = query.where(invoices.c.company_id == company_id)
    if deal_id is not None:
        query = query.where(invoices.c.deal_id == deal_id)
    if after is not None:
        query = query.where(sa.tuple_(invoices.c.created_at, invoices.c.id) < sa.tuple_(*after))
    query = query.order_by(invoices.c.created_at.desc(), invoices.c.id.desc()).limit(limit)
    return [_shown(row) for row in await conn.execute(query)]


async def mark_overdue(conn: Conn, tenant_id: str, today: date) -> int:
    """Mark the tenant's issued, unpaid invoices due before `today` overdue; how many."""
    done = await conn.execute(
        invoices.update()
        .where(
            invoices.c.tenant_id == tenant_id,
            invoices.c.status == "sent",
            invoices.c.due_date < today,
        )
        .values(status="overdue")
    )
    return int(done.rowcount)
