"""The ledger's commands as a person runs them (in this process, on SQLite and PostgreSQL):
create a portfolio, import a CSV (a bad one lists every bad row and exits 1), positions,
reconcile."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import batonflow.apps.portfolio as portfolio_package
from batonflow.apps.portfolio import HERE
from batonflow.cli.main import app as batonflow

SAMPLE = HERE / "samples" / "ledger.csv"


@pytest.fixture
def portfolio_cli(api_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """The CLI's environment: its own database and data folder, the portfolio app alone (its
    workflows, another area's, are left out: these commands do not run them)."""
    for name in [n for n in os.environ if n.startswith("BATONFLOW_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("BATONFLOW_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("BATONFLOW_DATABASE_URL", api_db_url)
    monkeypatch.setenv("BATONFLOW_APPS", "portfolio")
    monkeypatch.setattr(portfolio_package, "app", replace(portfolio_package.app, workflows=None))
    return CliRunner()


def call(cli: CliRunner, *args: str | Path, code: int = 0) -> str:
    done = cli.invoke(batonflow, ["portfolio", *map(str, args)])
    assert done.exit_code == code, (done.output, done.exception)
    return done.output


def as_json(cli: CliRunner, *args: str | Path, code: int = 0) -> Any:
    return json.loads(call(cli, *args, "--json", code=code))


def test_create_import_positions_reconcile(portfolio_cli: CliRunner, tmp_path: Path) -> None:
    cli = portfolio_cli
    made = as_json(cli, "create", "Core", "--currency", "USD", "--benchmark", "SPY")
    assert (made["name"], made["base_currency"], made["benchmark"]) == ("Core", "USD", "SPY")
    dry = as_json(cli, "import", SAMPLE, "--portfolio", "Core", "--dry-run")
    assert dry == {
        "rows": 16,
        "errors": [],
        "accounts_created": ["Brokerage"],
        "dry_run": True,
        "commit": None,
    }
    assert [p["head"] for p in as_json(cli, "list")] == [""]

    done = call(cli, "import", SAMPLE, "--portfolio", "Core")
    listed = as_json(cli, "list")
    head = listed[0]["head"]
    assert " ".join(done.split()) == f"imported 16 rows as commit 1 ({head})"
    assert [(p["name"], p["id"]) for p in listed] == [("Core", made["id"])]

    held = as_json(cli, "positions", made["id"])
    assert (held["ledger_commit_hash"], held["cash"]) == (head, {"USD": "59534.45"})
    assert [(p["symbol"], p["quantity"], p["cost"]) for p in held["positions"]] == [
        ("AAPL", "500", "10209.9"),
        ("AMZN", "300", "10149.95"),
        ("GOOG", "70", "11298.4"),
        ("IBM", "50", "4679.975"),
        ("MSFT", "800", "21059.9"),
    ]
    assert "AAPL" in call(cli, "positions", "Core")

    statement = tmp_path / "statement.csv"
    statement.write_text("symbol,quantity\nAAPL,500\nAMZN,300\nGOOG,70\nIBM,50\nMSFT,800\n")
    clean = as_json(
        cli, "reconcile", "Core", statement, "--account", "Brokerage", "--date", "2009-12-31"
    )
    assert (clean["breaks"], clean["ledger_commit_hash"], clean["statement_date"]) == (
        [],
        head,
        "2009-12-31",
    )
    statement.write_text("symbol,quantity\nAAPL,400\nAMZN,300\nGOOG,70\nIBM,50\nMSFT,800\n")
    off = as_json(cli, "reconcile", "Core", statement, "--account", "Brokerage", code=1)
    assert off["breaks"] == [
        {"symbol": "AAPL", "ledger": "500", "custodian": "400", "difference": "-100"}
    ]


def test_a_bad_file_lists_every_bad_row_and_exits_1(
    portfolio_cli: CliRunner, tmp_path: Path
) -> None:
    cli = portfolio_cli
    call(cli, "create", "Core", "--currency", "USD")
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "date,kind,account,symbol,quantity,price\n"
        "2004-01-02,buy,Main,AAPL,ten,22\n"
        "2004-01-03,sell,Main,MSFT,5,30\n"
        "2004-01-04,gift,Main,IBM,1,1\n"
    )
    out = call(cli, "import", bad, "--portfolio", "Core", code=1)
    # Rich wraps lines at 80 columns off a terminal: compare the words.
    assert " ".join(out.split()) == " ".join(
        [
            "3 problem(s) in 3 row(s); nothing was imported",
            "row 2 quantity: 'ten' is not a plain decimal number (like 1234.56)",
            "row 3 quantity: selling 5 MSFT on 2004-01-03, but the account holds 0 then",
            "row 4 kind: 'gift' is not a kind; one of buy, sell, dividend, fee, deposit, "
            "withdrawal, split",
        ]
    )
    assert as_json(cli, "list")[0]["head"] == ""
    missing = cli.invoke(batonflow, ["portfolio", "positions", "Nope"])
    assert missing.exit_code == 2
