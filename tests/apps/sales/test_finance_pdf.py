"""The invoice PDF as a customer reads it: its text, extracted with pypdf, shows the number, both
parties, every line, the subtotal, the tax, the total and the due date."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

from pypdf import PdfReader

from batonflow.api.deps import ApiState
from tests.apps.sales import finance_records as records
from tests.apps.sales.conftest import SALES, Join


def pdf_text(content: bytes) -> list[str]:
    """The PDF's text, a line at a time, with runs of spaces as one."""
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)
    return [" ".join(line.split()) for line in text.splitlines() if line.strip()]


async def test_invoice_pdf_shows_the_totals(sales_member: Join, sales_state: ApiState) -> None:
    acme = await sales_member("acme")
    company_id = await records.company(sales_state.db, acme.tenant_id, "Initech")
    made = await acme.client.post(
        f"{SALES}/invoices",
        json={
            "company_id": company_id,
            "currency": "EUR",
            "lines": [
                {"description": "Bolt \u2013 M4", "quantity": "3", "unit_price": "0.335"},
                {
                    "description": "Support",
                    "quantity": "2",
                    "unit_price": "99.99",
                    "discount": "0.15",
                },
            ],
            "tax_rate": "0.075",
            "notes": "Bank: DE00 0000 0000",
        },
    )
    invoice_id = made.json()["id"]
    draft = await acme.client.get(f"{SALES}/invoices/{invoice_id}/pdf")
    assert draft.headers["content-disposition"] == f'inline; filename="draft-{invoice_id}.pdf"'
    assert pdf_text(draft.content)[0] == "Draft invoice"

    number = (await acme.client.post(f"{SALES}/invoices/{invoice_id}/issue")).json()["number"]
    today = datetime.now(UTC).date()
    answer = await acme.client.get(f"{SALES}/invoices/{invoice_id}/pdf")
    assert (answer.status_code, answer.headers["content-type"]) == (200, "application/pdf")
    assert answer.headers["content-disposition"] == f'inline; filename="{number}.pdf"'
    # nets: 1.005 -> 1.01 and 169.983 -> 169.98; subtotal 170.99; tax 12.82425 -> 12.82
    assert pdf_text(answer.content) == [
        f"Invoice {number}",
        "From acme",
        "Bill to Initech (initech.example, DE)",
        "Status sent",
        f"Issued {today}",
        f"Due date {today + timedelta(days=30)}",
        "Currency EUR",
        "# Description Quantity Unit price Discount Net",
        "1 Bolt - M4 3 0.335 0 % 1.01",
        "2 Support 2 99.99 15 % 169.98",
        "Subtotal 170.99 EUR",
        "Tax 7.5 % 12.82 EUR",
        "Total 183.81 EUR",
        "Bank: DE00 0000 0000",
    ]

    await acme.client.post(f"{SALES}/invoices/{invoice_id}/payments", json={"amount": "100"})
    paid = pdf_text((await acme.client.get(f"{SALES}/invoices/{invoice_id}/pdf")).content)
    assert paid[-4:] == ["Total 183.81 EUR", "Paid 100.00 EUR", "Balance 83.81 EUR", paid[-1]]


async def test_yen_invoice_pdf_has_no_minor_digits(
    sales_member: Join, sales_state: ApiState
) -> None:
    acme = await sales_member("acme")
    company_id = await records.company(sales_state.db, acme.tenant_id)
    deal_id = await records.deal(
        sales_state.db,
        acme.tenant_id,
        company_id,
        [("Licences", "3", "333.5", "0")],
        currency="JPY",
    )
    made = await acme.client.post(
        f"{SALES}/invoices/from-deal", json={"deal_id": deal_id, "tax_rate": "0.1"}
    )
    text = pdf_text((await acme.client.get(f"{SALES}/invoices/{made.json()['id']}/pdf")).content)
    assert text[-4:] == [
        "1 Licences 3 333.5 0 % 1001",
        "Subtotal 1001 JPY",
        "Tax 10 % 100 JPY",
        "Total 1101 JPY",
    ]
