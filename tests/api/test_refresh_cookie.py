"""The refresh token in the browser's HttpOnly cookie, on both databases: sign-in sets it, a
refresh reads it and rotates it without ever putting a refresh token in the body, sign-out
revokes it and drops it, and the Secure flag follows the scheme (or the setting)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from http.cookies import SimpleCookie

import httpx
import pytest
from dirty_equals import IsStr
from fastapi import FastAPI

from batonflow.api.app import create_app
from batonflow.settings import Settings
from tests.api.conftest import PASSWORD, Signup, client_for, core_apps

NAME = "batonflow_refresh"


def set_cookie(response: httpx.Response) -> dict[str, str | bool]:
    """The refresh cookie the response sets: its value and attributes."""
    headers = response.headers.get_list("set-cookie")
    assert len(headers) == 1, headers
    parsed = SimpleCookie()
    parsed.load(headers[0])
    morsel = parsed[NAME]
    attributes = {k: v for k, v in morsel.items() if v}
    return {"value": morsel.value, **attributes}


async def sign_in(client: httpx.AsyncClient, email: str) -> httpx.Response:
    response = await client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return response


async def test_sign_in_sets_an_http_only_strict_cookie_on_the_auth_path(
    signup: Signup, client: httpx.AsyncClient
) -> None:
    admin = await signup("acme")
    response = await sign_in(client, admin.email)
    assert set_cookie(response) == {
        "value": response.json()["refresh_token"],
        "httponly": True,
        "max-age": "2592000",
        "path": "/api/v1/auth",
        "samesite": "strict",
    }


async def test_a_refresh_from_the_cookie_rotates_it_and_keeps_it_out_of_the_body(
    signup: Signup, client: httpx.AsyncClient, app: FastAPI
) -> None:
    admin = await signup("acme")
    first = (await sign_in(client, admin.email)).json()["refresh_token"]

    refreshed = await client.post("/api/v1/auth/refresh")  # no body: the cookie
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json() == {
        "access_token": IsStr(),
        "refresh_token": None,
        "token_type": "bearer",
        "expires_in": 900,
        "user": {"id": IsStr(), "email": admin.email, "name": "Admin", "role": "admin"},
        "tenant": {"id": IsStr(), "slug": "acme", "name": "acme"},
    }
    second = set_cookie(refreshed)["value"]
    assert second != first
    assert client.cookies[NAME] == second
    async with client_for(app, refreshed.json()["access_token"]) as browser:
        assert (await browser.get("/api/v1/me")).status_code == 200
        # A copy of the first cookie, sent again: refused.
        reused = await browser.post("/api/v1/auth/refresh", headers={"Cookie": f"{NAME}={first}"})
    assert reused.status_code == 401
    assert reused.json()["error"]["code"] == "unauthenticated"


async def test_a_refresh_without_a_token_is_refused(client: httpx.AsyncClient) -> None:
    for body in (None, {}):
        response = await client.post("/api/v1/auth/refresh", json=body)
        assert (response.status_code, response.json()) == (
            401,
            {
                "error": {
                    "code": "unauthenticated",
                    "message": "no refresh token: send the cookie that sign-in set, or "
                    "refresh_token in the body",
                    "details": {},
                }
            },
        )


async def test_a_body_token_is_answered_in_the_body_without_a_cookie(
    signup: Signup, app: FastAPI
) -> None:
    admin = await signup("acme")
    async with client_for(app) as script:
        token = (await sign_in(script, admin.email)).json()["refresh_token"]
        script.cookies.clear()  # a client that keeps no cookies
        refreshed = await script.post("/api/v1/auth/refresh", json={"refresh_token": token})
    assert refreshed.status_code == 200
    assert refreshed.json()["refresh_token"] == IsStr(min_length=43)
    assert refreshed.headers.get_list("set-cookie") == []


async def test_sign_out_with_the_cookie_revokes_it_drops_it_and_is_recorded(
    signup: Signup, client: httpx.AsyncClient
) -> None:
    admin = await signup("acme")
    token = (await sign_in(client, admin.email)).json()["refresh_token"]
    out = await client.post("/api/v1/auth/logout")
    assert out.status_code == 204
    dropped = set_cookie(out)
    assert dropped == {
        "value": "",
        "httponly": True,
        "max-age": "0",
        "expires": IsStr(),
        "path": "/api/v1/auth",
        "samesite": "strict",
    }
    assert NAME not in client.cookies
    again = await client.post("/api/v1/auth/refresh", json={"refresh_token": token})
    assert again.status_code == 401
    log = (await admin.client.get("/api/v1/audit", params={"action": "auth.sign_out"})).json()
    assert [(e["actor"], e["client_address"]) for e in log["items"]] == [(admin.email, "127.0.0.1")]
    # Signing out with no token at all still answers 204 (and drops any cookie).
    assert (await client.post("/api/v1/auth/logout")).status_code == 204


@pytest.fixture
async def served(api_settings: Settings) -> AsyncIterator[dict[str, FastAPI]]:
    """The same database behind three apps, one per `BATONFLOW_REFRESH_COOKIE_SECURE`."""
    apps = {
        mode: create_app(
            api_settings.model_copy(update={"refresh_cookie_secure": mode}), apps=core_apps()
        )
        for mode in ("auto", "always", "never")
    }
    async with (
        apps["auto"].router.lifespan_context(apps["auto"]),
        apps["always"].router.lifespan_context(apps["always"]),
        apps["never"].router.lifespan_context(apps["never"]),
    ):
        yield apps


async def test_the_secure_flag_follows_the_scheme_or_the_setting(
    signup: Signup, served: dict[str, FastAPI]
) -> None:
    admin = await signup("acme")
    seen = {}
    for mode, app in served.items():
        for scheme in ("http", "https"):
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app, client=("127.0.0.1", 40000)),
                base_url=f"{scheme}://batonflow.test",
            ) as client:
                seen[(mode, scheme)] = "secure" in set_cookie(await sign_in(client, admin.email))
    assert seen == {
        ("auto", "http"): False,
        ("auto", "https"): True,
        ("always", "http"): True,
        ("always", "https"): True,
        ("never", "http"): False,
        ("never", "https"): False,
    }
