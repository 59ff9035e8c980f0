"""The scoping app's API, under `/api/v1/scoping/`: sessions (create, list, get, rename,
archive, delete, share), their stages, attached documents and the charter (`stage_routes`,
`document_routes`, `charter_routes`), and the tenant's limits. Reads need `runs:read`, changes
`runs:write`; a session another user owns and has not shared is a 404, as is one in another
tenant."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from batonflow.api.cursors import decode_cursor, encode_cursor
from batonflow.api.deps import ApiState, PageSize, State, require
from batonflow.apps.scoping import limits, service, sessions
from batonflow.apps.scoping.schemas import (
    LimitsIn,
    LimitsOut,
    NewSession,
    NewShare,
    Session,
    SessionPage,
    SessionPatch,
    SessionSummary,
    Share,
)
from batonflow.apps.scoping.sessions import Viewer
from batonflow.auth.scopes import Principal
from batonflow.store.db import Conn

router = APIRouter(tags=["scoping"])
Reader = Annotated[Principal, require("runs:read")]
Writer = Annotated[Principal, require("runs:write")]
Admin = Annotated[Principal, require("admin")]


def host(state: ApiState) -> service.Host:
    return service.Host(
        write=state.transact,
        read=state.query,
        limiter=state.limiter,
        settings=state.apps.settings_of("scoping"),
        wake=lambda: state.committed([]),
        max_active_runs=state.settings.tenant_max_active_runs,
    )


async def session_of(state: ApiState, caller: Principal, session_id: str) -> Session:
    return Session.model_validate(await service.view(host(state), Viewer.of(caller), session_id))


@router.post("/sessions", response_model=Session, status_code=status.HTTP_201_CREATED)
async def create_session(state: State, caller: Writer, body: NewSession) -> Session:
    """Open a new session; its first stage is reached (open it to get the first question)."""
    viewer = Viewer.of(caller)
    row = await state.transact(lambda conn: sessions.create(conn, viewer, body.title, state.now()))
    return await session_of(state, caller, row["id"])


@router.get("/sessions", response_model=SessionPage)
async def list_sessions(
    state: State,
    caller: Reader,
    limit: PageSize,
    cursor: Annotated[str | None, Query(description="the `next_cursor` of the last page")] = None,
    q: Annotated[str | None, Query(max_length=200, description="words of the title")] = None,
    archived: Annotated[
        bool | None, Query(description="true: archived only; unset: both; default: active")
    ] = False,
) -> SessionPage:
    """Sessions the caller may see (their own, those shared with them; every one of the
    tenant's for its admins), newest first."""
    viewer = Viewer.of(caller)
    after = decode_cursor(cursor) if cursor else None
    rows = await state.query(
        lambda conn: sessions.page(
            conn, viewer, limit=limit, after=after, search=q, archived=archived
        )
    )
    last = rows[-1] if len(rows) == limit else None
    return SessionPage(
        items=[SessionSummary.model_validate(row) for row in rows],
        next_cursor=encode_cursor(last["created_at"], last["id"]) if last else None,
    )


@router.get("/sessions/{session_id}", response_model=Session)
async def get_session(state: State, caller: Reader, session_id: str) -> Session:
    """The session with its five stages, its progress and what is running."""
    return await session_of(state, caller, session_id)


@router.patch("/sessions/{session_id}", response_model=Session)
async def update_session(
    state: State, caller: Writer, session_id: str, body: SessionPatch
) -> Session:
    """Rename or archive (or unarchive) a session."""
    viewer = Viewer.of(caller)
    await state.transact(
        lambda conn: sessions.update(
            conn, viewer, session_id, state.now(), title=body.title, archived=body.archived
        )
    )
    return await session_of(state, caller, session_id)


@router.delete("/sessions/{session_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_session(state: State, caller: Writer, session_id: str) -> Response:
    """Delete a session and everything recorded in it (its owner alone may)."""
    viewer = Viewer.of(caller)
    await state.transact(lambda conn: sessions.delete(conn, viewer, session_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/sessions/{session_id}/shares", response_model=Share, status_code=201)
async def share_session(state: State, caller: Writer, session_id: str, body: NewShare) -> Share:
    """Share the session with a user of the tenant, to read or to edit (its owner alone may)."""
    viewer = Viewer.of(caller)
    shared = await state.transact(
        lambda conn: sessions.share(conn, viewer, session_id, body.email, body.access, state.now())
    )
    return Share.model_validate(shared)


@router.delete("/sessions/{session_id}/shares/{user_id}", status_code=204)
async def unshare_session(state: State, caller: Writer, session_id: str, user_id: str) -> Response:
    """Stop sharing the session with a user."""
    viewer = Viewer.of(caller)
    await state.transact(lambda conn: sessions.unshare(conn, viewer, session_id, user_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _limits_out(found: limits.Limits) -> LimitsOut:
    return LimitsOut(
        user_concurrent=found.user_concurrent,
        user_hourly=found.user_hourly,
        tenant_hourly=found.tenant_hourly,
        installation_hourly=found.installation_hourly,
        custom=found.custom,
    )


@router.get("/limits", response_model=LimitsOut)
async def get_limits(state: State, caller: Reader) -> LimitsOut:
    """The limits on stage executions in the caller's tenant."""
    settings = state.apps.settings_of("scoping")
    found = await state.query(lambda conn: limits.for_tenant(conn, caller.tenant_id, settings))
    return _limits_out(found)


@router.put("/limits", response_model=LimitsOut)
async def set_limits(state: State, caller: Admin, body: LimitsIn) -> LimitsOut:
    """Set the tenant's own limits on stage executions (tenant admins)."""
    settings = state.apps.settings_of("scoping")

    async def work(conn: Conn) -> limits.Limits:
        await limits.set_for_tenant(
            conn,
            caller.tenant_id,
            state.now(),
            user_concurrent=body.user_concurrent,
            user_hourly=body.user_hourly,
            tenant_hourly=body.tenant_hourly,
        )
        return await limits.for_tenant(conn, caller.tenant_id, settings)

    return _limits_out(await state.transact(work))


@router.delete("/limits", response_model=LimitsOut)
async def reset_limits(state: State, caller: Admin) -> LimitsOut:
    """Go back to the installation's limits."""
    settings = state.apps.settings_of("scoping")

    async def work(conn: Conn) -> limits.Limits:
        await limits.reset_for_tenant(conn, caller.tenant_id)
        return await limits.for_tenant(conn, caller.tenant_id, settings)

    return _limits_out(await state.transact(work))


def build() -> APIRouter:
    from batonflow.apps.scoping import charter_routes, document_routes, stage_routes

    api = APIRouter()
    api.include_router(router)
    api.include_router(stage_routes.router)
    api.include_router(document_routes.router)
    api.include_router(charter_routes.router)
    return api
