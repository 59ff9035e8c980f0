"""The sales agent's commands as a person runs them (in this process, on SQLite and PostgreSQL,
the model a loopback server): `sales propose DEAL --sku X --qty N` runs `deal.propose` and
prints the priced proposal; `sales proposals list DEAL` lists the deal's versions."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from dirty_equals import IsStr
from typer.testing import CliRunner

from batonflow.apps.sales import catalog, companies, deals
from batonflow.cli.session import open_session
from batonflow.settings import Settings
from batonflow.store.db import Conn
from batonflow_testkit.fakeserver import FakeProvider
from tests.apps.sales.test_agent_sales import Writer
from tests.apps.sales.test_crm_cli import as_json, call, sales_cli

__all__ = ["sales_cli"]


@pytest.fixture
def model(sales_cli: CliRunner, monkeypatch: pytest.MonkeyPatch) -> Iterator[Writer]:
    """The model the commands call: a loopback server, served from a thread of its own (the
    commands run their own event loop)."""
    writer, started, stop = Writer(), threading.Event(), threading.Event()
    address: list[str] = []

    async def serve() -> None:
        async with FakeProvider(respond=writer) as server:
            address.append(server.openai_url)
            started.set()
            while not stop.is_set():
                await asyncio.sleep(0.02)

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    assert started.wait(10)
    monkeypatch.setenv("BATONFLOW_OPENAI_BASE_URL", address[0])
    monkeypatch.setenv("BATONFLOW_OPENAI_API_KEY", "sk-test-not-a-secret")
    monkeypatch.setenv("BATONFLOW_LLM_MAX_RETRIES", "0")
    monkeypatch.setenv("BATONFLOW_SALES_MODEL", "openai:gpt-4.1-mini")
    yield writer
    stop.set()
    thread.join(10)


def a_deal() -> str:
    async def seed() -> str:
        async with open_session(Settings()) as session:
            now = datetime.now(UTC)

            async def work(conn: Conn) -> str:
                company = await companies.create_company(
                    conn, session.tenant_id, name="Globex", now=now
                )
                for sku, name, price in (
                    ("SEAT", "Seat licence", "49.99"),
                    ("ONB", "Onboarding", "1500"),
                ):
                    await catalog.create_product(
                        conn,
                        session.tenant_id,
                        sku=sku,
                        name=name,
                        unit_price=Decimal(price),
                        currency="EUR",
                        now=now,
                    )
                deal = await deals.create_deal(
                    conn,
                    session.tenant_id,
                    title="Globex rollout",
                    company_id=company["id"],
                    currency="EUR",
                    actor="cli",
                    now=now,
                )
                return str(deal["id"])

            return await session.platform.write(work)

    return asyncio.run(seed())


def test_propose_and_list(sales_cli: CliRunner, model: Writer) -> None:
    deal_id = a_deal()
    printed = call(
        sales_cli, "propose", deal_id, "--sku", "SEAT", "--qty", "10", "--sku", "ONB", "--qty", "1"
    )
    lines = [" ".join(line.split()) for line in printed.strip().splitlines()]
    assert lines[:2] == [
        "Globex rollout (version 1)",
        "Seats for the whole team, running in a week.",
    ]
    assert lines[4:8] == [  # the value column wraps at 80 columns
        "SEAT Seat licence 10 49.99 0 499.90 Seat licence pays for",
        "itself.",
        "ONB Onboarding 1 1500.00 0 1500.00 Onboarding pays for",
        "itself.",
    ]
    assert lines[-3:] == ["subtotal 1999.90 EUR", "discount 0.00 EUR", "total 1999.90 EUR"]

    again = as_json(sales_cli, "propose", deal_id, "--note", "stress the start")
    assert again == {
        "run_id": IsStr(),
        "agent": "sales",
        "capability": "deal.propose",
        "status": "succeeded",
        "output": {
            "proposal_id": IsStr(),
            "deal_id": deal_id,
            "version": 2,
            "currency": "EUR",
            "lines": [
                {
                    "sku": "SEAT",
                    "description": "Seat licence",
                    "quantity": "10",
                    "unit_price": "49.99",
                    "discount": "0",
                    "net": "499.90",
                },
                {
                    "sku": "ONB",
                    "description": "Onboarding",
                    "quantity": "1",
                    "unit_price": "1500.00",
                    "discount": "0",
                    "net": "1500.00",
                },
            ],
            "totals": {"subtotal": "1999.90", "discount": "0.00", "total": "1999.90"},
            "text": {
                "title": "Globex rollout",
                "summary": "Seats for the whole team, running in a week.",
                "lines": [
                    {"sku": "SEAT", "statement": "Seat licence pays for itself."},
                    {"sku": "ONB", "statement": "Onboarding pays for itself."},
                ],
            },
            "model": "openai:gpt-4.1-mini",
        },
        "error": None,
    }
    listed = as_json(sales_cli, "proposals", "list", deal_id)
    assert [(p["version"], p["note"], p["totals"]["total"]) for p in listed] == [
        (2, "stress the start", "1999.90"),
        (1, None, "1999.90"),
    ]
    rows = [line.split() for line in call(sales_cli, "proposals", "list", deal_id).splitlines()]
    assert [" ".join(row[1:-1]) for row in rows if len(row) > 2] == [
        "version title total",
        "2 Globex rollout 1999.90 EUR",
        "1 Globex rollout 1999.90 EUR",
    ]

    odd = call(sales_cli, "propose", deal_id, "--sku", "SEAT", code=2)
    assert " ".join(odd.split()) == (
        "error (input_invalid): 1 --sku and 0 --qty: give one --qty after each --sku"
    )
    retired = call(sales_cli, "propose", deal_id, "--sku", "NOPE", "--qty", "1", code=1)
    assert " ".join(retired.split()).endswith(
        "failed: no product with the SKU NOPE in the catalog; list it with "
        "GET /api/v1/sales/products"
    )
