"""The CRM API's bodies. Decimals (prices, amounts, quantities, discounts) travel as strings
("1234.5"): JSON numbers are floats to most clients, and a float cannot hold an amount exactly."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer

_PLAIN = re.compile(r"-?\d+(\.\d+)?")


def parse_decimal(value: str) -> Decimal:
    """A plain decimal ("1234.5"): no exponent, no thousands separators, no NaN."""
    text = value.strip()
    if not _PLAIN.fullmatch(text):
        raise ValueError(f"'{value}' is not a plain decimal (like 1234.5)")
    try:
        return Decimal(text)
    except InvalidOperation:
        raise ValueError(f"'{value}' is not a plain decimal (like 1234.5)") from None


def _decimal(value: Any) -> Any:
    if isinstance(value, str):
        return parse_decimal(value)
    if isinstance(value, Decimal):
        return value
    raise ValueError('a decimal is sent as a string, like "1234.5"')


DecimalText = Annotated[
    Decimal,
    BeforeValidator(_decimal),
    PlainSerializer(lambda d: format(d, "f"), return_type=str, when_used="json"),
    Field(json_schema_extra={"type": "string", "format": "decimal"}),
]
Currency = Annotated[str, Field(pattern=r"^[A-Za-z]{3}$", description="ISO 4217, like EUR")]
Status = Literal["new", "qualified", "disqualified", "contacted", "converted"]
Required = Literal["amount", "close_date", "contact_id", "lines", "owner"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NewCompany(Strict):
    name: str = Field(min_length=1, max_length=200)
    domain: str | None = Field(None, max_length=253)
    industry: str | None = Field(None, max_length=100)
    employees: int | None = Field(None, ge=0)
    country: str | None = Field(None, description="ISO 3166 alpha-2, like DE")


class CompanyPatch(Strict):
    name: str | None = Field(None, min_length=1, max_length=200)
    domain: str | None = Field(None, max_length=253)
    industry: str | None = Field(None, max_length=100)
    employees: int | None = Field(None, ge=0)
    country: str | None = None


class Company(BaseModel):
    id: str
    name: str
    domain: str | None
    industry: str | None
    employees: int | None
    country: str | None
    created_at: dt.datetime
    updated_at: dt.datetime


class NewContact(Strict):
    name: str = Field(min_length=1, max_length=200)
    email: str = Field(min_length=3, max_length=320)
    company_id: str | None = None
    title: str | None = Field(None, max_length=200)
    phone: str | None = Field(None, max_length=50)


class ContactPatch(Strict):
    name: str | None = Field(None, min_length=1, max_length=200)
    email: str | None = Field(None, min_length=3, max_length=320)
    company_id: str | None = None
    title: str | None = Field(None, max_length=200)
    phone: str | None = Field(None, max_length=50)


class Contact(BaseModel):
    id: str
    company_id: str | None
    name: str
    email: str
    title: str | None
    phone: str | None
    created_at: dt.datetime
    updated_at: dt.datetime


class InlineContact(Strict):
    name: str = Field(min_length=1, max_length=200)
    email: str = Field(min_length=3, max_length=320)
    title: str | None = Field(None, max_length=200)


class NewLead(Strict):
    company_id: str | None = Field(None, description="an existing company, or `company`")
    contact_id: str | None = Field(None, description="an existing contact, or `contact`")
    company: NewCompany | None = Field(None, description="found by name, else created")
    contact: InlineContact | None = Field(None, description="found by email, else created")
    source: str = Field("web", min_length=1, max_length=100)
    owner: str | None = Field(None, max_length=200)
    notes: str = Field("", max_length=10_000)
    budget: DecimalText | None = None
    currency: Currency | None = None


class LeadPatch(Strict):
    status: Status | None = None
    source: str | None = Field(None, min_length=1, max_length=100)
    owner: str | None = Field(None, max_length=200)
    notes: str | None = Field(None, max_length=10_000)
    budget: DecimalText | None = None
    currency: Currency | None = None


class LeadCompany(BaseModel):
    id: str
    name: str
    domain: str | None
    industry: str | None
    employees: int | None
    country: str | None


class LeadContact(BaseModel):
    id: str
    name: str
    email: str
    title: str | None
    phone: str | None


class Lead(BaseModel):
    id: str
    company_id: str
    contact_id: str
    source: str
    status: str
    owner: str | None
    notes: str
    budget: DecimalText | None
    currency: str | None
    score: int | None
    score_reasons: list[dict[str, Any]] | None
    company: LeadCompany
    contact: LeadContact
    created_at: dt.datetime
    updated_at: dt.datetime


class LeadRowProblem(BaseModel):
    row: int = Field(description="the file's line (the header is row 1)")
    column: str = Field(description="the column to fix; empty for the whole row")
    message: str


class LeadImport(BaseModel):
    rows: int
    leads_created: int
    duplicates: int = Field(description="rows whose contact already had a lead from that source")
    companies_created: int
    contacts_created: int
    errors: list[LeadRowProblem]


class NewProduct(Strict):
    sku: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=10_000)
    unit_price: DecimalText
    currency: Currency


class ProductPatch(Strict):
    name: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=10_000)
    unit_price: DecimalText | None = None
    currency: Currency | None = None


class Product(BaseModel):
    id: str
    sku: str
    name: str
    description: str
    unit_price: DecimalText
    currency: str
    active: bool
    created_at: dt.datetime


class StageIn(Strict):
    id: str | None = Field(None, description="an existing stage to keep; none: a new stage")
    name: str = Field(min_length=1, max_length=100)
    kind: Literal["open", "won", "lost"] = "open"
    probability: int = Field(ge=0, le=100)
    required_fields: list[Required] = Field(default_factory=list)


class NewPipeline(Strict):
    name: str = Field(min_length=1, max_length=200)
    is_default: bool = False
    stages: list[StageIn] = Field(min_length=1, max_length=50)


class PipelinePatch(Strict):
    name: str | None = Field(None, min_length=1, max_length=200)
    is_default: bool | None = None
    stages: list[StageIn] | None = Field(
        None, min_length=1, max_length=50, description="the whole ordered list"
    )


class PipelineStage(BaseModel):
    id: str
    pipeline_id: str
    position: int
    name: str
    kind: str
    probability: int
    required_fields: list[str]


class Pipeline(BaseModel):
    id: str
    name: str
    is_default: bool
    created_at: dt.datetime
    stages: list[PipelineStage]


class LineIn(Strict):
    product_id: str
    quantity: DecimalText
    unit_price: DecimalText | None = Field(None, description="default: the catalog's price")
    discount: DecimalText = Field(Decimal(0), description="a fraction: 0.15 is 15 %")
    description: str | None = Field(None, max_length=500)


class NewDeal(Strict):
    title: str = Field(min_length=1, max_length=200)
    company_id: str
    contact_id: str | None = None
    lead_id: str | None = None
    pipeline_id: str | None = Field(None, description="default: the tenant's default")
    stage_id: str | None = Field(None, description="default: the pipeline's first stage")
    currency: Currency
    amount: DecimalText | None = Field(None, description="only without lines")
    close_date: dt.date | None = None
    probability: int | None = Field(None, ge=0, le=100)
    owner: str | None = Field(None, max_length=200)
    lines: list[LineIn] = Field(default_factory=list, max_length=500)


class DealPatch(Strict):
    title: str | None = Field(None, min_length=1, max_length=200)
    company_id: str | None = None
    contact_id: str | None = None
    lead_id: str | None = None
    currency: Currency | None = None
    amount: DecimalText | None = None
    close_date: dt.date | None = None
    probability: int | None = Field(None, ge=0, le=100)
    owner: str | None = Field(None, max_length=200)
    lines: list[LineIn] | None = Field(None, max_length=500, description="replaces the lines")


class Move(Strict):
    stage_id: str
    reason: str = Field("", max_length=2000)


class Line(BaseModel):
    id: str
    position: int
    product_id: str
    description: str
    quantity: DecimalText
    unit_price: DecimalText
    discount: DecimalText
    net: DecimalText


class StageMove(BaseModel):
    id: str
    from_stage_id: str | None
    to_stage_id: str
    actor_kind: str
    actor: str
    reason: str
    run_id: str | None
    at: dt.datetime


class Totals(BaseModel):
    subtotal: DecimalText | None
    discount: DecimalText
    net: DecimalText | None


class DealSummary(BaseModel):
    id: str
    pipeline_id: str
    stage_id: str
    company_id: str
    contact_id: str | None
    lead_id: str | None
    title: str
    amount: DecimalText | None
    currency: str
    close_date: dt.date | None
    probability: int | None
    owner: str | None
    created_at: dt.datetime
    updated_at: dt.datetime


class Deal(DealSummary):
    stage: PipelineStage
    lines: list[Line]
    history: list[StageMove]
    totals: Totals


class CompanyPage(BaseModel):
    items: list[Company]
    next_cursor: str | None


class ContactPage(BaseModel):
    items: list[Contact]
    next_cursor: str | None


class LeadPage(BaseModel):
    items: list[Lead]
    next_cursor: str | None


class DealPage(BaseModel):
    items: list[DealSummary]
    next_cursor: str | None


class BoardColumn(BaseModel):
    stage: PipelineStage
    count: int
    amounts: dict[str, DecimalText] = Field(description="the deals' amounts per currency")
    deals: list[DealSummary]


class PipelineHeader(BaseModel):
    id: str
    name: str
    is_default: bool
    created_at: dt.datetime


class Board(BaseModel):
    pipeline: PipelineHeader
    stages: list[BoardColumn]
