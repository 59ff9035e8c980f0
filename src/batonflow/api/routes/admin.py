"""A tenant's users, API keys and invitations; every route needs the `admin` scope.

An id from another tenant answers 404 exactly like an id that does not exist, and changes
nothing. API keys and invitation tokens are in the response that creates them, and never again.
Every change is recorded in the tenant's audit log, in the transaction that makes it.
The three lists are keyset pages, oldest first, like `GET /api/v1/runs`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from batonflow.api.cursors import decode_cursor, encode_cursor
from batonflow.api.deps import PageSize, State, client_address, require
from batonflow.api.routes.auth import Strict, answers
from batonflow.audit import log as audit
from batonflow.auth import accounts
from batonflow.auth.scopes import Principal, Role
from batonflow.store.db import Conn

router = APIRouter(prefix="/api/v1", tags=["admin"])
Admin = Annotated[Principal, require("admin")]
Cursor = Annotated[str | None, Query(max_length=400)]
NEXT_CURSOR = "pass as `cursor` for the next page"


def _after(cursor: str | None) -> tuple[datetime, str] | None:
    return decode_cursor(cursor) if cursor else None


def _page(rows: list[dict[str, Any]], limit: int) -> tuple[list[dict[str, Any]], str | None]:
    """The first `limit` of `rows` (fetched `limit + 1`), and the cursor after them if more
    rows follow."""
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    return rows[:limit], encode_cursor(last["created_at"], last["id"])


class UserDetail(BaseModel):
    id: str
    email: str
    name: str
    role: Role
    active: bool
    created_at: datetime
    last_login_at: datetime | None


class UserList(BaseModel):
    items: list[UserDetail]
    next_cursor: str | None = Field(description=NEXT_CURSOR)


class UserChange(Strict):
    role: Role | None = None
    active: bool | None = Field(None, description="false deactivates the user and signs them out")


class ApiKeyOut(BaseModel):
    id: str
    name: str
    prefix: str = Field(description="the key's first characters, to recognise it")
    scopes: list[str]
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None = Field(description="recorded at most once a minute")
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="the key itself: shown this once, stored only as a hash")


class ApiKeyList(BaseModel):
    items: list[ApiKeyOut]
    next_cursor: str | None = Field(description=NEXT_CURSOR)


class ApiKeyCreate(Strict):
    name: str = Field(min_length=1, max_length=200)
    scopes: list[str] = Field(
        min_length=1, max_length=32, description="a subset of the creator's scopes"
    )
    expires_in_days: int | None = Field(None, ge=1, le=accounts.MAX_KEY_DAYS)


class InvitationOut(BaseModel):
    id: str
    email: str
    role: Role
    status: Literal["pending", "accepted", "revoked", "expired"]
    created_by: str
    created_at: datetime
    expires_at: datetime
    accepted_at: datetime | None
    revoked_at: datetime | None


class InvitationCreated(InvitationOut):
    token: str = Field(
        description="give it to the invitee for `POST /api/v1/auth/register`; shown this once"
    )


class InvitationList(BaseModel):
    items: list[InvitationOut]
    next_cursor: str | None = Field(description=NEXT_CURSOR)


class InvitationCreate(Strict):
    email: str = Field(max_length=320)
    role: Role


CONFLICT = answers(s409="the change would leave the tenant without an active admin (conflict)")


@router.get("/users", status_code=200, response_model=UserList)
async def list_users(
    caller: Admin, state: State, limit: PageSize, cursor: Cursor = None
) -> UserList:
    """The tenant's users, oldest first, a page at a time."""
    after = _after(cursor)
    rows = await state.query(
        lambda conn: accounts.list_users(conn, caller.tenant_id, limit=limit + 1, after=after)
    )
    items, next_cursor = _page(rows, limit)
    return UserList(
        items=[UserDetail.model_validate(row) for row in items], next_cursor=next_cursor
    )


@router.get("/users/{user_id}", status_code=200, response_model=UserDetail)
async def get_user(user_id: str, caller: Admin, state: State) -> UserDetail:
    """One user of the tenant."""
    row = await state.query(lambda conn: accounts.get_user(conn, caller.tenant_id, user_id))
    return UserDetail.model_validate(row)


@router.patch("/users/{user_id}", status_code=200, response_model=UserDetail, responses=CONFLICT)
async def update_user(
    user_id: str, body: UserChange, caller: Admin, state: State, request: Request
) -> UserDetail:
    """Change a user's role, or deactivate or reactivate them. The last active admin stays."""
    now = state.now()

    async def work(conn: Conn) -> dict[str, Any]:
        before = await accounts.get_user(conn, caller.tenant_id, user_id)
        after = await accounts.update_user(
            conn, caller.tenant_id, user_id, role=body.role, active=body.active, now=now
        )
        changed = {
            name: {"from": before[name], "to": after[name]}
            for name in ("role", "active")
            if before[name] != after[name]
        }
        if changed:
            await audit.record(
                conn,
                caller.tenant_id,
                "user.update",
                actor=audit.Actor.of(caller, client_address(request)),
                target=("user", user_id),
                details={"email": after["email"], **changed},
                now=now,
            )
        return after

    return UserDetail.model_validate(await state.transact(work))


