"""Invoices and contracts as PDFs (fpdf2). An invoice shows its number, the seller (the tenant)
and the customer, its lines, subtotal, tax, total and due date; a contract shows its current
version's terms. Text is written through `batonflow.pdf.latin1`, so any text renders in the
core fonts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from fpdf import FPDF

from batonflow.apps.sales import invoices, money
from batonflow.apps.sales import tables as crm
from batonflow.pdf import latin1
from batonflow.store.db import Conn
from batonflow.store.tables import Tenant

# The invoice's lines table: its columns and their widths in mm (the page is 190 mm wide).
COLUMNS = ("#", "Description", "Quantity", "Unit price", "Discount", "Net")
WIDTHS = (10, 78, 24, 28, 20, 30)


@dataclass(frozen=True, slots=True)
class InvoiceDocument:
    invoice: dict[str, Any]
    seller: str
    customer: dict[str, Any]

    @property
    def filename(self) -> str:
        return f"{self.invoice['number'] or 'draft-' + self.invoice['id']}.pdf"


async def _tenant_name(conn: Conn, tenant_id: str) -> str:
    table = Tenant.__table__
    return str(await conn.scalar(sa.select(table.c.name).where(table.c.id == tenant_id)))


async def invoice_document(conn: Conn, tenant_id: str, invoice_id: str) -> InvoiceDocument:
    """What an invoice's PDF shows, read in one transaction."""
    invoice = await invoices.get_invoice(conn, tenant_id, invoice_id)
    company = (
        await conn.execute(
            sa.select(crm.companies).where(
                crm.companies.c.tenant_id == tenant_id,
                crm.companies.c.id == invoice["company_id"],
            )
        )
    ).one()
    return InvoiceDocument(invoice, await _tenant_name(conn, tenant_id), dict(company._mapping))


def _page(title: str, creator: str) -> FPDF:
    pdf = FPDF(format="A4")
    pdf.set_title(latin1(title))
    pdf.set_creator(creator)
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.multi_cell(pdf.epw, 9, latin1(title), new_x="LMARGIN", new_y="NEXT")
    return pdf


def _pairs(pdf: FPDF, pairs: list[tuple[str, str]], width: float = 40) -> None:
    pdf.set_font("Helvetica", "", 10)
    for label, value in pairs:
        pdf.cell(width, 6, latin1(label))
        pdf.multi_cell(pdf.epw - width, 6, latin1(value), new_x="LMARGIN", new_y="NEXT")


def _row(pdf: FPDF, cells: tuple[str, ...], *, bold: bool = False) -> None:
    pdf.set_font("Helvetica", "B" if bold else "", 9)
    for index, (text, width) in enumerate(zip(cells, WIDTHS, strict=True)):
        shown = latin1(text)
        while shown and pdf.get_string_width(shown) > width - 1:
            shown = shown[:-1]
        pdf.cell(width, 6, shown, border="B", align="L" if index == 1 else "R")
    pdf.ln(6)


def _percent(fraction: Any) -> str:
    return f"{(fraction * 100).normalize():f} %"


def render_invoice(document: InvoiceDocument) -> bytes:
    invoice, code = document.invoice, document.invoice["currency"]
    title = f"Invoice {invoice['number']}" if invoice["number"] else "Draft invoice"
    pdf = _page(title, "Batonflow sales")
    customer = document.customer
    place = ", ".join(str(v) for v in (customer["domain"], customer["country"]) if v)
    _pairs(
        pdf,
        [
            ("From", document.seller),
            ("Bill to", customer["name"] + (f" ({place})" if place else "")),
            ("Status", invoice["status"]),
            ("Issued", str(invoice["issue_date"] or "not yet")),
            ("Due date", str(invoice["due_date"] or "not yet")),
            ("Currency", code),
        ],
    )
    pdf.ln(4)
    _row(pdf, COLUMNS, bold=True)
    for line in invoice["lines"]:
        if pdf.will_page_break(6):
            pdf.add_page()
            _row(pdf, COLUMNS, bold=True)
        _row(
            pdf,
            (
                str(line["position"]),
                line["description"],
                f"{line['quantity']:f}",
                f"{line['unit_price']:f}",
                _percent(line["discount"]),
                money.text(line["net"], code),
            ),
        )
    pdf.ln(4)
    sums = [
        ("Subtotal", money.text(invoice["subtotal"], code)),
        (f"Tax {_percent(invoice['tax_rate'])}", money.text(invoice["tax"], code)),
        ("Total", money.text(invoice["total"], code)),
    ]
    if invoice["paid"]:
        sums += [
            ("Paid", money.text(invoice["paid"], code)),
            ("Balance", money.text(invoice["balance"], code)),
        ]
    for label, value in sums:
        pdf.set_font("Helvetica", "B" if label == "Total" else "", 10)
        pdf.cell(sum(WIDTHS) - 50, 6, latin1(label), align="R")
        pdf.cell(50, 6, f"{value} {code}", align="R", new_x="LMARGIN", new_y="NEXT")
    if invoice["notes"]:
        pdf.ln(4)
        pdf.set_font("Helvetica", "", 10)
        pdf.multi_cell(pdf.epw, 5, latin1(invoice["notes"]), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def render_contract(contract: dict[str, Any]) -> bytes:
    """A contract's current version: its title, status and version, then its terms."""
    pdf = _page(contract["title"], "Batonflow sales")
    current = contract["versions"][-1]
    _pairs(
        pdf,
        [
            ("Status", contract["status"]),
            ("Version", f"{contract['version']} of {current['created_at']:%Y-%m-%d}"),
        ],
    )
    pdf.ln(4)
    pdf.set_font("Helvetica", "", 10)
    for paragraph in current["terms"].splitlines():
        if paragraph.strip():
            pdf.multi_cell(pdf.epw, 5, latin1(paragraph), new_x="LMARGIN", new_y="NEXT")
        else:
            pdf.ln(3)
    return bytes(pdf.output())
