"""Sign-up, sign-in, refresh rotation and reuse, sign-out, `/me`, invitations and the
last-admin rule, through the HTTP API on both databases."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from dirty_equals import IsDatetime, IsStr
from fastapi import FastAPI
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from batonflow.api.app import create_app
from batonflow.auth.accounts import REGISTRATION_REFUSED
from batonflow.settings import Settings
from batonflow.store.db import create_engine
from batonflow.store.tables import Invitation, User
from tests.api.conftest import PASSWORD, Signup, client_for, core_apps

WRONG = {"error": {"code": "unauthenticated", "message": "wrong email or password", "details": {}}}


def session_body(email: str, role: str, tenant: str, name: str = "Admin") -> dict[str, Any]:
    return {
        "access_token": IsStr(),
        "refresh_token": IsStr(min_length=43),
        "token_type": "bearer",
        "expires_in": 900,
        "user": {"id": IsStr(), "email": email, "name": name, "role": role},
        "tenant": {"id": IsStr(), "slug": tenant, "name": tenant},
    }


def unauthenticated(message: str) -> dict[str, Any]:
    return {"error": {"code": "unauthenticated", "message": message, "details": {}}}


@pytest.fixture
async def database(api_settings: Settings, app: FastAPI) -> AsyncIterator[AsyncEngine]:
    """The app's database, to read what the API stored (or to let time pass for a row)."""
    engine = create_engine(api_settings.resolved_database_url)
    yield engine
    await engine.dispose()


async def test_register_creates_a_tenant_and_signs_its_admin_in(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/register",
        json={"tenant": "acme", "email": "Ada@Acme.Example", "password": PASSWORD, "name": "Ada"},
    )
    assert (response.status_code, response.json()) == (
        201,
        session_body("ada@acme.example", "admin", "acme", name="Ada"),
    )


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        (
            {"tenant": "acme", "email": "other@acme.example"},
            409,
            {"code": "conflict", "message": REGISTRATION_REFUSED},
        ),
        (
            {"tenant": "globex", "email": "admin@acme.example"},
            409,
            {"code": "conflict", "message": REGISTRATION_REFUSED},
        ),
        (
            {"tenant": "Not A Slug", "email": "x@y.example"},
            422,
            {
                "code": "input_invalid",
                "message": "'Not A Slug' is not a tenant name: use 2 to 63 lowercase letters, "
                "digits and dashes, starting with a letter or digit",
            },
        ),
        (
            {"tenant": "initech", "email": "not-an-email"},
            422,
            {"code": "input_invalid", "message": "'not-an-email' is not an email address"},
        ),
        (
            {"tenant": "initech", "email": "x@y.example", "password": "short"},
            422,
            {"code": "input_invalid", "message": "a password needs at least 12 characters"},
        ),
    ],
)
async def test_register_refuses_taken_names_and_bad_input(
    signup: Signup,
    client: httpx.AsyncClient,
    body: dict[str, str],
    status: int,
    error: dict[str, str],
) -> None:
    await signup("acme")
    response = await client.post(
        "/api/v1/auth/register", json={"password": PASSWORD, "name": "N", **body}
    )
    assert (response.status_code, response.json()) == (status, {"error": {**error, "details": {}}})


async def test_register_takes_a_tenant_or_an_invitation_not_both(
    client: httpx.AsyncClient,
) -> None:
    body = {"email": "x@y.example", "password": PASSWORD, "name": "N"}
    response = await client.post(
        "/api/v1/auth/register", json={**body, "tenant": "acme", "invitation": "abc"}
    )
    assert (response.status_code, response.json()) == (
        422,
        {
            "error": {
                "code": "request_invalid",
                "message": IsStr(),
                "details": {"issues": [IsStr()] * 2},
            }
        },
    )


