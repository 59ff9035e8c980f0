"""Companies and contacts under `/api/v1/sales/`: create, get, patch, delete, and keyset pages
(newest first) with filters. Reads need `runs:read`, changes `runs:write`; another tenant's
company or contact is a 404."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status

from batonflow.api.cursors import decode_cursor, encode_cursor
from batonflow.api.deps import PageSize, State, require
from batonflow.apps.sales import companies
from batonflow.apps.sales.crm_schemas import (
    Company,
    CompanyPage,
    CompanyPatch,
    Contact,
    ContactPage,
    ContactPatch,
    NewCompany,
    NewContact,
)
from batonflow.auth.scopes import Principal

router = APIRouter(tags=["sales"])
Reader = Annotated[Principal, require("runs:read")]
Writer = Annotated[Principal, require("runs:write")]
Cursor = Annotated[str | None, Query(description="the `next_cursor` of the last page")]
Search = Annotated[str | None, Query(max_length=200, description="text to search for")]


def next_cursor(rows: list[dict[str, Any]], limit: int) -> str | None:
    """The cursor of the page after `rows`, when the page is full."""
    return encode_cursor(rows[-1]["created_at"], rows[-1]["id"]) if len(rows) == limit else None


@router.post("/companies", response_model=Company, status_code=status.HTTP_201_CREATED)
async def create_company(state: State, caller: Writer, body: NewCompany) -> Company:
    """Create a company; its name is unique in the tenant (case aside)."""
    row = await state.transact(
        lambda conn: companies.create_company(
            conn, caller.tenant_id, now=state.now(), **body.model_dump()
        )
    )
    return Company.model_validate(row)


@router.get("/companies", response_model=CompanyPage)
async def list_companies(
    state: State, caller: Reader, limit: PageSize, cursor: Cursor = None, q: Search = None
) -> CompanyPage:
    """Companies, newest first; `q` searches the name and the domain."""
    after = decode_cursor(cursor) if cursor else None
    rows = await state.query(
        lambda conn: companies.list_companies(conn, caller.tenant_id, limit=limit, after=after, q=q)
    )
    return CompanyPage(
        items=[Company.model_validate(r) for r in rows], next_cursor=next_cursor(rows, limit)
    )


@router.get("/companies/{company_id}", response_model=Company)
async def get_company(state: State, caller: Reader, company_id: str) -> Company:
    row = await state.query(lambda conn: companies.get_company(conn, caller.tenant_id, company_id))
    return Company.model_validate(row)


@router.patch("/companies/{company_id}", response_model=Company)
async def update_company(
    state: State, caller: Writer, company_id: str, body: CompanyPatch
) -> Company:
    """Change the fields sent (null clears an optional one)."""
    row = await state.transact(
        lambda conn: companies.update_company(
            conn,
            caller.tenant_id,
            company_id,
            now=state.now(),
            **body.model_dump(exclude_unset=True),
        )
    )
    return Company.model_validate(row)


@router.delete("/companies/{company_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_company(state: State, caller: Writer, company_id: str) -> Response:
    """Delete a company with its contacts; a 409 names the deals or leads that hold it."""
    await state.transact(lambda conn: companies.delete_company(conn, caller.tenant_id, company_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/contacts", response_model=Contact, status_code=status.HTTP_201_CREATED)
async def create_contact(state: State, caller: Writer, body: NewContact) -> Contact:
    """Create a contact; the email is lower-cased and unique in the tenant (a 409 names the
    contact that has it)."""
    row = await state.transact(
        lambda conn: companies.create_contact(
            conn, caller.tenant_id, now=state.now(), **body.model_dump()
        )
    )
    return Contact.model_validate(row)


@router.get("/contacts", response_model=ContactPage)
async def list_contacts(
    state: State,
    caller: Reader,
    limit: PageSize,
    cursor: Cursor = None,
    q: Search = None,
    company_id: Annotated[str | None, Query(description="a company's contacts")] = None,
) -> ContactPage:
    """Contacts, newest first; `q` searches the name and the email."""
    after = decode_cursor(cursor) if cursor else None
    rows = await state.query(
        lambda conn: companies.list_contacts(
            conn, caller.tenant_id, limit=limit, after=after, q=q, company_id=company_id
        )
    )
    return ContactPage(
        items=[Contact.model_validate(r) for r in rows], next_cursor=next_cursor(rows, limit)
    )


@router.get("/contacts/{contact_id}", response_model=Contact)
async def get_contact(state: State, caller: Reader, contact_id: str) -> Contact:
    row = await state.query(lambda conn: companies.get_contact(conn, caller.tenant_id, contact_id))
    return Contact.model_validate(row)


@router.patch("/contacts/{contact_id}", response_model=Contact)
async def update_contact(
    state: State, caller: Writer, contact_id: str, body: ContactPatch
) -> Contact:
    row = await state.transact(
        lambda conn: companies.update_contact(
            conn,
            caller.tenant_id,
            contact_id,
            now=state.now(),
            **body.model_dump(exclude_unset=True),
        )
    )
    return Contact.model_validate(row)


@router.delete("/contacts/{contact_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_contact(state: State, caller: Writer, contact_id: str) -> Response:
    """Delete a contact; a 409 names the deals or leads it is on."""
    await state.transact(lambda conn: companies.delete_contact(conn, caller.tenant_id, contact_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
