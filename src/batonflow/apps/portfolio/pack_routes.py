"""Pricing packs over the API, under `/api/v1/portfolio/`: start a build (`POST /packs`, run
by the API's executor like any run), list the builds, read a pack, and `GET /health/pack`, the
state of the tenant's packs. The health endpoint only reports; it is the patterns' freshness
gate (`packs.require_fresh`) that refuses to compute while a build is warming (503)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, status
from pydantic import BaseModel, Field

from batonflow.api.cursors import decode_cursor, encode_cursor
from batonflow.api.deps import PageSize, State, client_address, require
from batonflow.apps.portfolio import pack_build, packs
from batonflow.auth.scopes import Principal
from batonflow.runs.service import Actor

router = APIRouter(tags=["portfolio"])
Reader = Annotated[Principal, require("runs:read")]
Writer = Annotated[Principal, require("runs:write")]


class NewBuild(BaseModel):
    as_of: date | None = Field(None, description="the pack's date (default: today)")
    symbols: list[str] | None = Field(
        None,
        max_length=pack_build.MAX_SYMBOLS,
        description="the symbols to price (default: every symbol of the tenant's ledgers and "
        "the portfolios' benchmarks)",
    )


class PackBuild(BaseModel):
    build_id: str
    pack_id: str | None = Field(description="the content hash, once fresh")
    as_of: date
    state: str = Field(description="warming, fresh, superseded, failed or unchanged")
    same_as: str | None = Field(description="unchanged: the existing pack of the same data")
    sources: list[str]
    counts: dict[str, Any] = Field(description="series per kind; `missing`: keys no one had")
    estimated_ready: datetime | None
    error: dict[str, Any] | None
    run_id: str | None
    started_at: datetime
    ready_at: datetime | None
    superseded_at: datetime | None


class SeriesSummary(BaseModel):
    kind: str
    key: str
    source: str
    currency: str | None
    points: int
    first: date | None
    last: date | None


class Pack(PackBuild):
    series: list[SeriesSummary]


class PackPage(BaseModel):
    items: list[PackBuild]
    next_cursor: str | None


class PackHealth(BaseModel):
    state: str = Field(description="warming, fresh, failed or none")
    pack_id: str | None = Field(description="the current (fresh) pack")
    as_of: date | None
    sources: list[str]
    ready_at: datetime | None
    building: str | None = Field(description="the warming build")
    estimated_ready: datetime | None
    retry_after_seconds: int | None = Field(description="warming: when to ask again")
    superseded: str | None = Field(description="the pack the current one replaced")
    last_error: dict[str, Any] | None = Field(description="failed: why the last build failed")


@router.post("/packs", response_model=PackBuild, status_code=status.HTTP_202_ACCEPTED)
async def start_build(
    state: State, caller: Writer, request: Request, body: NewBuild | None = None
) -> PackBuild:
    """Start a pack build: a `portfolio-pack-build` run (its id is `run_id`) and its warming
    build row. `GET /health/pack` tells when it is ready."""
    asked = body or NewBuild()
    actor = Actor(
        caller.name, caller.roles, kind=caller.kind, id=caller.id, address=client_address(request)
    )
    row = await state.transact(
        lambda conn: pack_build.queue(
            conn,
            caller.tenant_id,
            actor,
            state.now(),
            state.apps.settings_of("portfolio"),
            as_of=asked.as_of,
            symbols=asked.symbols,
            max_active_runs=state.settings.tenant_max_active_runs,
        )
    )
    state.committed([])
    return PackBuild.model_validate(row)


@router.get("/packs", response_model=PackPage)
async def list_packs(
    state: State,
    caller: Reader,
    limit: PageSize,
    cursor: Annotated[str | None, Query(description="the `next_cursor` of the last page")] = None,
    state_is: Annotated[
        str | None,
        Query(alias="state", pattern="^(warming|fresh|superseded|failed|unchanged)$"),
    ] = None,
) -> PackPage:
    """The tenant's pack builds, newest first."""
    after = decode_cursor(cursor) if cursor else None
    rows = await state.query(
        lambda conn: packs.list_packs(
            conn, caller.tenant_id, limit=limit, after=after, state=state_is
        )
    )
    last = rows[-1] if len(rows) == limit else None
    return PackPage(
        items=[PackBuild.model_validate(row) for row in rows],
        next_cursor=encode_cursor(last["started_at"], last["build_id"]) if last else None,
    )


@router.get("/packs/{pack_id}", response_model=Pack)
async def get_pack(state: State, caller: Reader, pack_id: str) -> Pack:
    """A pack (by its content hash) and a summary of each of its series."""
    row = await state.query(lambda conn: packs.get_pack(conn, caller.tenant_id, pack_id))
    return Pack.model_validate(row)


@router.get("/health/pack", response_model=PackHealth)
async def pack_health(state: State, caller: Reader) -> PackHealth:
    """The state of the tenant's packs: `fresh` with the current pack, `warming` while a build
    runs (with `estimated_ready` and `retry_after_seconds`), `failed` or `none`."""
    found = await state.query(lambda conn: packs.health(conn, caller.tenant_id, state.now()))
    return PackHealth.model_validate(found)
