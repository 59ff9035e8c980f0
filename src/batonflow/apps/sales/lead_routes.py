"""Leads under `/api/v1/sales/leads`: create (by ids, or with the company and contact inline),
get, patch (status transitions checked), delete, keyset pages with filters, and the CSV import
with its per-row report. Reads need `runs:read`, changes `runs:write`; another tenant's lead is
a 404."""

from __future__ import annotations

from email.parser import BytesParser
from email.policy import HTTP
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from batonflow.api.cursors import decode_cursor
from batonflow.api.deps import PageSize, State, require
from batonflow.apps.sales import lead_import, leads
from batonflow.apps.sales.company_routes import Cursor, Search, next_cursor
from batonflow.apps.sales.crm_schemas import Lead, LeadImport, LeadPage, LeadPatch, NewLead, Status
from batonflow.auth.scopes import Principal
from batonflow.errors import InvalidInput

router = APIRouter(tags=["sales"])
Reader = Annotated[Principal, require("runs:read")]
Writer = Annotated[Principal, require("runs:write")]
CSV_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            },
        },
    }
}


async def csv_body(request: Request) -> bytes:
    """The CSV a request carries: the body, or the first file part of a form."""
    data = await request.body()
    kind = request.headers.get("content-type", "")
    if not kind.lower().startswith("multipart/"):
        return data
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + kind.encode("latin-1") + b"\r\n\r\n" + data
    )
    for part in message.iter_parts() if message.is_multipart() else ():
        if part.get_filename() is not None:
            payload = part.get_payload(decode=True)
            return payload if isinstance(payload, bytes) else b""
    raise InvalidInput("the form has no file part; send the CSV as a file (or as text/csv)")


@router.post("/leads", response_model=Lead, status_code=status.HTTP_201_CREATED)
async def create_lead(state: State, caller: Writer, body: NewLead) -> Lead:
    """Create a lead of a company and a contact, each named by id or given inline (a company
    is found by its name, a contact by its email, else created). It starts `new`."""
    fields = body.model_dump(exclude={"company", "contact"})
    company = body.company.model_dump() if body.company else None
    contact = body.contact.model_dump() if body.contact else None
    row = await state.transact(
        lambda conn: leads.create_lead_inline(
            conn, caller.tenant_id, company=company, contact=contact, now=state.now(), **fields
        )
    )
    return Lead.model_validate(row)


@router.post(
    "/leads/import",
    response_model=LeadImport,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=CSV_BODY,
)
async def import_leads(state: State, caller: Writer, request: Request) -> LeadImport:
    """Import leads from a CSV (`text/csv`, or a form's file; see the docs for the columns).
    Good rows are stored; each bad one is in `errors` with its row, column and what to fix."""
    report = await lead_import.import_leads(
        state.transact, caller.tenant_id, await csv_body(request), now=state.now()
    )
    return LeadImport.model_validate(report.as_dict())


@router.get("/leads", response_model=LeadPage)
async def list_leads(
    state: State,
    caller: Reader,
    limit: PageSize,
    cursor: Cursor = None,
    q: Search = None,
    status_: Annotated[Status | None, Query(alias="status")] = None,
    owner: Annotated[str | None, Query(max_length=200)] = None,
    source: Annotated[str | None, Query(max_length=100)] = None,
    min_score: Annotated[int | None, Query(ge=0, le=100)] = None,
) -> LeadPage:
    """Leads with their company and contact, newest first. `q` searches the company's name,
    the contact's name and email, and the notes."""
    after = decode_cursor(cursor) if cursor else None
    rows = await state.query(
        lambda conn: leads.list_leads(
            conn,
            caller.tenant_id,
            limit=limit,
            after=after,
            status=status_,
            owner=owner,
            source=source,
            min_score=min_score,
            q=q,
        )
    )
    return LeadPage(
        items=[Lead.model_validate(r) for r in rows], next_cursor=next_cursor(rows, limit)
    )


@router.get("/leads/{lead_id}", response_model=Lead)
async def get_lead(state: State, caller: Reader, lead_id: str) -> Lead:
    return Lead.model_validate(
        await state.query(lambda conn: leads.get_lead(conn, caller.tenant_id, lead_id))
    )


@router.patch("/leads/{lead_id}", response_model=Lead)
async def update_lead(state: State, caller: Writer, lead_id: str, body: LeadPatch) -> Lead:
    """Change the fields sent; a new `status` must follow new -> qualified | disqualified ->
    contacted -> converted (a 422 says which statuses the lead can take)."""
    row = await state.transact(
        lambda conn: leads.update_lead(
            conn, caller.tenant_id, lead_id, now=state.now(), **body.model_dump(exclude_unset=True)
        )
    )
    return Lead.model_validate(row)


@router.delete("/leads/{lead_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_lead(state: State, caller: Writer, lead_id: str) -> Response:
    """Delete a lead; a 409 names the deals made from it."""
    await state.transact(lambda conn: leads.delete_lead(conn, caller.tenant_id, lead_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