async def test_login_gives_a_new_session_and_records_the_time(
    signup: Signup, client: httpx.AsyncClient
) -> None:
    admin = await signup("acme")
    before = datetime.now(UTC)
    response = await client.post(
        "/api/v1/auth/login", json={"email": "ADMIN@acme.example ", "password": PASSWORD}
    )
    assert (response.status_code, response.json()) == (
        200,
        session_body(admin.email, "admin", "acme"),
    )
    users = (await admin.client.get("/api/v1/users")).json()["items"]
    assert datetime.fromisoformat(users[0]["last_login_at"]) >= before.replace(microsecond=0)


async def test_a_wrong_password_and_an_unknown_email_get_the_same_answer(
    signup: Signup, client: httpx.AsyncClient
) -> None:
    await signup("acme")
    answers = [
        await client.post("/api/v1/auth/login", json={"email": email, "password": password})
        for email, password in [
            ("admin@acme.example", "wrong password, long enough"),
            ("nobody@acme.example", PASSWORD),
        ]
    ]
    assert [(a.status_code, a.json()) for a in answers] == [(401, WRONG), (401, WRONG)]


async def refresh(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post("/api/v1/auth/refresh", json={"refresh_token": token})


async def test_refresh_rotates_the_pair(
    signup: Signup, client: httpx.AsyncClient, app: FastAPI
) -> None:
    admin = await signup("acme")
    first = await refresh(client, admin.refresh_token)
    assert (first.status_code, first.json()) == (200, session_body(admin.email, "admin", "acme"))
    assert first.json()["refresh_token"] != admin.refresh_token
    second = await refresh(client, first.json()["refresh_token"])
    assert second.status_code == 200
    async with client_for(app, second.json()["access_token"]) as fresh:
        me = await fresh.get("/api/v1/me")
    assert (me.status_code, me.json()["user"]["email"]) == (200, admin.email)


async def test_reusing_a_refresh_token_revokes_its_whole_family(
    signup: Signup, client: httpx.AsyncClient
) -> None:
    admin = await signup("acme")
    newer = (await refresh(client, admin.refresh_token)).json()["refresh_token"]
    newest = (await refresh(client, newer)).json()["refresh_token"]
    await asyncio.sleep(0.6)  # past the grace that tells a race from a replay
    reused = await refresh(client, admin.refresh_token)
    assert (reused.status_code, reused.json()) == (
        401,
        unauthenticated(
            "the refresh token was already used; every token of this sign-in is now revoked, "
            "sign in again"
        ),
    )
    after = await refresh(client, newest)
    assert (after.status_code, after.json()) == (
        401,
        unauthenticated("the refresh token was revoked; sign in again"),
    )
    # Another sign-in of the same user is a family of its own and keeps working.
    other = await client.post(
        "/api/v1/auth/login", json={"email": admin.email, "password": PASSWORD}
    )
    assert (await refresh(client, other.json()["refresh_token"])).status_code == 200


async def test_two_concurrent_refreshes_with_one_token_exactly_one_wins(
    signup: Signup, client: httpx.AsyncClient
) -> None:
    admin = await signup("acme")
    answers = await asyncio.gather(
        refresh(client, admin.refresh_token), refresh(client, admin.refresh_token)
    )
    assert sorted(a.status_code for a in answers) == [200, 401]
    (winner,) = [a for a in answers if a.status_code == 200]
    (loser,) = [a for a in answers if a.status_code == 401]
    assert winner.json() == session_body(admin.email, "admin", "acme")
    assert loser.json() == unauthenticated(
        "the refresh token was just used by another request; use the tokens it got"
    )
    # A race is not a theft: the winner's new tokens keep working.
    assert (await refresh(client, winner.json()["refresh_token"])).status_code == 200


async def test_logout_revokes_the_refresh_token(signup: Signup, client: httpx.AsyncClient) -> None:
    admin = await signup("acme")
    out = await client.post("/api/v1/auth/logout", json={"refresh_token": admin.refresh_token})
    again = await client.post("/api/v1/auth/logout", json={"refresh_token": admin.refresh_token})
    assert (out.status_code, out.content, again.status_code) == (204, b"", 204)
    after = await refresh(client, admin.refresh_token)
    assert (after.status_code, after.json()) == (
        401,
        unauthenticated("the refresh token was revoked; sign in again"),
    )


async def test_an_unknown_refresh_token_is_refused(client: httpx.AsyncClient) -> None:
    response = await refresh(client, "made-up")
    assert (response.status_code, response.json()) == (
        401,
        unauthenticated("the refresh token is not valid"),
    )


async def test_me_describes_a_user(signup: Signup) -> None:
    admin = await signup("acme")
    response = await admin.client.get("/api/v1/me")
    assert (response.status_code, response.json()) == (
        200,
        {
            "kind": "user",
            "user": {"id": IsStr(), "email": admin.email, "name": "Admin", "role": "admin"},
            "api_key": None,
            "tenant": {"id": IsStr(), "slug": "acme", "name": "acme"},
            "roles": ["admin", "operator", "reviewer", "viewer"],
            "scopes": [
                "runs:read",
                "workflows:read",
                "reviews:read",
                "prompts:read",
                "agents:read",
                "usage:read",
                "events:read",
                "kb:read",
                "triggers:read",
                "runs:write",
                "workflows:write",
                "prompts:write",
                "kb:write",
                "triggers:write",
                "reviews:decide",
                "audit:read",
                "admin",
            ],
        },
    )


async def test_me_describes_an_api_key(signup: Signup, app: FastAPI) -> None:
    admin = await signup("acme")
    created = await admin.client.post(
        "/api/v1/api-keys",
        json={"name": "ci", "scopes": ["reviews:decide"], "expires_in_days": 30},
    )
    async with client_for(app, created.json()["key"]) as machine:
        response = await machine.get("/api/v1/me")
    assert (response.status_code, response.json()) == (
        200,
        {
            "kind": "api_key",
            "user": None,
            "api_key": {
                "id": created.json()["id"],
                "name": "ci",
                "prefix": created.json()["prefix"],
                "expires_at": IsDatetime(iso_string=True),
            },
            "tenant": {"id": IsStr(), "slug": "acme", "name": "acme"},
            "roles": [],
            "scopes": ["reviews:decide"],
        },
    )


async def test_me_without_credentials_is_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/me")
    assert (response.status_code, response.headers["www-authenticate"], response.json()) == (
        401,
        "Bearer",
        unauthenticated("this endpoint needs 'Authorization: Bearer <access token or API key>'"),
    )


async def test_login_rehashes_when_the_argon2_parameters_rise(
    signup: Signup, api_settings: Settings, database: AsyncEngine
) -> None:
    admin = await signup("acme")

    async def stored() -> str:
        async with database.connect() as conn:
            return str(
                await conn.scalar(select(User.password_hash).where(User.email == admin.email))
            )

    assert await stored() == IsStr(regex=r"\$argon2id\$v=19\$m=1024,t=1,p=1\$.+")
    stronger = create_app(
        api_settings.model_copy(update={"argon2_time_cost": 2, "argon2_memory_kib": 2048}),
        apps=core_apps(),
    )
    async with stronger.router.lifespan_context(stronger), client_for(stronger) as client:
        for _ in range(2):
            response = await client.post(
                "/api/v1/auth/login", json={"email": admin.email, "password": PASSWORD}
            )
            assert response.status_code == 200
    assert await stored() == IsStr(regex=r"\$argon2id\$v=19\$m=2048,t=2,p=1\$.+")


async def invite(admin_client: httpx.AsyncClient, email: str, role: str) -> dict[str, Any]:
    response = await admin_client.post("/api/v1/invitations", json={"email": email, "role": role})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def join(client: httpx.AsyncClient, token: str, email: str) -> httpx.Response:
    return await client.post(
        "/api/v1/auth/register",
        json={"invitation": token, "email": email, "password": PASSWORD, "name": "Rita"},
    )


async def test_an_invitation_joins_the_tenant_with_the_invited_role(
    signup: Signup, client: httpx.AsyncClient, app: FastAPI
) -> None:
    admin = await signup("acme")
    invitation = await invite(admin.client, "rita@acme.example", "reviewer")
    joined = await join(client, invitation["token"], "Rita@acme.example")
    assert (joined.status_code, joined.json()) == (
        201,
        session_body("rita@acme.example", "reviewer", "acme", name="Rita"),
    )
    async with client_for(app, joined.json()["access_token"]) as rita:
        me = (await rita.get("/api/v1/me")).json()
    assert (me["tenant"]["slug"], me["roles"]) == ("acme", ["reviewer", "viewer"])
    listed = (await admin.client.get("/api/v1/invitations")).json()["items"]
    assert [(item["id"], item["status"]) for item in listed] == [(invitation["id"], "accepted")]
    again = await join(client, invitation["token"], "rita@acme.example")
    assert (again.status_code, again.json()) == (
        401,
        unauthenticated("the invitation was already used"),
    )


async def test_an_invitation_is_for_its_address_only(
    signup: Signup, client: httpx.AsyncClient
) -> None:
    admin = await signup("acme")
    invitation = await invite(admin.client, "rita@acme.example", "viewer")
    response = await join(client, invitation["token"], "mallory@acme.example")
    assert (response.status_code, response.json()) == (
        422,
        {
            "error": {
                "code": "input_invalid",
                "message": "the invitation is for another email address",
                "details": {},
            }
        },
    )


async def test_an_expired_or_revoked_invitation_is_refused(
    signup: Signup, client: httpx.AsyncClient, database: AsyncEngine
) -> None:
    admin = await signup("acme")
    expired = await invite(admin.client, "old@acme.example", "viewer")
    revoked = await invite(admin.client, "gone@acme.example", "viewer")
    async with database.begin() as conn:  # let the invitation's week pass
        await conn.execute(
            update(Invitation)
            .where(Invitation.id == expired["id"])
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert (await admin.client.delete(f"/api/v1/invitations/{revoked['id']}")).status_code == 204
    answers = [
        await join(client, expired["token"], "old@acme.example"),
        await join(client, revoked["token"], "gone@acme.example"),
        await join(client, "made-up", "old@acme.example"),
    ]
    assert [(a.status_code, a.json()) for a in answers] == [
        (401, unauthenticated("the invitation has expired; ask for a new one")),
        (401, unauthenticated("the invitation was revoked")),
        (401, unauthenticated("the invitation is not valid")),
    ]
    listed = (await admin.client.get("/api/v1/invitations")).json()["items"]
    assert [item["status"] for item in listed] == ["expired", "revoked"]


async def test_the_last_active_admin_cannot_be_demoted_or_deactivated(
    signup: Signup, client: httpx.AsyncClient
) -> None:
    admin = await signup("acme")
    me = (await admin.client.get("/api/v1/me")).json()["user"]
    last = {
        "error": {
            "code": "conflict",
            "message": "admin@acme.example is the last active admin of this tenant; make "
            "another user an admin first",
            "details": {},
        }
    }
    for change in ({"role": "viewer"}, {"active": False}):
        response = await admin.client.patch(f"/api/v1/users/{me['id']}", json=change)
        assert (response.status_code, response.json()) == (409, last)
    invitation = await invite(admin.client, "second@acme.example", "admin")
    assert (await join(client, invitation["token"], "second@acme.example")).status_code == 201
    demoted = await admin.client.patch(f"/api/v1/users/{me['id']}", json={"role": "viewer"})
    assert (demoted.status_code, demoted.json()["role"]) == (200, "viewer")


async def test_control_characters_are_refused_before_they_reach_the_database(
    signup: Signup, client: httpx.AsyncClient
) -> None:
    await signup("acme")
    named = await client.post(
        "/api/v1/auth/register",
        json={"tenant": "initech", "email": "x@y.example", "password": PASSWORD, "name": "a\x00b"},
    )
    login = await client.post(
        "/api/v1/auth/login", json={"email": "admin\x00@acme.example", "password": PASSWORD}
    )
    assert [(r.status_code, r.json()) for r in (named, login)] == [
        (
            422,
            {
                "error": {
                    "code": "input_invalid",
                    "message": "a user needs a name, without control characters",
                    "details": {},
                }
            },
        ),
        (401, WRONG),
    ]
