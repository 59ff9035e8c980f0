"""Data rights and results in the API: the tenant's effective rights per source (and setting
or resetting an override, admins only), the recorded results (list, one) and their export as
CSV, JSON or PDF. An export a source's licence forbids is a 403 naming the source and its term,
recorded in the audit log before the answer; one that is allowed carries the attribution of
every source, and a PDF the watermark a source requires."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from batonflow.api.cursors import decode_cursor, encode_cursor
from batonflow.api.deps import PageSize, State, client_address, require
from batonflow.api.routes.auth import Strict
from batonflow.apps.portfolio import exports, results, rights
from batonflow.audit import log as audit
from batonflow.auth.scopes import Principal
from batonflow.llm.leaks import LeakCheck
from batonflow.store.db import Conn

router = APIRouter(tags=["portfolio"])
Reader = Annotated[Principal, require("runs:read")]
Admin = Annotated[Principal, require("admin")]


class RightsOut(BaseModel):
    source: str
    attribution: str
    export_allowed: bool
    redistribution_allowed: bool
    watermark_required: bool
    terms: str = Field(description="the licence term behind the flags")
    overridden: bool = Field(description="true when the tenant set these, not the defaults")
    updated_by: str | None
    updated_at: datetime | None


class RightsList(BaseModel):
    items: list[RightsOut]


class RightsIn(Strict):
    attribution: str = Field(min_length=1, max_length=500)
    export_allowed: bool
    redistribution_allowed: bool
    watermark_required: bool


class ResultSummary(BaseModel):
    id: str
    run_id: str
    pattern_id: str
    pattern_version: int
    portfolio_id: str | None
    pricing_pack_id: str
    ledger_commit_hash: str | None
    result_hash: str
    sources: list[str]
    created_by: str
    created_at: datetime


class ResultOut(ResultSummary):
    inputs: dict[str, Any]
    result: dict[str, Any]
    attribution: list[str] = Field(description="to show with the result, a line per source")


class ResultPage(BaseModel):
    items: list[ResultSummary]
    next_cursor: str | None


def _rights_out(found: rights.Rights) -> RightsOut:
    return RightsOut(
        source=found.source,
        attribution=found.attribution,
        export_allowed=found.export_allowed,
        redistribution_allowed=found.redistribution_allowed,
        watermark_required=found.watermark_required,
        terms=found.terms,
        overridden=found.overridden,
        updated_by=found.updated_by,
        updated_at=found.updated_at,
    )


@router.get("/rights", response_model=RightsList)
async def list_rights(state: State, caller: Reader) -> RightsList:
    """Every data source's rights for the tenant: the defaults, or the tenant's override."""
    found = await state.query(lambda conn: rights.effective(conn, caller.tenant_id))
    return RightsList(items=[_rights_out(item) for item in found.values()])


async def _audited(
    conn: Conn,
    caller: Principal,
    request: Request,
    source: str,
    details: dict[str, Any],
    now: datetime,
) -> None:
    await audit.record(
        conn,
        caller.tenant_id,
        "portfolio.rights_set",
        actor=audit.Actor.of(caller, client_address(request)),
        now=now,
        target=("portfolio_source", source),
        details=details,
    )


@router.put("/rights/{source}", response_model=RightsOut)
async def set_rights(
    state: State, caller: Admin, request: Request, source: str, body: RightsIn
) -> RightsOut:
    """Override a source's rights for the tenant (admins; recorded in the audit log)."""

    async def work(conn: Conn) -> rights.Rights:
        found = await rights.set_rights(
            conn,
            caller.tenant_id,
            source,
            **body.model_dump(),
            actor=caller.name,
            now=state.now(),
        )
        await _audited(conn, caller, request, source, body.model_dump(), state.now())
        return found

    return _rights_out(await state.transact(work))


@router.delete("/rights/{source}", response_model=RightsOut)
async def reset_rights(state: State, caller: Admin, request: Request, source: str) -> RightsOut:
    """Drop the tenant's override of a source: its defaults apply again (admins; audited)."""

    async def work(conn: Conn) -> rights.Rights:
        found = await rights.reset_rights(conn, caller.tenant_id, source)
        await _audited(conn, caller, request, source, {"reset": True}, state.now())
        return found

    return _rights_out(await state.transact(work))


@router.get("/results", response_model=ResultPage)
async def list_results(
    state: State,
    caller: Reader,
    limit: PageSize,
    cursor: Annotated[str | None, Query(description="the `next_cursor` of the last page")] = None,
    portfolio_id: Annotated[str | None, Query(max_length=36)] = None,
    pattern_id: Annotated[str | None, Query(max_length=64)] = None,
) -> ResultPage:
    """The tenant's recorded results, newest first (a portfolio's or a pattern's when given)."""
    before = decode_cursor(cursor) if cursor else None
    rows = await state.query(
        lambda conn: results.page(
            conn,
            caller.tenant_id,
            limit=limit,
            before=before,
            portfolio_id=portfolio_id,
            pattern_id=pattern_id,
        )
    )
    last = rows[-1] if len(rows) == limit else None
    return ResultPage(
        items=[ResultSummary.model_validate(row) for row in rows],
        next_cursor=encode_cursor(last["created_at"], last["id"]) if last else None,
    )


@router.get("/results/{result_id}", response_model=ResultOut)
async def get_result(state: State, caller: Reader, result_id: str) -> ResultOut:
    """One result: what it was computed from (pack, ledger hash, inputs), its body and hash."""

    async def work(conn: Conn) -> dict[str, Any]:
        row = await results.get(conn, caller.tenant_id, result_id)
        lines = await rights.attribution_lines(conn, caller.tenant_id, row["sources"])
        return row | {"attribution": lines}

    return ResultOut.model_validate(await state.query(work))


@router.get(
    "/results/{result_id}/export",
    responses={
        200: {
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/json": {"schema": {"type": "object"}},
                "application/pdf": {"schema": {"type": "string", "format": "binary"}},
            }
        },
        403: {"description": "a source's licence does not allow exporting this result"},
    },
)
async def export_result(
    state: State,
    caller: Reader,
    request: Request,
    result_id: str,
    format: Annotated[Literal["csv", "json", "pdf"], Query()] = "json",
) -> Response:
    """The result as a file, with its sources' attribution (a PDF watermarked when a source
    requires it); 403 naming each source whose licence forbids export. Audited either way."""
    actor = audit.Actor.of(caller, client_address(request))
    row, verdict = await state.transact(
        lambda conn: exports.authorise(
            conn,
            caller.tenant_id,
            result_id,
            format,
            actor=actor,
            now=state.now(),
            leaks=LeakCheck.of(state.settings),
        )
    )
    if not verdict.allowed:
        raise exports.refusal(verdict)
    found = exports.render(row, verdict, format)
    return Response(
        found.body,
        media_type=found.media_type,
        headers={"Content-Disposition": f'attachment; filename="{found.filename}"'},
    )
