"""The finance API's bodies: contract templates, contracts, invoices and payments. Decimals
travel as strings ("1234.5"): a JSON number is a float to most clients, and a float cannot hold
an amount exactly."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer


def _decimal(value: Any) -> Any:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, str):
        try:
            parsed = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f'{value!r} is not a decimal; send it like "1234.5"') from None
        if parsed.is_finite():
            return parsed
    raise ValueError('a decimal is sent as a string, like "1234.5"')


DecimalText = Annotated[
    Decimal,
    BeforeValidator(_decimal),
    PlainSerializer(lambda d: format(d, "f"), return_type=str, when_used="json"),
    Field(json_schema_extra={"type": "string", "format": "decimal"}),
]
Currency = Annotated[str, Field(pattern=r"^[A-Za-z]{3}$", description="ISO 4217, like EUR")]
TaxRate = Annotated[DecimalText, Field(description='a fraction: "0.075" is 7.5 %')]
TermsDays = Annotated[int, Field(ge=0, le=365, description="due this many days after issue")]


class NewTemplate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=100_000, description="Jinja2 contract text")


class Template(BaseModel):
    id: str
    name: str
    body: str
    created_at: dt.datetime
    updated_at: dt.datetime


class NewContract(BaseModel):
    model_config = ConfigDict(extra="forbid")
    deal_id: str
    template_id: str
    title: str | None = Field(None, max_length=200, description="default: the deal's title")
    terms: dict[str, Any] = Field(
        default_factory=dict, description="agreed terms the template reads as `terms`"
    )


class Render(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=2000, description="why a new version")
    terms: dict[str, Any] = Field(default_factory=dict)


class StatusChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: str = Field(description="in_review, approved, sent, signed or draft")
    reason: str = Field("", max_length=2000)


class ContractVersion(BaseModel):
    version: int
    terms: str
    actor: str
    reason: str
    created_at: dt.datetime


class Contract(BaseModel):
    id: str
    deal_id: str
    template_id: str
    title: str
    status: str
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    versions: list[ContractVersion] | None = None


class ContractPage(BaseModel):
    items: list[Contract]
    next_cursor: str | None


class NewLine(BaseModel):
    model_config = ConfigDict(extra="forbid")
    description: str = Field(min_length=1, max_length=500)
    quantity: DecimalText
    unit_price: DecimalText
    discount: DecimalText = Field(Decimal(0), description='a fraction: "0.15" is 15 %')
    product_id: str | None = None


class NewInvoice(BaseModel):
    model_config = ConfigDict(extra="forbid")
    company_id: str
    currency: Currency
    lines: list[NewLine] = Field(min_length=1, max_length=500)
    tax_rate: TaxRate = Decimal(0)
    terms_days: TermsDays = 30
    deal_id: str | None = None
    notes: str = Field("", max_length=5000)


class InvoiceFromDeal(BaseModel):
    model_config = ConfigDict(extra="forbid")
    deal_id: str
    tax_rate: TaxRate = Decimal(0)
    terms_days: TermsDays = 30
    notes: str = Field("", max_length=5000)


class LinesChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lines: list[NewLine] = Field(min_length=1, max_length=500)
    tax_rate: TaxRate | None = None


class InvoiceLine(BaseModel):
    position: int
    product_id: str | None
    description: str
    quantity: DecimalText
    unit_price: DecimalText
    discount: DecimalText
    net: DecimalText


class NewPayment(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: DecimalText
    paid_on: dt.date | None = Field(None, description="default: today (UTC)")
    reference: str = Field("", max_length=200)


class Payment(BaseModel):
    id: str
    amount: DecimalText
    paid_on: dt.date
    reference: str
    actor: str
    created_at: dt.datetime


class Invoice(BaseModel):
    id: str
    deal_id: str | None
    company_id: str
    number: str | None
    currency: str
    status: str
    terms_days: int
    issue_date: dt.date | None
    due_date: dt.date | None
    tax_rate: DecimalText
    subtotal: DecimalText
    tax: DecimalText
    total: DecimalText
    paid: DecimalText
    balance: DecimalText
    notes: str
    created_at: dt.datetime
    updated_at: dt.datetime
    lines: list[InvoiceLine] | None = None
    payments: list[Payment] | None = None


class InvoicePage(BaseModel):
    items: list[Invoice]
    next_cursor: str | None


class Reminder(BaseModel):
    level: int
    due_on: dt.date
    state: str
    email_id: str | None
    created_at: dt.datetime
