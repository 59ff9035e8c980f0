"""A pattern's steps carry its pins on their spans: `batonflow.pattern_id`,
`batonflow.pricing_pack_id` and `batonflow.ledger_commit_hash` (the run's labels); its run and
step metrics are labelled by the pattern id, and the newest result per pattern and portfolio is a
gauge labelled by all three (one series each, replaced by a newer result)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic import SecretStr

from batonflow.api.app import create_app
from batonflow.apps.portfolio import gauges
from batonflow.settings import Settings
from batonflow.telemetry.process import build_telemetry
from tests.api.conftest import client_for
from tests.api.test_metrics import TOKEN, samples
from tests.apps.portfolio.pack_fixtures import Register, portfolio_apps, tenants
from tests.apps.portfolio.test_execute import P, fresh_pack, ledger_of, overview

__all__ = ["tenants"]


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
async def pack_app(
    api_settings: Settings, monkeypatch: pytest.MonkeyPatch, exporter: InMemorySpanExporter
) -> AsyncIterator[FastAPI]:
    settings = api_settings.model_copy(update={"metrics_token": SecretStr(TOKEN)})
    telemetry = build_telemetry(settings, span_exporter=exporter)
    monkeypatch.setattr(gauges, "REFRESH_SECONDS", 0.05)
    app = create_app(
        settings,
        telemetry=telemetry,
        apps=portfolio_apps(monkeypatch, providers="offline"),
    )
    async with app.router.lifespan_context(app):
        yield app
    telemetry.close()


async def test_the_steps_of_a_pattern_carry_its_pins(
    tenants: Register, pack_app: FastAPI, exporter: InMemorySpanExporter
) -> None:
    acme = await tenants("acme")
    growth = await ledger_of(acme.client)
    await fresh_pack(acme.client)
    done = (await overview(acme.client, portfolio_id=growth["id"])).json()

    steps = {
        span.name: dict(span.attributes or {})
        for span in exporter.get_finished_spans()
        if (span.attributes or {}).get("batonflow.run_id") == done["run_id"]
    }
    assert sorted(steps) == [
        "step metrics",
        "step narrative",
        "step positions",
        "step priced",
        "step sealed",
    ]
    for attributes in steps.values():
        assert {
            name: attributes[name]
            for name in (
                "batonflow.pattern_id",
                "batonflow.pricing_pack_id",
                "batonflow.ledger_commit_hash",
            )
        } == {
            "batonflow.pattern_id": "portfolio_overview",
            "batonflow.pricing_pack_id": done["pricing_pack_id"],
            "batonflow.ledger_commit_hash": done["ledger_commit_hash"],
        }


async def test_run_and_step_metrics_are_labelled_by_the_pattern(
    tenants: Register, pack_app: FastAPI
) -> None:
    acme = await tenants("acme")
    growth = await ledger_of(acme.client)
    await fresh_pack(acme.client)
    done = (await overview(acme.client, portfolio_id=growth["id"])).json()
    assert done["status"] == "succeeded"

    async def scrape() -> dict[str, float]:
        async with client_for(pack_app, TOKEN) as scraper:
            text = (await scraper.get("/metrics")).text
        return samples(text, "batonflow_runs_", "batonflow_step_duration_seconds_count")

    for _ in range(200):  # the executor publishes a commit's events just after the commit
        found = await scrape()
        if (
            'batonflow_runs_finished_total{status="succeeded",workflow="portfolio_overview"}'
            in found
        ):
            break
        await asyncio.sleep(0.02)
    overview_only = {k: v for k, v in found.items() if 'workflow="portfolio_overview"' in k}
    assert overview_only == {
        'batonflow_runs_started_total{workflow="portfolio_overview"}': 1.0,
        'batonflow_runs_finished_total{status="succeeded",workflow="portfolio_overview"}': 1.0,
        **{
            "batonflow_step_duration_seconds_count{"
            f'capability="{capability}",kind="agent",workflow="portfolio_overview"}}': 1.0
            for capability in (
                "ledger.positions",
                "pricing.apply_pack",
                "metrics.compute",
                "narrative.write",
                "result.seal",
            )
        },
    }


async def test_the_newest_result_is_a_gauge_labelled_by_its_pins(
    tenants: Register, pack_app: FastAPI
) -> None:
    acme = await tenants("acme")
    growth = await ledger_of(acme.client)
    await fresh_pack(acme.client)
    first = (await overview(acme.client, portfolio_id=growth["id"])).json()
    account = (await acme.client.get(f"{P}/portfolios/{growth['id']}/accounts")).json()[0]
    added = await acme.client.post(
        f"{P}/portfolios/{growth['id']}/transactions",
        json=[
            {
                "kind": "deposit",
                "date": "2010-01-04",
                "account_id": account["id"],
                "amount": "5000",
                "currency": "USD",
            }
        ],
    )
    assert added.status_code == 201, added.text
    newer = await fresh_pack(acme.client, as_of="2010-02-01")
    latest = (await overview(acme.client, portfolio_id=growth["id"])).json()
    assert latest["ledger_commit_hash"] != first["ledger_commit_hash"]

    def series(pack: str, ledger: str) -> str:
        return (
            "batonflow_portfolio_result_timestamp_seconds{"
            f'ledger_commit_hash="{ledger}",pattern_id="portfolio_overview",'
            f'portfolio_id="{growth["id"]}",pricing_pack_id="{pack}",tenant="{acme.id}"}}'
        )

    wanted = series(newer["pack_id"], latest["ledger_commit_hash"])
    for _ in range(200):  # the gauge is read again every REFRESH_SECONDS
        async with client_for(pack_app, TOKEN) as scraper:
            text = (await scraper.get("/metrics")).text
        found = samples(text, "batonflow_portfolio_result_timestamp_seconds")
        if wanted in found:
            break
        await asyncio.sleep(0.05)
    assert list(found) == [wanted]  # the first result's series is gone: one per portfolio
    assert found[wanted] > 0
