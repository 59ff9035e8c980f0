"""The dashboard's serving: files, the single-page fallback, cache headers, and the API's own
answers left alone; a missing bundle gives a page that says how to build it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from batonflow.api.web import mount_dashboard
from tests.api.conftest import client_for

INDEX = "<!doctype html><title>Batonflow</title><div id=root></div>"


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    static = tmp_path / "static"
    (static / "assets").mkdir(parents=True)
    (static / "index.html").write_text(INDEX)
    (static / "assets" / "index-abc123.js").write_text("console.log('batonflow')")
    (static / "robots.txt").write_text("User-agent: *\n")
    (tmp_path / "secret.txt").write_text("outside the bundle")
    return static


@pytest.fixture
async def web(app: FastAPI, bundle: Path) -> AsyncIterator[httpx.AsyncClient]:
    mount_dashboard(app, static_dir=bundle.parent / "elsewhere")
    mount_dashboard(app, static_dir=bundle)  # the last call wins, whatever create_app mounted
    async with client_for(app) as client:
        yield client


async def test_index_and_spa_fallback_revalidate(web: httpx.AsyncClient) -> None:
    for path in ("/", "/runs", "/runs/0190abcd-run", "/reviews?status=any", "/join"):
        response = await web.get(path)
        assert (response.status_code, response.text) == (200, INDEX), path
        assert response.headers["content-type"].startswith("text/html")
        assert response.headers["cache-control"] == "no-cache"


async def test_hashed_assets_are_cached_for_a_year(web: httpx.AsyncClient) -> None:
    response = await web.get("/assets/index-abc123.js")
    assert response.status_code == 200
    assert response.text == "console.log('batonflow')"
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert "javascript" in response.headers["content-type"]
    head = await web.head("/assets/index-abc123.js")
    assert head.status_code == 200


async def test_other_files_are_served_and_revalidated(web: httpx.AsyncClient) -> None:
    response = await web.get("/robots.txt")
    assert (response.status_code, response.text) == (200, "User-agent: *\n")
    assert response.headers["cache-control"] == "no-cache"


async def test_missing_asset_is_a_404_not_the_page(web: httpx.AsyncClient) -> None:
    response = await web.get("/assets/gone-000.js")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_paths_outside_the_bundle_get_the_page(web: httpx.AsyncClient) -> None:
    for path in ("/../secret.txt", "/%2e%2e/secret.txt", "/assets/../../secret.txt"):
        response = await web.get(path)
        assert "outside the bundle" not in response.text, path


async def test_api_paths_keep_their_own_answers(web: httpx.AsyncClient) -> None:
    missing = await web.get("/api/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.json() == {"error": {"code": "not_found", "message": "Not Found", "details": {}}}
    assert (await web.get("/health/nothing")).status_code == 404
    assert (await web.get("/docs/nothing")).status_code == 404
    unauthenticated = await web.get("/api/v1/runs")
    assert unauthenticated.status_code == 401
    wrong_method = await web.get("/api/v1/auth/login")
    assert wrong_method.status_code == 405
    assert (await web.get("/openapi.json")).json()["info"]["title"] == "Batonflow API"
    assert (await web.post("/runs")).status_code in (404, 405)


async def test_without_a_bundle_the_page_says_how_to_build_it(app: FastAPI, tmp_path: Path) -> None:
    mount_dashboard(app, static_dir=tmp_path / "not-built")
    async with client_for(app) as web:
        page = await web.get("/")
        assert page.status_code == 503
        assert "make setup" in page.text
        assert page.headers["cache-control"] == "no-cache"
        assert (await web.get("/runs")).status_code == 503
        health = await web.get("/api/v1/me")
        assert health.status_code == 401
