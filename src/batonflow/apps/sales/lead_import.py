"""Importing leads from a CSV, row by row: good rows are stored, bad ones are reported.

The file is UTF-8 with a header row naming its columns, any of

    company,domain,industry,employees,country,contact_name,email,title,source,owner,budget,
    currency,notes

in any order (`company`, `contact_name` and `email` are required; a column not in this list is
refused by name). A company is found by its name (case aside), else created; a contact by its
email, else created; so importing the same file again makes no second company or contact. A
row whose contact already has a lead from the same source is counted as a duplicate, not
stored again. `source` is "import" when empty; `budget` is a plain decimal and needs its
`currency`.

Each bad cell is reported by row (the file's line number, the header being row 1), column and
what to fix; a bad row writes nothing, and the other rows are stored.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from batonflow import csvfile
from batonflow.apps.sales import companies, leads, money
from batonflow.apps.sales import tables as t
from batonflow.apps.sales.crm_schemas import parse_decimal
from batonflow.csvfile import Row
from batonflow.errors import BatonflowError, InvalidInput
from batonflow.store.db import Conn

COLUMNS = (
    "company",
    "domain",
    "industry",
    "employees",
    "country",
    "contact_name",
    "email",
    "title",
    "source",
    "owner",
    "budget",
    "currency",
    "notes",
)
REQUIRED = ("company", "contact_name", "email")
LIMITS = {"company": 200, "domain": 253, "industry": 100, "contact_name": 200, "title": 200}
LIMITS |= {"source": 100, "owner": 200, "notes": 10_000}
MAX_ROWS = 10_000
Write = Callable[[Callable[[Conn], Awaitable[Any]]], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class RowError:
    row: int
    column: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "message": self.message}


@dataclass
class Report:
    rows: int = 0
    leads_created: int = 0
    duplicates: int = 0
    companies_created: int = 0
    contacts_created: int = 0
    errors: list[RowError] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "leads_created": self.leads_created,
            "duplicates": self.duplicates,
            "companies_created": self.companies_created,
            "contacts_created": self.contacts_created,
            "errors": [e.as_dict() for e in self.errors],
        }


def read_rows(data: bytes) -> list[Row]:
    """The file's rows as cells by column; `InvalidInput` when the file itself is unusable."""
    rows = csvfile.read_rows(data, COLUMNS, REQUIRED, MAX_ROWS)
    if not rows:
        raise InvalidInput("the CSV has a header but no rows")
    return rows


def check_row(row: Row) -> tuple[dict[str, Any] | None, list[RowError]]:
    """A row's company, contact and lead fields, or what is wrong with each cell."""
    if "" in row.cells:
        return None, [RowError(row.number, "", row.cells[""])]
    cells = row.cells
    errors: list[RowError] = []

    def bad(column: str, message: str) -> None:
        errors.append(RowError(row.number, column, message))

    for column in REQUIRED:
        if not cells.get(column):
            bad(column, f"every row needs {column.replace('_', ' ')}")
    for column, most in LIMITS.items():
        if len(cells.get(column, "")) > most:
            bad(column, f"at most {most} characters")
    if cells.get("email"):
        try:
            companies.email(cells["email"])
        except InvalidInput as exc:
            bad("email", exc.message)
    employees: int | None = None
    if cells.get("employees"):
        if cells["employees"].isdigit():
            employees = int(cells["employees"])
        else:
            bad("employees", f"'{cells['employees']}' is not a count (a whole number, like 250)")
    country = cells.get("country", "").upper()
    if country and not (len(country) == 2 and country.isalpha() and country.isascii()):
        bad("country", f"'{cells['country']}' is not an ISO 3166 code (like DE)")
    budget: Decimal | None = None
    if cells.get("budget"):
        try:
            budget = parse_decimal(cells["budget"])
            if budget < 0:
                bad("budget", "a budget is 0 or more")
        except ValueError as exc:
            bad("budget", str(exc))
    currency = cells.get("currency") or None
    if currency:
        try:
            currency = money.currency(currency)
        except InvalidInput as exc:
            bad("currency", exc.message)
    elif budget is not None:
        bad("currency", "a budget needs its currency (like EUR)")
    if errors:
        return None, errors
    company = {
        "name": cells["company"],
        "domain": cells.get("domain") or None,
        "industry": cells.get("industry") or None,
        "employees": employees,
        "country": country or None,
    }
    contact = {
        "name": cells["contact_name"],
        "email": cells["email"],
        "title": cells.get("title") or None,
    }
    lead = {
        "source": cells.get("source") or "import",
        "owner": cells.get("owner") or None,
        "notes": cells.get("notes", ""),
        "budget": budget,
        "currency": currency,
    }
    return {"company": company, "contact": contact, "lead": lead}, []


async def _store(
    conn: Conn, tenant_id: str, fields: dict[str, Any], report: Report, now: datetime
) -> None:
    company, made = await companies.find_or_create_company(
        conn, tenant_id, now=now, **fields["company"]
    )
    report.companies_created += made
    contact, made = await companies.find_or_create_contact(
        conn, tenant_id, now=now, **(fields["contact"] | {"company_id": company["id"]})
    )
    report.contacts_created += made
    before = await conn.scalar(
        sa.select(t.leads.c.id).where(
            t.leads.c.tenant_id == tenant_id,
            t.leads.c.contact_id == contact["id"],
            t.leads.c.source == fields["lead"]["source"],
        )
    )
    if before is not None:
        report.duplicates += 1
        return
    await leads.create_lead(
        conn,
        tenant_id,
        company_id=company["id"],
        contact_id=contact["id"],
        now=now,
        **fields["lead"],
    )
    report.leads_created += 1


async def import_leads(write: Write, tenant_id: str, data: bytes, *, now: datetime) -> Report:
    """Import the CSV `data` through `write` (the caller's write transaction, one per row, so
    a row that fails leaves the others stored); the report of what was made and what was
    wrong, row by row."""
    rows = read_rows(data)
    report = Report(rows=len(rows))
    for row in rows:
        fields, errors = check_row(row)
        report.errors.extend(errors)
        if fields is None:
            continue
        try:
            counted = Report()

            async def store(conn: Conn, f: dict[str, Any] = fields, r: Report = counted) -> None:
                await _store(conn, tenant_id, f, r, now)

            await write(store)
        except BatonflowError as exc:
            report.errors.append(RowError(row.number, "", exc.message))
            continue
        report.leads_created += counted.leads_created
        report.duplicates += counted.duplicates
        report.companies_created += counted.companies_created
        report.contacts_created += counted.contacts_created
    return report
