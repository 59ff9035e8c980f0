"""What a pack's sources give a result, on SQLite and PostgreSQL, through the real API and a
local server speaking FMP's and the news API's wire formats. A result carries the sources it
used, not every source of its pack: a ledger valued on offline prices alone names `offline`
only and may be exported, though its pack also holds news (whose licence forbids export). And a
split the pack records (from FMP) that the ledger does not book is reported with the result."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import httpx
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


# ACME is a symbol the offline history lacks: FMP prices it, and it split 2-for-1 on the 15th
ACME = [(date(2010, 2, day), 20.0) for day in (1, 2, 3)] + [(date(2010, 2, 16), 10.5)]


@pytest.fixture
async def server() -> AsyncIterator[ProvidersServer]:
    async with ProvidersServer(
        prices={"ACME": ACME},
        splits={"ACME": [(date(2010, 2, 15), 2, 1)]},
        news={"AAPL": [ARTICLE]},
    ) as running:
        yield running


@pytest.fixture
async def pack_app(
    api_settings: Settings, monkeypatch: pytest.MonkeyPatch, server: ProvidersServer
) -> AsyncIterator[FastAPI]:
    apps = portfolio_apps(
        monkeypatch,
        providers="offline,fmp,news",
        fmp_url=server.url,
        fmp_key=KEY,
        news_url=server.url,
        news_key=KEY,
    )
    app = create_app(api_settings, apps=apps)
    async with app.router.lifespan_context(app):
        yield app


async def build(client: httpx.AsyncClient) -> dict[str, Any]:
    started = await client.post(f"{P}/packs", json={"as_of": "2010-03-01"})
    assert started.status_code == 202, started.text
    for _ in range(400):
        health = (await client.get(f"{P}/health/pack")).json()
        if health["state"] != "warming":
            return dict(health)
        await asyncio.sleep(0.05)
    raise AssertionError(f"the pack never finished: {health}")


async def test_a_result_names_only_the_sources_it_used(tenants: Register) -> None:
    acme = await tenants("acme")
    growth = await ledger_of(acme.client)
    health = await build(acme.client)
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


async def test_a_split_the_ledger_does_not_book_is_reported(tenants: Register) -> None:
    acme = await tenants("acme")
    made = await acme.client.post(f"{P}/portfolios", json={"name": "Acme", "base_currency": "USD"})
    pid = made.json()["id"]
    account = await acme.client.post(f"{P}/portfolios/{pid}/accounts", json={"name": "Main"})
    ledger = [
        {"kind": "deposit", "date": "2010-02-01", "amount": "1000"},
        {"kind": "buy", "date": "2010-02-01", "symbol": "ACME", "quantity": "10", "price": "20"},
    ]
    body = [txn | {"account_id": account.json()["id"]} for txn in ledger]
    committed = await acme.client.post(f"{P}/portfolios/{pid}/transactions", json=body)
    assert committed.status_code == 201, committed.text
    health = await build(acme.client)
    # offline gives the VIX of 2009, a macro series the overview does not read
    assert (health["state"], health["sources"]) == ("fresh", ["fmp", "offline"])
    pack = (await acme.client.get(f"{P}/packs/{health['pack_id']}")).json()
    assert [(s["kind"], s["key"], s["source"], s["points"]) for s in pack["series"]] == [
        ("macro", "VIXCLS", "offline", 44),
        ("price", "ACME", "fmp", 4),
        ("split", "ACME", "fmp", 1),
    ]
    assert pack["counts"] == {
        "price": 1,
        "fx": 0,
        "split": 1,
        "dividend": 0,
        "macro": 1,
        "news": 0,
        "missing": [
            "macro:DGS10",
            "macro:DGS2",
            "macro:UNRATE",
            "macro:CPIAUCSL",
            "macro:DTB3",
            "news:ACME",
        ],
    }

    done = (await overview(acme.client, portfolio_id=pid)).json()

    assert (done["status"], done["sources"]) == ("succeeded", ["fmp"])
    # the value halves on the split: 800 cash + 10 x 10.5, the ledger's 10 shares never doubled
    assert done["result"]["series"]["values"][-2:] == ["1000.00", "905.00"]
    assert done["result"]["unbooked_splits"] == [
        {"symbol": "ACME", "date": "2010-02-15", "ratio": "2", "held": "10", "source": "fmp"}
    ]
