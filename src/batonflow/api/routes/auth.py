"""Sign-up, sign-in, token refresh, sign-out and `GET /me` (docs/auth.md).

Login and refresh are rate limited per account and client address before anything is checked;
a wrong email and a wrong password get the same answer, in the same time, and registration's
refusals never say whether an email has an account.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.background import BackgroundTask

from batonflow.api import refresh_cookie
from batonflow.api.deps import ApiState, Caller, State, client_address
from batonflow.api.errors import ErrorEnvelope, logged_response
from batonflow.apps import workflows as app_workflows
from batonflow.audit import log as audit
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
    refresh_token: str | None = Field(
        None,
        max_length=200,
        description="for clients without cookies; browsers send the HttpOnly cookie instead",
    )


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
    refresh_token: str | None = Field(
        description="null when a refresh used the cookie: the new one is in the cookie only"
    )
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
    return client_address(request) or "unknown"


def _user_actor(user: dict[str, Any], request: Request) -> audit.Actor:
    return audit.Actor("user", user["email"], user["id"], client_address(request))


async def _signed_in(
    conn: Conn,
    request: Request,
    session: sessions.Session,
    action: str,
    now: datetime,
    **details: Any,
) -> sessions.Session:
    """Record the sign-in (or registration) of `session`'s user in its tenant's audit log."""
    user = session.user
    await audit.record(
        conn,
        user["tenant_id"],
        action,
        actor=_user_actor(user, request),
        target=("user", user["id"]),
        details=details,
        now=now,
    )
    return session


def _answer(
    session: sessions.Session, response: Response, request: Request, state: ApiState
) -> SessionOut:
    """The session in the body, and its refresh token in the browser's cookie too."""
    refresh_cookie.keep(response, state.settings, request, session.refresh_token)
    return SessionOut.of(session)


@router.post(
    "/auth/register",
    status_code=201,
    response_model=SessionOut,
    responses=answers(
        s401="the invitation is not valid, used, revoked or expired (unauthenticated)",
        s403="this server registers by invitation only (forbidden)",
        s409="the registration cannot be completed: the same answer whether the tenant name "
        "or the email is taken, naming neither (conflict)",
        s429="too many registration attempts for this email or from this address (rate_limited)",
    ),
)
async def register(
    body: RegisterTenant | JoinTenant, request: Request, response: Response, state: State
) -> SessionOut:
    """Create a tenant with its first admin, or join a tenant with an invitation (the invited
    role). Signs the new user in; the refresh token is also set as an HttpOnly cookie."""
    await state.limiter.check_register(body.email, _client_ip(request))
    password_hash = await accounts.new_password(state.settings, body.password)
    now = state.now()

    async def work(conn: Conn) -> sessions.Session:
        if isinstance(body, RegisterTenant):
            session = await sessions.register_tenant(
                conn,
                state.settings,
                slug=body.tenant,
                email=body.email,
                name=body.name,
                password_hash=password_hash,
                now=now,
            )
            await app_workflows.install(
                conn, [session.user["tenant_id"]], state.apps, state.registry, now
            )
            return await _signed_in(
                conn, request, session, "auth.register", now, role="admin", tenant_created=True
            )
        session = await sessions.join_tenant(
            conn,
            state.settings,
            invitation=body.invitation,
            email=body.email,
            name=body.name,
            password_hash=password_hash,
            now=now,
        )
        role = session.user["role"]
        return await _signed_in(
            conn, request, session, "auth.register", now, role=role, tenant_created=False
        )

    return _answer(await state.transact(work), response, request, state)


