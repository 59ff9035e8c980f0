"""The contracts API: the tenant's contract templates, and contracts made from a deal, rendered
again as new versions, moved through their statuses, listed, read and downloaded as PDFs. Reads
need `runs:read`, changes `runs:write`; another tenant's contract is a 404."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status

from batonflow.api.cursors import decode_cursor, encode_cursor
from batonflow.api.deps import PageSize, State, require
from batonflow.apps.sales import contracts, finance_pdf
from batonflow.apps.sales.finance_schemas import (
    Contract,
    ContractPage,
    NewContract,
    NewTemplate,
    Render,
    StatusChange,
    Template,
)
from batonflow.auth.scopes import Principal

router = APIRouter(tags=["sales"])
Reader = Annotated[Principal, require("runs:read")]
Writer = Annotated[Principal, require("runs:write")]
C = "/contracts/{contract_id}"
PDF: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/pdf": {}}, "description": "the contract as a PDF"}
}


@router.post("/contract-templates", response_model=Template, status_code=status.HTTP_201_CREATED)
async def create_template(state: State, caller: Writer, body: NewTemplate) -> Template:
    """A contract template (Jinja2 text, rendered in a sandbox); names are unique."""
    row = await state.transact(
        lambda conn: contracts.create_template(
            conn, caller.tenant_id, name=body.name, body=body.body, now=state.now()
        )
    )
    return Template.model_validate(row)


@router.get("/contract-templates", response_model=list[Template])
async def list_templates(state: State, caller: Reader) -> list[Template]:
    rows = await state.query(lambda conn: contracts.list_templates(conn, caller.tenant_id))
    return [Template.model_validate(row) for row in rows]


@router.get("/contract-templates/{template_id}", response_model=Template)
async def get_template(state: State, caller: Reader, template_id: str) -> Template:
    row = await state.query(
        lambda conn: contracts.get_template(conn, caller.tenant_id, template_id)
    )
    return Template.model_validate(row)


@router.post("/contracts", response_model=Contract, status_code=status.HTTP_201_CREATED)
async def create_contract(state: State, caller: Writer, body: NewContract) -> Contract:
    """A draft contract for a deal, rendered from a template with the agreed `terms`."""
    row = await state.transact(
        lambda conn: contracts.create_contract(
            conn,
            caller.tenant_id,
            deal_id=body.deal_id,
            template_id=body.template_id,
            terms=body.terms,
            title=body.title,
            actor=caller.name,
            now=state.now(),
        )
    )
    return Contract.model_validate(row)


@router.get("/contracts", response_model=ContractPage)
async def list_contracts(
    state: State,
    caller: Reader,
    limit: PageSize,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
    status_: Annotated[str | None, Query(alias="status", max_length=12)] = None,
    deal_id: Annotated[str | None, Query(max_length=36)] = None,
) -> ContractPage:
    """Contracts, newest first, a page at a time; filter by status or deal."""
    after = decode_cursor(cursor) if cursor else None
    rows = await state.query(
        lambda conn: contracts.page(
            conn, caller.tenant_id, limit=limit + 1, after=after, status=status_, deal_id=deal_id
        )
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return ContractPage(
        items=[Contract.model_validate(row) for row in rows],
        next_cursor=encode_cursor(rows[-1]["created_at"], rows[-1]["id"]) if more else None,
    )


@router.get(C, response_model=Contract)
async def get_contract(state: State, caller: Reader, contract_id: str) -> Contract:
    """A contract with every version's terms."""
    row = await state.query(
        lambda conn: contracts.get_contract(conn, caller.tenant_id, contract_id)
    )
    return Contract.model_validate(row)


@router.post(f"{C}/render", response_model=Contract)
async def render_contract(state: State, caller: Writer, contract_id: str, body: Render) -> Contract:
    """Render the contract again as its next version (back to draft if it was in review or
    approved); a sent or signed contract is not rendered again (409)."""
    row = await state.transact(
        lambda conn: contracts.rerender(
            conn,
            caller.tenant_id,
            contract_id,
            terms=body.terms,
            actor=caller.name,
            reason=body.reason,
            now=state.now(),
        )
    )
    return Contract.model_validate(row)


@router.post(f"{C}/status", response_model=Contract)
async def change_status(
    state: State, caller: Writer, contract_id: str, body: StatusChange
) -> Contract:
    """Move a contract: draft -> in_review -> approved -> sent -> signed (in_review and approved
    may go back to draft); any other move is a 422 naming the allowed ones."""
    row = await state.transact(
        lambda conn: contracts.change_status(
            conn, caller.tenant_id, contract_id, body.status, now=state.now()
        )
    )
    return Contract.model_validate(row)


@router.get(f"{C}/pdf", response_class=Response, responses=PDF)
async def contract_pdf(state: State, caller: Reader, contract_id: str) -> Response:
    """The contract's current version as a PDF."""
    row = await state.query(
        lambda conn: contracts.get_contract(conn, caller.tenant_id, contract_id)
    )
    return Response(
        content=finance_pdf.render_contract(row),
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="contract-{contract_id}.pdf"'},
    )
