"""Security headers on the dashboard and the API, no caching of API answers (tokens among them),
and the interactive docs served from this server's own files."""

from __future__ import annotations

import httpx

from batonflow.api.app import POLICY, create_app
from batonflow.settings import Settings
from tests.api.conftest import PASSWORD, client_for, core_apps

EVERYWHERE = {
    "content-security-policy": POLICY,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
}


def security_headers(response: httpx.Response) -> dict[str, str]:
    return {name: response.headers.get(name, "") for name in EVERYWHERE}


async def test_the_dashboard_and_the_api_send_the_security_headers(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/runs")
    assert page.status_code in (200, 503)  # 503: the bundle is not built in this checkout
    assert security_headers(page) == EVERYWHERE
    assert page.headers["cache-control"] == "no-cache"
    missing = await client.get("/api/v1/runs")
    assert (missing.status_code, security_headers(missing)) == (401, EVERYWHERE)
    assert missing.headers["cache-control"] == "no-store"


async def test_token_answers_are_never_cached(client: httpx.AsyncClient) -> None:
    registered = await client.post(
        "/api/v1/auth/register",
        json={"tenant": "acme", "email": "a@acme.example", "password": PASSWORD, "name": "A"},
    )
    assert registered.status_code == 201
    assert registered.headers["cache-control"] == "no-store"
    login = await client.post(
        "/api/v1/auth/login", json={"email": "a@acme.example", "password": PASSWORD}
    )
    assert (login.status_code, login.headers["cache-control"]) == (200, "no-store")
    refreshed = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": login.json()["refresh_token"]}
    )
    assert (refreshed.status_code, refreshed.headers["cache-control"]) == (200, "no-store")


async def test_the_docs_load_swagger_ui_from_this_server(client: httpx.AsyncClient) -> None:
    docs = await client.get("/docs")
    assert docs.status_code == 200
    assert 'src="/swagger/swagger-ui-bundle.js"' in docs.text
    assert 'href="/swagger/swagger-ui.css"' in docs.text
    assert "http" not in docs.text.replace("http-equiv", "")  # no other origin is named
    assert "script-src 'self';" in docs.headers["content-security-policy"]
    start = await client.get("/docs/start.js")
    assert start.status_code == 200
    assert start.headers["content-type"].startswith("text/javascript")
    assert 'url: "/openapi.json"' in start.text
    bundle = await client.get("/swagger/swagger-ui-bundle.js")
    assert bundle.status_code == 200  # copied into the dashboard's bundle by `npm run build`
    assert bundle.headers["content-type"].startswith("text/javascript")


async def test_cross_origin_scripts_are_refused_unless_their_origin_is_configured(
    api_settings: Settings,
) -> None:
    preflight = {
        "Origin": "https://app.example.com",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    for origins, allowed in (("", None), ("https://app.example.com", "https://app.example.com")):
        app = create_app(
            api_settings.model_copy(update={"cors_origins": origins}), apps=core_apps()
        )
        async with app.router.lifespan_context(app), client_for(app) as client:
            answer = await client.options("/api/v1/runs", headers=preflight)
            assert answer.headers.get("access-control-allow-origin") == allowed
            other = await client.options(
                "/api/v1/runs", headers={**preflight, "Origin": "https://evil.example"}
            )
            assert other.headers.get("access-control-allow-origin") is None
