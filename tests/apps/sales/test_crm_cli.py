"""The CRM's commands as a person runs them (in this process, on SQLite and PostgreSQL): import
leads from a CSV (bad rows listed, exit 1), list leads, deals, pipelines and products."""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import batonflow.apps.sales as sales_package
from batonflow.apps.sales import catalog, companies, deals
from batonflow.cli.main import app as batonflow
from batonflow.cli.session import open_session
from batonflow.settings import Settings
from batonflow.store.db import Conn
from tests.apps.sales.test_crm_leads import BAD, GOOD


@pytest.fixture
def sales_cli(api_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """The CLI's environment: its own database and data folder, the sales app alone (without
    its workflows: these commands do not run them)."""
    for name in [n for n in os.environ if n.startswith("BATONFLOW_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("BATONFLOW_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("BATONFLOW_DATABASE_URL", api_db_url)
    monkeypatch.setenv("BATONFLOW_APPS", "sales")
    monkeypatch.setattr(sales_package, "app", replace(sales_package.app, workflows=None))
    return CliRunner()


def call(cli: CliRunner, *args: str | Path, code: int = 0) -> str:
    done = cli.invoke(batonflow, ["sales", *map(str, args)])
    assert done.exit_code == code, (done.output, done.exception)
    return done.output


def as_json(cli: CliRunner, *args: str | Path, code: int = 0) -> Any:
    return json.loads(call(cli, *args, "--json", code=code))


def test_import_and_list_leads(sales_cli: CliRunner, tmp_path: Path) -> None:
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    good.write_bytes(GOOD)
    bad.write_bytes(BAD)
    printed = call(sales_cli, "leads", "import", good)
    assert " ".join(printed.split()) == (
        "2 rows: 2 leads created, 0 already there, 0 problem(s); 2 companies and 2 contacts created"
    )
    again = as_json(sales_cli, "leads", "import", good)
    assert again == {
        "rows": 2,
        "leads_created": 0,
        "duplicates": 2,
        "companies_created": 0,
        "contacts_created": 0,
        "errors": [],
    }
    report = call(sales_cli, "leads", "import", bad, code=1)
    lines = [" ".join(line.split()) for line in report.strip().splitlines()]
    assert lines[0] == (
        "5 rows: 2 leads created, 0 already there, 7 problem(s); 1 companies and 1 contacts created"
    )
    assert lines[1:4] == [
        "row 3 email: 'alice-at-umbrella' is not an email address (like jane@example.com)",
        "row 3 employees: 'ten' is not a count (a whole number, like 250)",
        "row 3 country: 'Germany' is not an ISO 3166 code (like DE)",
    ]
    assert lines[-1] == "row 6: 2 cells where the header has 7; fix the row"

    listed = as_json(sales_cli, "leads", "list", "--source", "event")
    assert [(r["company"]["name"], r["contact"]["email"], r["budget"]) for r in listed] == [
        ("Globex", "jane@globex.com", "50000")
    ]
    everyone = as_json(sales_cli, "leads", "list", "--limit", "10")
    assert sorted(r["company"]["name"] for r in everyone) == [
        "Globex",
        "Globex",
        "Hooli",
        "Initech",
    ]
    assert "jane@globex.com" in call(sales_cli, "leads", "list", "--search", "globex")


def test_pipelines_products_and_deals(sales_cli: CliRunner) -> None:
    pipelines = as_json(sales_cli, "pipelines", "list")
    assert [(p["name"], len(p["stages"])) for p in pipelines] == [("Sales", 6)]
    assert "Qualification" in call(sales_cli, "pipelines", "list")

    async def seed() -> None:
        async with open_session(Settings()) as session:
            now = datetime.now(UTC)

            async def work(conn: Conn) -> None:
                company = await companies.create_company(
                    conn, session.tenant_id, name="Globex", now=now
                )
                seat = await catalog.create_product(
                    conn,
                    session.tenant_id,
                    sku="SEAT",
                    name="Seat",
                    unit_price=Decimal("49.99"),
                    currency="EUR",
                    now=now,
                )
                await catalog.create_product(
                    conn,
                    session.tenant_id,
                    sku="OLD",
                    name="Old plan",
                    unit_price=Decimal("5"),
                    currency="EUR",
                    now=now,
                )
                await deals.create_deal(
                    conn,
                    session.tenant_id,
                    title="Globex rollout",
                    company_id=company["id"],
                    currency="EUR",
                    lines=[{"product_id": seat["id"], "quantity": Decimal(4)}],
                    actor="cli",
                    now=now,
                )

            await session.platform.write(work)

    asyncio.run(seed())
    listed = as_json(sales_cli, "deals", "list")
    assert [(d["title"], d["stage"], d["amount"], d["currency"]) for d in listed] == [
        ("Globex rollout", "Qualification", "199.96", "EUR")
    ]
    assert "Globex rollout" in call(sales_cli, "deals", "list", "--search", "rollout")
    assert as_json(sales_cli, "deals", "list", "--owner", "nobody") == []
    products = as_json(sales_cli, "products", "list")
    assert [(p["sku"], p["unit_price"], p["active"]) for p in products] == [
        ("OLD", "5", True),
        ("SEAT", "49.99", True),
    ]
    assert as_json(sales_cli, "products", "list", "--retired") == []