@router.post(
    "/auth/login",
    status_code=200,
    response_model=SessionOut,
    responses=answers(s401="wrong email or password (unauthenticated)"),
)
async def login(body: Login, request: Request, response: Response, state: State) -> Any:
    """Sign in with email and password: a short-lived access token and a refresh token (in the
    body, and as an HttpOnly cookie for browsers)."""
    await state.limiter.check_login(body.email.strip().lower(), _client_ip(request))
    account = await state.query(lambda conn: sessions.find_account(conn, body.email))
    try:
        rehash = await sessions.check_password(state.settings, account, body.password)
    except Unauthenticated as refused:
        answer = logged_response(refused)
        if account is not None:
            # Recorded after the answer is sent, so that a wrong password for an account takes
            # as long to answer as one for an address without an account.
            answer.background = BackgroundTask(_failed_sign_in, state, account, request)
        return answer
    assert account is not None  # check_password refuses a missing account
    now = state.now()

    async def work(conn: Conn) -> sessions.Session:
        session = await sessions.sign_in(conn, state.settings, account, rehash, now)
        return await _signed_in(conn, request, session, "auth.sign_in", now)

    return _answer(await state.transact(work), response, request, state)


async def _failed_sign_in(state: ApiState, account: dict[str, Any], request: Request) -> None:
    reason = "account deactivated" if not account["active"] else "wrong password"
    await state.transact(
        lambda conn: audit.record(
            conn,
            account["tenant_id"],
            "auth.sign_in_failed",
            actor=audit.Actor("anonymous", account["email"], None, client_address(request)),
            target=("user", account["id"]),
            details={"reason": reason},
            now=state.now(),
        )
    )


def _refresh_token(body: RefreshRequest | None, request: Request) -> tuple[str, bool]:
    """The refresh token a request presents, and whether it came in the cookie."""
    if body is not None and body.refresh_token is not None:
        return body.refresh_token, False
    cookie = refresh_cookie.presented(request)
    if cookie is None:
        raise Unauthenticated(
            "no refresh token: send the cookie that sign-in set, or refresh_token in the body"
        )
    return cookie, True


@router.post(
    "/auth/refresh",
    status_code=200,
    response_model=SessionOut,
    responses=answers(
        s401="the refresh token is missing, not valid, expired, revoked or already used "
        "(unauthenticated)"
    ),
)
async def refresh(
    request: Request, response: Response, state: State, body: RefreshRequest | None = None
) -> SessionOut:
    """Trade a refresh token (the body's, else the cookie's) for a new pair. Each refresh token
    works once: using one again revokes every token of its sign-in. From the cookie, the new
    refresh token goes back only in the cookie (`refresh_token` is null in the body)."""
    token, from_cookie = _refresh_token(body, request)
    account = "refresh:" + hashlib.sha256(token.encode()).hexdigest()[:32]
    await state.limiter.check_login(account, _client_ip(request))
    outcome = await state.transact(
        lambda conn: sessions.refresh(conn, state.settings, token, state.now())
    )
    if isinstance(outcome, Unauthenticated):
        raise outcome  # after the commit: a family revoked for reuse stays revoked
    if not from_cookie:
        return SessionOut.of(outcome)
    refresh_cookie.keep(response, state.settings, request, outcome.refresh_token)
    # The token goes only in the cookie; None empties the body's field (no password here).
    return SessionOut.of(outcome).model_copy(update={"refresh_token": None})  # nosec B105


@router.post("/auth/logout", status_code=204, response_class=Response)
async def logout(request: Request, state: State, body: RefreshRequest | None = None) -> Response:
    """Sign out: revoke the refresh token (the body's, else the cookie's) and every token of
    its sign-in, and drop the cookie."""
    await state.limiter.check_global()
    answer = Response(status_code=204)
    refresh_cookie.forget(answer, state.settings, request)
    try:
        token, _ = _refresh_token(body, request)
    except Unauthenticated:
        return answer  # nothing to revoke: already as good as signed out
    now = state.now()

    async def work(conn: Conn) -> None:
        user = await sessions.logout(conn, token, now)
        if user is not None:
            await audit.record(
                conn,
                user["tenant_id"],
                "auth.sign_out",
                actor=_user_actor(user, request),
                target=("user", user["id"]),
                now=now,
            )

    await state.transact(work)
    return answer


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
