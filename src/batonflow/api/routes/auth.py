"""Sign-up, sign-in, token refresh, sign-out and `GET /me`.

Login and refresh are rate limited per account and per client address before anything is
checked. A wrong email and a wrong password get the same answer, in the same time.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from batonflow.api.deps import Caller, State
from batonflow.api.errors import ErrorEnvelope
from batonflow.apps import workflows as app_workflows
from batonflow.auth import accounts, sessions
from batonflow.auth.scopes import ROLES, SCOPES, Role
from batonflow.errors import Unauthenticated
from batonflow.store.db import Conn

router = APIRouter(prefix="/api/v1", tags=["auth"])


def answers(**statuses: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for error answers a route gives besides the ones every route documents."""
    return {
        int(status.removeprefix("s")): {"model": ErrorEnvelope, "description": text}
        for status, text in statuses.items()
    }


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RegisterTenant(Strict):
    tenant: str = Field(max_length=63, description="the new tenant's slug, such as `acme`")
    email: str = Field(max_length=320)
    password: str = Field(max_length=1024, description="at least 12 characters")
    name: str = Field(min_length=1, max_length=200)


class JoinTenant(Strict):
    invitation: str = Field(max_length=200, description="the token of an invitation")
    email: str = Field(max_length=320, description="the invited address")
    password: str = Field(max_length=1024, description="at least 12 characters")
    name: str = Field(min_length=1, max_length=200)


class Login(Strict):
    email: str = Field(max_length=320)
    password: str = Field(max_length=1024)


class RefreshRequest(Strict):
    refresh_token: str = Field(max_length=200)


class UserOut(BaseModel):
    id: str
    email: str
    name: str
    role: Role


class TenantOut(BaseModel):
    id: str
    slug: str
    name: str


class SessionOut(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the scheme, not a secret
    expires_in: int = Field(description="seconds until the access token expires")
    user: UserOut
    tenant: TenantOut

    @classmethod
    def of(cls, session: sessions.Session) -> SessionOut:
        user = session.user
        return cls(
            access_token=session.access_token,
            refresh_token=session.refresh_token,
            expires_in=session.expires_in,
            user=UserOut.model_validate(user),
            tenant=TenantOut(
                id=user["tenant_id"], slug=user["tenant_slug"], name=user["tenant_name"]
            ),
        )


class ApiKeyBrief(BaseModel):
    id: str
    name: str
    prefix: str
    expires_at: datetime | None


class MeOut(BaseModel):
    kind: Literal["user", "api_key"]
    user: UserOut | None = Field(description="the signed-in user; null for an API key")
    api_key: ApiKeyBrief | None = Field(description="the API key; null for a user")
    tenant: TenantOut
    roles: list[Role]
    scopes: list[str]


def _client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post(
    "/auth/register",
    status_code=201,
    response_model=SessionOut,
    responses=answers(
        s401="the invitation is not valid, used, revoked or expired (unauthenticated)",
        s409="the tenant or the email is taken (conflict)",
    ),
)
async def register(body: RegisterTenant | JoinTenant, state: State) -> SessionOut:
    """Create a tenant with its first admin, or join a tenant with an invitation (the invited
    role). Signs the new user in."""
    await state.limiter.check_global()
    password_hash = await accounts.new_password(state.settings, body.password)

    async def work(conn: Conn) -> sessions.Session:
        if isinstance(body, RegisterTenant):
            session = await sessions.register_tenant(
                conn,
                state.settings,
                slug=body.tenant,
                email=body.email,
                name=body.name,
                password_hash=password_hash,
                now=state.now(),
            )
            await app_workflows.install(
                conn, [session.user["tenant_id"]], state.apps, state.registry, state.now()
            )
            return session
        return await sessions.join_tenant(
            conn,
            state.settings,
            invitation=body.invitation,
            email=body.email,
            name=body.name,
            password_hash=password_hash,
            now=state.now(),
        )

    return SessionOut.of(await state.transact(work))


@router.post(
    "/auth/login",
    status_code=200,
    response_model=SessionOut,
    responses=answers(s401="wrong email or password (unauthenticated)"),
)
async def login(body: Login, request: Request, state: State) -> SessionOut:
    """Sign in with email and password: a short-lived access token and a refresh token."""
    await state.limiter.check_login(body.email.strip().lower(), _client_ip(request))
    account = await state.query(lambda conn: sessions.find_account(conn, body.email))
    rehash = await sessions.check_password(state.settings, account, body.password)
    assert account is not None  # check_password refuses a missing account
    session = await state.transact(
        lambda conn: sessions.sign_in(conn, state.settings, account, rehash, state.now())
    )
    return SessionOut.of(session)


@router.post(
    "/auth/refresh",
    status_code=200,
    response_model=SessionOut,
    responses=answers(
        s401="the refresh token is not valid, expired, revoked or already used (unauthenticated)"
    ),
)
async def refresh(body: RefreshRequest, request: Request, state: State) -> SessionOut:
    """Trade a refresh token for a new pair. Each refresh token works once: using one again
    revokes every token of its sign-in."""
    account = "refresh:" + hashlib.sha256(body.refresh_token.encode()).hexdigest()[:32]
    await state.limiter.check_login(account, _client_ip(request))
    outcome = await state.transact(
        lambda conn: sessions.refresh(conn, state.settings, body.refresh_token, state.now())
    )
    if isinstance(outcome, Unauthenticated):
        raise outcome  # after the commit: a family revoked for reuse stays revoked
    return SessionOut.of(outcome)


@router.post("/auth/logout", status_code=204, response_class=Response)
async def logout(body: RefreshRequest, state: State) -> Response:
    """Sign out: revoke the refresh token and every token of its sign-in."""
    await state.limiter.check_global()
    await state.transact(lambda conn: sessions.logout(conn, body.refresh_token, state.now()))
    return Response(status_code=204)


@router.get(
    "/me",
    status_code=200,
    response_model=MeOut,
    responses=answers(s401="no valid credentials (unauthenticated)"),
)
async def me(principal: Caller, state: State) -> MeOut:
    """Who the credentials are: the user or API key, its tenant, roles and scopes."""
    found = await state.query(lambda conn: sessions.whoami(conn, principal))
    user, key = found["user"], found["api_key"]
    return MeOut(
        kind=principal.kind,
        user=None if user is None else UserOut.model_validate(user),
        api_key=None if key is None else ApiKeyBrief.model_validate(key),
        tenant=TenantOut.model_validate(found["tenant"]),
        roles=[role for role in ROLES if role in principal.roles],
        scopes=[scope for scope in SCOPES if scope in principal.scopes],
    )
