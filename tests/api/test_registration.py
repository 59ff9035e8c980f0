"""Registration tells no one whether an email has an account, is limited per email address and
per client address, and can be closed to all but invited people; on both databases."""

from __future__ import annotations

from typing import Any

import httpx
from dirty_equals import IsInt, IsStr
from fastapi import FastAPI

from batonflow.api.app import create_app
from batonflow.auth.accounts import REGISTRATION_REFUSED
from batonflow.settings import Settings
from tests.api.conftest import PASSWORD, Signup, client_for, core_apps

REFUSED = {"error": {"code": "conflict", "message": REGISTRATION_REFUSED, "details": {}}}


def new_tenant(tenant: str, email: str) -> dict[str, str]:
    return {"tenant": tenant, "email": email, "password": PASSWORD, "name": "N"}


async def invite(admin: httpx.AsyncClient, email: str) -> str:
    response = await admin.post("/api/v1/invitations", json={"email": email, "role": "viewer"})
    assert response.status_code == 201, response.text
    token: str = response.json()["token"]
    return token


async def test_a_taken_email_and_a_taken_tenant_get_one_answer_naming_neither(
    signup: Signup, client: httpx.AsyncClient
) -> None:
    acme = await signup("acme")
    globex = await signup("globex")
    answers: list[tuple[int, Any]] = []
    for body in (
        new_tenant("initech", acme.email),  # the email has an account
        new_tenant("acme", "new@acme.example"),  # the tenant exists
        new_tenant("acme", acme.email),  # both
    ):
        response = await client.post("/api/v1/auth/register", json=body)
        answers.append((response.status_code, response.json()))
    # An invitation to an address that has an account in another tenant.
    token = await invite(globex.client, acme.email)
    joined = await client.post(
        "/api/v1/auth/register",
        json={"invitation": token, "email": acme.email, "password": PASSWORD, "name": "N"},
    )
    answers.append((joined.status_code, joined.json()))
    assert answers == [(409, REFUSED)] * 4
    assert all(acme.email not in str(body) for _, body in answers)


async def test_registration_attempts_are_limited_per_email_and_per_client_address(
    api_settings: Settings,
) -> None:
    app = create_app(
        api_settings.model_copy(update={"rate_limit_register": "2/minute"}), apps=core_apps()
    )
    elsewhere = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=("10.0.0.9", 40000)),
        base_url="http://batonflow.test",
    )
    async with app.router.lifespan_context(app), client_for(app) as client, elsewhere:
        first = await client.post("/api/v1/auth/register", json=new_tenant("acme", "a@x.example"))
        again = await client.post("/api/v1/auth/register", json=new_tenant("acme", "a@x.example"))
        assert [first.status_code, again.status_code] == [201, 409]
        third = await client.post("/api/v1/auth/register", json=new_tenant("b-co", "A@X.example"))
        assert (third.status_code, third.json()) == (
            429,
            {
                "error": {
                    "code": "rate_limited",
                    "message": IsStr(
                        regex=r"^rate limited by the registration limit for this email address "
                        r"\(2 per 1 minute\); retry after \d+ s$"
                    ),
                    "details": {"limit": "register_email", "retry_after": IsInt(ge=1)},
                }
            },
        )
        assert third.headers["retry-after"].isdigit()
        # The same address from another client is still limited.
        moved = await elsewhere.post(
            "/api/v1/auth/register", json=new_tenant("b-co", "a@x.example")
        )
        assert moved.json()["error"]["details"]["limit"] == "register_email"
        # Another address from the first client: that client's limit is spent too.
        other = await client.post("/api/v1/auth/register", json=new_tenant("c-co", "c@x.example"))
        assert (other.status_code, other.json()["error"]["details"]["limit"]) == (
            429,
            "register_ip",
        )
        # A new address from another client is not limited.
        fresh = await elsewhere.post(
            "/api/v1/auth/register", json=new_tenant("d-co", "d@x.example")
        )
        assert fresh.status_code == 201


async def test_a_closed_server_registers_invited_people_only(
    signup: Signup, api_settings: Settings
) -> None:
    admin = await signup("acme")  # while registration was open
    token = await invite(admin.client, "bo@acme.example")
    closed: FastAPI = create_app(
        api_settings.model_copy(update={"open_registration": False}), apps=core_apps()
    )
    async with closed.router.lifespan_context(closed), client_for(closed) as client:
        refused = await client.post(
            "/api/v1/auth/register", json=new_tenant("globex", "x@globex.example")
        )
        assert (refused.status_code, refused.json()) == (
            403,
            {
                "error": {
                    "code": "forbidden",
                    "message": "this server registers people by invitation only "
                    "(BATONFLOW_OPEN_REGISTRATION); ask a tenant's admin for an invitation",
                    "details": {},
                }
            },
        )
        joined = await client.post(
            "/api/v1/auth/register",
            json={
                "invitation": token,
                "email": "bo@acme.example",
                "password": PASSWORD,
                "name": "Bo",
            },
        )
        assert joined.status_code == 201, joined.text
        assert joined.json()["user"]["role"] == "viewer"
