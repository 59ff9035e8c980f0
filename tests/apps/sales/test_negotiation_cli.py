"""The negotiation's commands as a person runs them (in this process, on SQLite and
PostgreSQL): set the discount policy from a JSON file, show it, and list a deal's offers."""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from dirty_equals import IsStr
from typer.testing import CliRunner

import batonflow.apps.sales as sales_package
from batonflow.apps.sales import negotiation
from batonflow.apps.sales.negotiation import CounterOffer
from batonflow.cli.main import app as batonflow
from batonflow.cli.session import open_session
from batonflow.settings import Settings
from batonflow.store.db import Conn
from tests.apps.sales.test_negotiation_api import POLICY, seed_deal


@pytest.fixture
def sales_cli(api_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """The CLI's environment: its own database and data folder, the sales app alone."""
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


def as_json(cli: CliRunner, *args: str | Path) -> Any:
    return json.loads(call(cli, *args, "--json"))


async def negotiated() -> str:
    """A deal in the CLI's tenant with one round beyond policy: the deal's id."""
    async with open_session(Settings()) as session:
        deal = await seed_deal(session.platform.write, session.tenant_id)

        async def counter(conn: Conn) -> None:
            found = await negotiation.prepare(
                conn, session.tenant_id, deal, CounterOffer(discount="20")
            )
            await negotiation.record(
                conn, session.tenant_id, found, actor="someone", now=session.platform.now()
            )

        await session.platform.write(counter)
    return deal


def test_set_show_the_policy_and_list_a_deals_offers(sales_cli: CliRunner, tmp_path: Path) -> None:
    cli = sales_cli
    assert "the tenant has no discount policy yet" in call(cli, "policy", "show", code=2)
    file = tmp_path / "policy.json"
    file.write_text(json.dumps(POLICY))

    assert call(cli, "policy", "set", file) == "discount policy version 1 set\n"
    shown = as_json(cli, "policy", "show")
    assert shown == {
        "version": 1,
        "policy": POLICY,
        "changed_by": IsStr(),
        "changed_at": IsStr(regex=r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"),
    }
    assert as_json(cli, "policy", "set", file)["version"] == 2
    text = [" ".join(line.split()) for line in call(cli, "policy", "show").splitlines()]
    assert text[0].startswith("discount policy version 2, set by ")
    assert text[0].endswith("; at most 3 rounds")
    assert [line for line in text if line[:1].isdigit() or line.startswith("SEAT")] == [
        "0 to below 10000 10",
        "10000 to below 50000 15",
        "50000 or more 20",
        "SEAT 12 80",
    ]
    assert text[-2:] == [
        "a discount above 20 % needs a reviewer",
        "a discount above 30 % needs an admin",
    ]

    deal = asyncio.run(negotiated())
    offers = as_json(cli, "offers", "list", deal)
    assert [
        (o["round"], o["party"], o["action"], o["discount"], o["net_amount"], o["verdict"])
        for o in offers
    ] == [
        (1, "customer", "counter", "20", "24000", "needs_approval"),
        (1, "us", "counter", "13", "26100", "within"),
    ]
    rows = [" ".join(line.split()) for line in call(cli, "offers", "list", deal).splitlines()]
    assert rows[-2:] == [
        "1 customer counter 20 24000 EUR needs_approval (reviewer)",
        "1 us counter 13 26100 EUR within",
    ]
    assert "no deal 'nope'" in call(cli, "offers", "list", "nope", code=2)


def test_a_bad_policy_file_says_what_to_fix(sales_cli: CliRunner, tmp_path: Path) -> None:
    file = tmp_path / "policy.json"
    file.write_text(json.dumps(POLICY | {"admin_above": "10", "max_rounds": 0}))
    out = " ".join(call(sales_cli, "policy", "set", file, code=2).split())
    assert out == (
        "error (input_invalid): policy.json is not a valid policy: max_rounds: Input should "
        "be greater than or equal to 1"
    )
    file.write_text("{not json")
    assert "policy.json is not JSON" in call(sales_cli, "policy", "set", file, code=2)
