"""A pattern's steps carry its pins on their spans: `batonflow.pattern_id`,
`batonflow.pricing_pack_id` and `batonflow.ledger_commit_hash` (the run's labels)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from batonflow.api.app import create_app
from batonflow.settings import Settings
from batonflow.telemetry.process import build_telemetry
from tests.apps.portfolio.pack_fixtures import Register, portfolio_apps, tenants
from tests.apps.portfolio.test_execute import fresh_pack, ledger_of, overview

__all__ = ["tenants"]


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
async def pack_app(
    api_settings: Settings, monkeypatch: pytest.MonkeyPatch, exporter: InMemorySpanExporter
) -> AsyncIterator[FastAPI]:
    telemetry = build_telemetry(api_settings, span_exporter=exporter)
    app = create_app(
        api_settings,
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