@router.post("/api-keys", status_code=201, response_model=ApiKeyCreated)
async def create_api_key(
    body: ApiKeyCreate, caller: Admin, state: State, request: Request
) -> ApiKeyCreated:
    """A new API key for machine clients, with scopes the creator holds and an optional expiry.
    The key is in this response only."""
    now = state.now()

    async def work(conn: Conn) -> tuple[dict[str, Any], str]:
        row, key = await accounts.create_api_key(
            conn,
            caller,
            name=body.name,
            scopes=body.scopes,
            expires_in_days=body.expires_in_days,
            now=now,
        )
        expires = row["expires_at"]
        await audit.record(
            conn,
            caller.tenant_id,
            "api_key.create",
            actor=audit.Actor.of(caller, client_address(request)),
            target=("api_key", row["id"]),
            details={
                "name": row["name"],
                "prefix": row["prefix"],
                "scopes": row["scopes"],
                "expires_at": None if expires is None else expires.isoformat(),
            },
            now=now,
        )
        return row, key

    row, key = await state.transact(work)
    return ApiKeyCreated.model_validate({**row, "key": key})


@router.get("/api-keys", status_code=200, response_model=ApiKeyList)
async def list_api_keys(
    caller: Admin, state: State, limit: PageSize, cursor: Cursor = None
) -> ApiKeyList:
    """The tenant's API keys, oldest first, a page at a time, revoked ones included; never the
    keys themselves."""
    after = _after(cursor)
    rows = await state.query(
        lambda conn: accounts.list_api_keys(conn, caller.tenant_id, limit=limit + 1, after=after)
    )
    items, next_cursor = _page(rows, limit)
    return ApiKeyList(
        items=[ApiKeyOut.model_validate(row) for row in items], next_cursor=next_cursor
    )


@router.delete("/api-keys/{key_id}", status_code=204, response_class=Response)
async def revoke_api_key(key_id: str, caller: Admin, state: State, request: Request) -> Response:
    """Revoke an API key: it is refused from the next request on."""
    now = state.now()

    async def work(conn: Conn) -> None:
        await accounts.revoke_api_key(conn, caller.tenant_id, key_id, now)
        await audit.record(
            conn,
            caller.tenant_id,
            "api_key.revoke",
            actor=audit.Actor.of(caller, client_address(request)),
            target=("api_key", key_id),
            now=now,
        )

    await state.transact(work)
    return Response(status_code=204)


@router.post(
    "/invitations",
    status_code=201,
    response_model=InvitationCreated,
    responses=answers(s409="the address is already a user of this tenant (conflict)"),
)
async def create_invitation(
    body: InvitationCreate, caller: Admin, state: State, request: Request
) -> InvitationCreated:
    """Invite an email address to join the tenant with a role. The token is in this response
    only; it expires after `BATONFLOW_INVITATION_SECONDS`."""
    now = state.now()

    async def work(conn: Conn) -> tuple[dict[str, Any], str]:
        row, token = await accounts.create_invitation(
            conn, state.settings, caller, email=body.email, role=body.role, now=now
        )
        await audit.record(
            conn,
            caller.tenant_id,
            "invitation.create",
            actor=audit.Actor.of(caller, client_address(request)),
            target=("invitation", row["id"]),
            details={"email": row["email"], "role": row["role"]},
            now=now,
        )
        return row, token

    row, token = await state.transact(work)
    return InvitationCreated.model_validate({**row, "token": token})


@router.get("/invitations", status_code=200, response_model=InvitationList)
async def list_invitations(
    caller: Admin, state: State, limit: PageSize, cursor: Cursor = None
) -> InvitationList:
    """The tenant's invitations with their status, oldest first, a page at a time; never the
    tokens."""
    after = _after(cursor)
    rows = await state.query(
        lambda conn: accounts.list_invitations(
            conn, caller.tenant_id, state.now(), limit=limit + 1, after=after
        )
    )
    items, next_cursor = _page(rows, limit)
    return InvitationList(
        items=[InvitationOut.model_validate(row) for row in items], next_cursor=next_cursor
    )


@router.delete(
    "/invitations/{invitation_id}",
    status_code=204,
    response_class=Response,
    responses=answers(s409="the invitation was already accepted (conflict)"),
)
async def revoke_invitation(
    invitation_id: str, caller: Admin, state: State, request: Request
) -> Response:
    """Revoke an invitation that was not accepted yet."""
    now = state.now()

    async def work(conn: Conn) -> None:
        await accounts.revoke_invitation(conn, caller.tenant_id, invitation_id, now)
        await audit.record(
            conn,
            caller.tenant_id,
            "invitation.revoke",
            actor=audit.Actor.of(caller, client_address(request)),
            target=("invitation", invitation_id),
            now=now,
        )

    await state.transact(work)
    return Response(status_code=204)
