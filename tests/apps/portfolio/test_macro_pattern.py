"""The `macro_regime` pattern end to end, on SQLite and PostgreSQL: a pack built from a FRED
server speaking FRED's wire format (a local one), then the macro hound's regime with the figures
behind it, the source attributed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date

import pytest
from fastapi import FastAPI

from batonflow.api.app import create_app
from batonflow.settings import Settings
from tests.apps.portfolio.pack_fixtures import P, Register, portfolio_apps, tenants
from tests.apps.portfolio.providers_server import KEY, ProvidersServer

__all__ = ["tenants"]

MONTHS = [date(2023, month, 1) for month in range(1, 13)] + [date(2024, m, 1) for m in (1, 2, 3)]


def monthly(first: str, last: str) -> list[tuple[date, str]]:
    """A flat series that moves to `last` on its final month."""
    return [(day, first) for day in MONTHS[:-1]] + [(MONTHS[-1], last)]


@pytest.fixture
async def fred() -> AsyncIterator[ProvidersServer]:
    series = {
        "DGS10": monthly("4.0", "4.0"),
        "DGS2": monthly("4.5", "4.5"),  # the curve is inverted: a slowdown
        "UNRATE": monthly("3.5", "3.7"),
        "CPIAUCSL": monthly("300", "309"),
    }
    async with ProvidersServer(macro=series) as server:
        yield server


@pytest.fixture
async def pack_app(
    api_settings: Settings, monkeypatch: pytest.MonkeyPatch, fred: ProvidersServer
) -> AsyncIterator[FastAPI]:
    apps = portfolio_apps(monkeypatch, providers="fred", fred_url=fred.url, fred_key=KEY)
    app = create_app(api_settings, apps=apps)
    async with app.router.lifespan_context(app):
        yield app


async def test_the_macro_regime_is_computed_from_the_pack_s_fred_series(
    tenants: Register,
) -> None:
    acme = await tenants("acme")
    started = await acme.client.post(f"{P}/packs", json={"as_of": "2024-03-01"})
    assert started.status_code == 202, started.text
    for _ in range(400):
        health = (await acme.client.get(f"{P}/health/pack")).json()
        if health["state"] != "warming":
            break
        await asyncio.sleep(0.05)
    assert (health["state"], health["sources"]) == ("fresh", ["fred"])

    answered = await acme.client.post(f"{P}/execute", json={"pattern_id": "macro_regime"})

    assert answered.status_code == 200, answered.text
    found = answered.json()
    assert (found["status"], found["sources"], found["ledger_commit_hash"]) == (
        "succeeded",
        ["fred"],
        None,
    )
    assert found["attribution"] == ["Source: FRED, Federal Reserve Bank of St. Louis"]
    assert found["result"] == {
        "regime": "slowdown",
        "as_of": "2024-03-01",
        "ten_year": "4",
        "two_year": "4.5",
        "slope": "-0.50",
        "unemployment": "3.7",
        "unemployment_change": "0.20",
        "inflation": "3.00",
        "rule": found["result"]["rule"],
    }
    assert "inverted" in found["result"]["rule"]
