"""The tenant's audit log: who did what, to which record, from where, when. Read and exported
with the `audit:read` scope, which only the admin role holds.

The list is a keyset page, newest first, filtered by actor (name or id), action and a time
range. The export streams every matching entry, oldest first, as CSV or JSON Lines, reading the
log in batches; the export itself is recorded first, so it shows in the log it exports. What the
output check finds in an entry's details (secrets, credentials) is redacted from the export.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from batonflow.api.cursors import decode_cursor, encode_cursor
from batonflow.api.deps import PageSize, State, client_address, require
from batonflow.audit import log as audit
from batonflow.auth.scopes import Principal
from batonflow.llm.leaks import LeakCheck

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])
Auditor = Annotated[Principal, require("audit:read")]
ActorQuery = Annotated[
    str | None, Query(max_length=320, description="an actor's name (email) or id")
]
ActionQuery = Annotated[
    str | None, Query(max_length=64, description="one action, as `GET /api/v1/audit/actions`")
]
SinceQuery = Annotated[datetime | None, Query(description="entries at or after this time")]
UntilQuery = Annotated[datetime | None, Query(description="entries before this time")]
MEDIA = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}


class AuditEntryOut(BaseModel):
    id: str
    created_at: datetime
    actor_kind: Literal["user", "api_key", "agent", "local", "anonymous"] = Field(
        description="a user, an API key, an agent in a run, the CLI (local), or someone not "
        "signed in (a refused sign-in)"
    )
    actor_id: str | None
    actor: str = Field(description="the user's email, the key's name, the agent's name")
    action: str
    target_kind: str | None
    target_id: str | None
    client_address: str | None = Field(description="null for the CLI and agents")
    details: dict[str, Any]


class AuditList(BaseModel):
    items: list[AuditEntryOut]
    next_cursor: str | None = Field(description="pass as `cursor` for the next (older) page")


class AuditAction(BaseModel):
    action: str
    description: str


@router.get("", status_code=200, response_model=AuditList)
async def list_audit(
    caller: Auditor,
    state: State,
    limit: PageSize,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
    actor: ActorQuery = None,
    action: ActionQuery = None,
    since: SinceQuery = None,
    until: UntilQuery = None,
) -> AuditList:
    """The tenant's audit log, newest first, a page at a time."""
    filters = audit.Filters(actor=actor, action=action, since=since, until=until)
    before = decode_cursor(cursor) if cursor else None
    rows = await state.query(
        lambda conn: audit.list_entries(
            conn, caller.tenant_id, filters, limit=limit + 1, before=before
        )
    )
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(rows[-1]["created_at"], rows[-1]["id"])
    return AuditList(
        items=[AuditEntryOut.model_validate(row) for row in rows], next_cursor=next_cursor
    )


@router.get("/actions", status_code=200, response_model=list[AuditAction])
async def list_actions(caller: Auditor) -> list[AuditAction]:
    """Every action the audit log records, with what it means."""
    return [AuditAction(action=name, description=text) for name, text in audit.ACTIONS.items()]


@router.get(
    "/export",
    status_code=200,
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "every matching entry, oldest first",
            "content": {"text/csv": {}, "application/x-ndjson": {}},
        }
    },
)
async def export_audit(
    caller: Auditor,
    state: State,
    request: Request,
    format: Annotated[Literal["csv", "jsonl"], Query(description="csv or jsonl")] = "jsonl",
    actor: ActorQuery = None,
    action: ActionQuery = None,
    since: SinceQuery = None,
    until: UntilQuery = None,
) -> StreamingResponse:
    """The tenant's audit log (or the entries matching the filters), streamed oldest first as
    CSV or JSON Lines. The export is recorded in the log before it starts."""
    filters = audit.Filters(actor=actor, action=action, since=since, until=until)
    now = state.now()
    await state.transact(
        lambda conn: audit.record(
            conn,
            caller.tenant_id,
            "audit.export",
            actor=audit.Actor.of(caller, client_address(request)),
            details={
                "format": format,
                **{
                    name: value.isoformat() if isinstance(value, datetime) else value
                    for name, value in filters.where().items()
                    if value is not None
                },
            },
            now=now,
        )
    )

    async def batch(after: tuple[datetime, str] | None) -> list[dict[str, Any]]:
        return await state.query(
            lambda conn: audit.batch_after(conn, caller.tenant_id, filters, after)
        )

    async def lines() -> AsyncIterator[str]:
        if format == "csv":
            yield audit.csv_header()
        async for row in audit.export(batch, LeakCheck.of(state.settings)):
            yield audit.csv_line(row) if format == "csv" else audit.jsonl_line(row)

    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    return StreamingResponse(
        lines(),
        media_type=MEDIA[format],
        headers={
            "Content-Disposition": f'attachment; filename="batonflow-audit-{stamp}.{format}"',
            "Cache-Control": "no-store",
        },
    )
