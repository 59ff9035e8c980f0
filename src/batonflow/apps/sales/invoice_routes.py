"""The invoices API: drafts (by hand or from a deal), their lines, issuing, voiding, payments,
pages with filters, and the PDF. Reads need `runs:read`, changes `runs:write`; another tenant's
invoice is a 404."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status

from batonflow.api.cursors import decode_cursor, encode_cursor
from batonflow.api.deps import PageSize, State, require
from batonflow.apps.sales import dunning, finance_pdf, invoices, payments
from batonflow.apps.sales.finance_schemas import (
    Invoice,
    InvoiceFromDeal,
    InvoicePage,
    LinesChange,
    NewInvoice,
    NewLine,
    NewPayment,
    Reminder,
)
from batonflow.auth.scopes import Principal
from batonflow.store.db import Conn

router = APIRouter(tags=["sales"])
Reader = Annotated[Principal, require("runs:read")]
Writer = Annotated[Principal, require("runs:write")]
INV = "/invoices/{invoice_id}"
PDF: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/pdf": {}}, "description": "the invoice as a PDF"}
}


def _lines(lines: list[NewLine]) -> list[invoices.NewLine]:
    return [
        invoices.NewLine(
            description=line.description,
            quantity=line.quantity,
            unit_price=line.unit_price,
            discount=line.discount,
            product_id=line.product_id,
        )
        for line in lines
    ]


@router.post("/invoices", response_model=Invoice, status_code=status.HTTP_201_CREATED)
async def create_invoice(state: State, caller: Writer, body: NewInvoice) -> Invoice:
    """A draft invoice: its totals are computed from the lines; it has no number until issued."""
    row = await state.transact(
        lambda conn: invoices.create_draft(
            conn,
            caller.tenant_id,
            company_id=body.company_id,
            currency=body.currency,
            lines=_lines(body.lines),
            tax_rate=body.tax_rate,
            terms_days=body.terms_days,
            deal_id=body.deal_id,
            notes=body.notes,
            now=state.now(),
        )
    )
    return Invoice.model_validate(row)


@router.post("/invoices/from-deal", response_model=Invoice, status_code=status.HTTP_201_CREATED)
async def invoice_deal(state: State, caller: Writer, body: InvoiceFromDeal) -> Invoice:
    """A draft invoice for a deal: its company, currency and line items."""
    row = await state.transact(
        lambda conn: invoices.from_deal(
            conn,
            caller.tenant_id,
            body.deal_id,
            tax_rate=body.tax_rate,
            terms_days=body.terms_days,
            notes=body.notes,
            now=state.now(),
        )
    )
    return Invoice.model_validate(row)


@router.get("/invoices", response_model=InvoicePage)
async def list_invoices(
    state: State,
    caller: Reader,
    limit: PageSize,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
    status_: Annotated[str | None, Query(alias="status", max_length=10)] = None,
    company_id: Annotated[str | None, Query(max_length=36)] = None,
    deal_id: Annotated[str | None, Query(max_length=36)] = None,
) -> InvoicePage:
    """Invoices, newest first, a page at a time; filter by status, company or deal."""
    after = decode_cursor(cursor) if cursor else None
    rows = await state.query(
        lambda conn: invoices.page(
            conn,
            caller.tenant_id,
            limit=limit + 1,
            after=after,
            status=status_,
            company_id=company_id,
            deal_id=deal_id,
        )
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return InvoicePage(
        items=[Invoice.model_validate(row) for row in rows],
        next_cursor=encode_cursor(rows[-1]["created_at"], rows[-1]["id"]) if more else None,
    )


@router.get(INV, response_model=Invoice)
async def get_invoice(state: State, caller: Reader, invoice_id: str) -> Invoice:
    """An invoice with its lines, payments and balance."""
    row = await state.query(lambda conn: invoices.get_invoice(conn, caller.tenant_id, invoice_id))
    return Invoice.model_validate(row)


@router.put(f"{INV}/lines", response_model=Invoice)
async def change_lines(state: State, caller: Writer, invoice_id: str, body: LinesChange) -> Invoice:
    """Replace a draft's lines (and its tax rate); an issued invoice's are frozen (409)."""
    row = await state.transact(
        lambda conn: invoices.replace_lines(
            conn,
            caller.tenant_id,
            invoice_id,
            _lines(body.lines),
            tax_rate=body.tax_rate,
            now=state.now(),
        )
    )
    return Invoice.model_validate(row)


@router.post(f"{INV}/issue", response_model=Invoice)
async def issue_invoice(state: State, caller: Writer, invoice_id: str) -> Invoice:
    """Issue a draft today: it takes the tenant's next invoice number and its due date."""
    now = state.now()
    row = await state.transact(
        lambda conn: invoices.issue(conn, caller.tenant_id, invoice_id, today=now.date(), now=now)
    )
    return Invoice.model_validate(row)


@router.post(f"{INV}/void", response_model=Invoice)
async def void_invoice(state: State, caller: Writer, invoice_id: str) -> Invoice:
    """Void a draft or an unpaid invoice; an issued one keeps its number."""
    row = await state.transact(
        lambda conn: invoices.void(conn, caller.tenant_id, invoice_id, now=state.now())
    )
    return Invoice.model_validate(row)


@router.post(f"{INV}/payments", response_model=Invoice, status_code=status.HTTP_201_CREATED)
async def record_payment(
    state: State, caller: Writer, invoice_id: str, body: NewPayment
) -> Invoice:
    """Record a payment; the invoice is paid when its balance reaches zero, and a payment over
    the balance is refused (422)."""
    now = state.now()
    row = await state.transact(
        lambda conn: payments.record(
            conn,
            caller.tenant_id,
            invoice_id,
            amount=body.amount,
            paid_on=body.paid_on or now.date(),
            reference=body.reference,
            actor=caller.name,
            now=now,
        )
    )
    return Invoice.model_validate(row)


@router.get(f"{INV}/reminders", response_model=list[Reminder])
async def list_reminders(state: State, caller: Reader, invoice_id: str) -> list[Reminder]:
    """The invoice's payment reminder levels so far: sent (with the email) or skipped."""

    async def work(conn: Conn) -> list[dict[str, Any]]:
        await invoices.invoice_row(conn, caller.tenant_id, invoice_id)
        return await dunning.reminders(conn, caller.tenant_id, invoice_id)

    return [Reminder.model_validate(row) for row in await state.query(work)]


@router.get(f"{INV}/pdf", response_class=Response, responses=PDF)
async def invoice_pdf(state: State, caller: Reader, invoice_id: str) -> Response:
    """The invoice as a PDF: number, parties, lines, subtotal, tax, total, due date."""
    document = await state.query(
        lambda conn: finance_pdf.invoice_document(conn, caller.tenant_id, invoice_id)
    )
    return Response(
        content=finance_pdf.render_invoice(document),
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{document.filename}"'},
    )
