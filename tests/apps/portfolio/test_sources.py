"""A result carries the sources it used, not every source of its pack, on SQLite and PostgreSQL:
a pack built from the offline history and a news API (whose licence forbids export) values a
ledger on offline prices alone, so its result names `offline` only and may be exported; the pack
itself still lists both."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI

from batonflow.api.app import create_app
from batonflow.settings import Settings
from tests.apps.portfolio.pack_fixtures import P, Register, portfolio_apps, tenants
from tests.apps.portfolio.providers_server import KEY, ProvidersServer
from tests.apps.portfolio.test_execute import OFFLINE_ATTRIBUTION, ledger_of, overview

__all__ = ["tenants"]

ARTICLE = {
    "source": {"name": "Wire"},
    "title": "Apple ships a tablet",
    "url": "https://news.example/aapl-tablet",
    "publishedAt": "2010-02-26T14:00:00Z",
}


@pytest.fixture
async def news() -> AsyncIterator[ProvidersServer]:
    async with ProvidersServer(news={"AAPL": [ARTICLE]}) as server:
        yield server


@pytest.fixture
async def pack_app(
    api_settings: Settings, monkeypatch: pytest.MonkeyPatch, news: ProvidersServer
) -> AsyncIterator[FastAPI]:
    apps = portfolio_apps(monkeypatch, providers="offline,news", news_url=news.url, news_key=KEY)
    app = create_app(api_settings, apps=apps)
    async with app.router.lifespan_context(app):
        yield app


async def test_a_result_names_only_the_sources_it_used(tenants: Register) -> None:
    acme = await tenants("acme")
    growth = await ledger_of(acme.client)
    started = await acme.client.post(f"{P}/packs", json={"as_of": "2010-03-01"})
    assert started.status_code == 202, started.text
    for _ in range(400):
        health = (await acme.client.get(f"{P}/health/pack")).json()
        if health["state"] != "warming":
            break
        await asyncio.sleep(0.05)
    assert (health["state"], health["sources"]) == ("fresh", ["news", "offline"])

    done = (await overview(acme.client, portfolio_id=growth["id"])).json()

    assert (done["status"], done["sources"], done["attribution"]) == (
        "succeeded",
        ["offline"],
        [OFFLINE_ATTRIBUTION],
    )
    exported = await acme.client.get(f"{P}/results/{done['result_id']}/export?format=csv")
    assert exported.status_code == 200, exported.text
    assert exported.text.splitlines()[-1] == f'Attribution,"{done["attribution"][0]}"'
