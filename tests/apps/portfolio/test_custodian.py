"""The scheduled reconciliation, through the real API on SQLite and PostgreSQL: the
`portfolio-reconcile` run fetches the statement from a local custodian server (only from a base
URL the installation allows) and records its breaks, started by hand or by a nightly schedule
firing; a retried attempt records nothing twice."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from dirty_equals import IsStr
from fastapi import FastAPI

from batonflow.agents.agent import CallContext
from batonflow.api.app import create_app
from batonflow.api.deps import ApiState
from batonflow.apps.portfolio.custodian import ReconcileIn, reconcile_statement
from batonflow.schedules.service import fire_next
from batonflow.settings import Settings
from batonflow.workflows.step_context import TenantRows
from tests.api.flows import settled, start
from tests.apps.portfolio.pack_fixtures import P, Register, portfolio_apps, tenants
from tests.apps.portfolio.test_execute import ledger_of
from tests.apps.portfolio.test_reconcile import OFF

__all__ = ["tenants"]


class Custodian(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.seen: list[tuple[str, str | None]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: Custodian

    def do_GET(self) -> None:
        self.server.seen.append((self.path, self.headers.get("Authorization")))
        found = self.path == "/statements/brokerage.csv"
        self.send_response(200 if found else 404)
        self.send_header("Content-Type", "text/csv")
        self.end_headers()
        self.wfile.write(OFF if found else b"no such statement")

    def log_message(self, *args: object) -> None:
        pass


def reconcile_inputs(portfolio_id: str, statement_url: str) -> dict[str, str]:
    return {"portfolio_id": portfolio_id, "account": "Brokerage", "statement_url": statement_url}


@pytest.fixture
def custodian() -> Iterator[Custodian]:
    server = Custodian()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
async def pack_app(
    api_settings: Settings, monkeypatch: pytest.MonkeyPatch, custodian: Custodian
) -> AsyncIterator[FastAPI]:
    apps = portfolio_apps(
        monkeypatch,
        providers="offline",
        custodian_urls=f"{custodian.url}/statements",
        custodian_key="custodian-token-for-tests",
    )
    app = create_app(api_settings, apps=apps)
    async with app.router.lifespan_context(app):
        yield app


async def test_a_scheduled_reconciliation_records_the_breaks_once(
    tenants: Register, custodian: Custodian
) -> None:
    acme = await tenants("acme")
    growth = await ledger_of(acme.client)
    inputs = reconcile_inputs(growth["id"], f"{custodian.url}/statements/brokerage.csv")

    run = await start(acme.client, "portfolio-reconcile", inputs)
    done = await settled(acme.client, run["id"], ("succeeded", "failed", "dead"))

    assert done["status"] == "succeeded", done
    assert custodian.seen == [("/statements/brokerage.csv", "Bearer custodian-token-for-tests")]
    (recorded,) = (await acme.client.get(f"{P}/portfolios/{growth['id']}/reconciliations")).json()
    assert recorded["created_by"] == f"run:{run['id']}"
    assert recorded["breaks"] == done["outputs"]["reconciliation"]["breaks"]
    assert recorded["breaks"] == [
        {"symbol": "CASH:USD", "ledger": "59534.45", "custodian": "59500", "difference": "-34.45"},
        {"symbol": "IBM", "ledger": "50", "custodian": "0", "difference": "-50"},
        {"symbol": "MSFT", "ledger": "800", "custodian": "790", "difference": "-10"},
        {"symbol": "NVDA", "ledger": "0", "custodian": "10", "difference": "10"},
    ]


async def test_a_nightly_schedule_fires_the_reconciliation(
    tenants: Register, custodian: Custodian, pack_app: FastAPI
) -> None:
    acme = await tenants("acme")
    growth = await ledger_of(acme.client)
    inputs = reconcile_inputs(growth["id"], f"{custodian.url}/statements/brokerage.csv")
    made = await acme.client.post(
        "/api/v1/schedules",
        json={
            "name": "nightly-recon",
            "workflow_id": "portfolio-reconcile",
            "kind": "cron",
            "cron": "0 7 * * *",
            "timezone": "UTC",
            "inputs": inputs,
        },
    )
    assert made.status_code == 201, made.text
    first = datetime.fromisoformat(made.json()["upcoming"][0])
    state: ApiState = pack_app.state.batonflow
    for night in (first, first + timedelta(days=1)):
        fired = await state.transact(
            lambda c, at=night: fire_next(c, now=at + timedelta(seconds=1), worker="test")
        )
        assert fired is not None
        state.committed([])
        done = await settled(acme.client, str(fired[1][0].run_id), ("succeeded", "failed", "dead"))
        assert done["status"] == "succeeded", done

    listed = (await acme.client.get(f"{P}/portfolios/{growth['id']}/reconciliations")).json()
    assert [(r["created_by"], len(r["breaks"])) for r in listed] == [
        (IsStr(regex=r"run:.+"), 4),
        (IsStr(regex=r"run:.+"), 4),
    ]
    assert listed[0]["created_by"] != listed[1]["created_by"]  # one per night, each its run's


async def test_a_statement_url_outside_the_allowed_ones_is_refused(
    tenants: Register, custodian: Custodian
) -> None:
    acme = await tenants("acme")
    growth = await ledger_of(acme.client)
    inputs = reconcile_inputs(growth["id"], f"{custodian.url}/elsewhere/brokerage.csv")

    run = await start(acme.client, "portfolio-reconcile", inputs)
    done = await settled(acme.client, run["id"], ("succeeded", "failed", "dead"))

    assert done["status"] in ("failed", "dead")
    assert done["error"]["message"] == (
        f"the statement URL {custodian.url}/elsewhere/brokerage.csv is not under a custodian "
        f"URL this installation allows ({custodian.url}/statements); an operator adds it to "
        "BATONFLOW_PORTFOLIO_CUSTODIAN_URLS"
    )
    assert custodian.seen == []
    assert (await acme.client.get(f"{P}/portfolios/{growth['id']}/reconciliations")).json() == []


async def test_a_retried_attempt_returns_the_recorded_reconciliation(
    tenants: Register, custodian: Custodian
) -> None:
    acme = await tenants("acme")
    assert acme.state is not None
    growth = await ledger_of(acme.client)
    inputs = reconcile_inputs(growth["id"], f"{custodian.url}/statements/brokerage.csv")
    run = await start(acme.client, "portfolio-reconcile", inputs)
    done = await settled(acme.client, run["id"], ("succeeded", "failed", "dead"))

    # The attempt's checkpoint was lost after the reconciliation committed: it runs again.
    again = CallContext(
        tenant_id=acme.id,
        run_id=run["id"],
        step_id="reconcile",
        attempt=2,
        idempotency_key=f"{run['id']}:reconcile:2",
        deadline=None,
        worker="test",
        effects=None,  # type: ignore[arg-type]  # the capability applies no effect
        data=TenantRows(acme.id, acme.state.query, acme.state.transact),
    )
    redone = await reconcile_statement(again, ReconcileIn.model_validate(inputs))

    assert redone.model_dump() == done["outputs"]["reconciliation"]
    assert len(custodian.seen) == 1
    listed = (await acme.client.get(f"{P}/portfolios/{growth['id']}/reconciliations")).json()
    assert len(listed) == 1
