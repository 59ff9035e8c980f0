"""The execute commands as a newcomer runs them after the README's steps (in this process, on
SQLite and PostgreSQL): create a portfolio, import the sample ledger, build a pack as of
2010-03-01 with --wait, then `portfolio execute portfolio_overview --portfolio NAME`, `rerun`
of that run on its pins (the same result hash), and the errors a person meets."""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from batonflow.apps.portfolio import HERE, pattern_commands, results
from batonflow.cli.main import app as batonflow

SAMPLE = HERE / "samples" / "ledger.csv"
ATTRIBUTION = (
    "Sample data: vega-datasets, the Vega project's example data sets (BSD-3-Clause); "
    "for demonstration, not for investment decisions"
)
# The sample ledger valued monthly on the offline pack (its closes are monthly), MSFT as the
# benchmark: the figures `metrics.compute` gives (checked against empyrical in test_metrics).
METRICS = {
    "base_currency": "USD",
    "benchmark": {"beta": 0.4667588059, "correlation": 0.619001673, "key": "MSFT", "periods": 73},
    "concentration": {
        "herfindahl": "0.207164",
        "largest_weight": "0.400796",
        "top5_share": "0.786018",
    },
    "end": "2010-03-01",
    "max_drawdown": {"depth": -0.3758396686, "peak": "2007-12-01", "trough": "2008-12-01"},
    "mwr_annualized": 0.1641571141,
    "net_flows": "15000.00",
    "periods": 73,
    "periods_per_year": 12,
    "risk_free_rate": 0.0,
    "sharpe": 0.9394413949,
    "sortino": 1.394983818,
    "start": "2004-02-01",
    "twr": 1.522056704,
    "twr_annualized": 0.1643928515,
    "value_end": "278221.25",
    "value_start": "97902.05",
    "volatility": 0.1804469323,
}
POSITIONS = [
    ("AAPL", "500", "223.02", "111510.00", "0.400796"),
    ("GOOG", "70", "560.19", "39213.30", "0.140943"),
    ("AMZN", "300", "128.82", "38646.00", "0.138904"),
    ("MSFT", "800", "28.8", "23040.00", "0.082812"),
    ("IBM", "50", "125.55", "6277.50", "0.022563"),
]


@pytest.fixture
def pattern_cli(api_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """The CLI's environment: its own database and data folder, the portfolio app with its
    workflows (executing runs them in this process), the offline provider."""
    for name in [n for n in os.environ if n.startswith("BATONFLOW_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("BATONFLOW_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("BATONFLOW_DATABASE_URL", api_db_url)
    monkeypatch.setenv("BATONFLOW_APPS", "portfolio")
    return CliRunner()


def call(cli: CliRunner, *args: str | Path, code: int = 0) -> str:
    done = cli.invoke(batonflow, ["portfolio", *map(str, args)])
    assert done.exit_code == code, (done.output, done.exception)
    return done.output


def as_json(cli: CliRunner, *args: str | Path, code: int = 0) -> Any:
    return json.loads(call(cli, *args, "--json", code=code))


def words(text: str) -> str:
    """Rich wraps lines at 80 columns off a terminal: compare the words."""
    return " ".join(text.split())


def months(first: date, last: date) -> list[str]:
    found, day = [], first
    while day <= last:
        found.append(day.isoformat())
        day = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return found


def readme_steps(cli: CliRunner) -> tuple[str, str, str]:
    """The README's steps: the portfolio's id, its ledger head and the pack's id."""
    made = as_json(cli, "create", "Retirement", "--currency", "USD", "--benchmark", "MSFT")
    call(cli, "import", SAMPLE, "--portfolio", "Retirement")
    head = as_json(cli, "list")[0]["head"]
    built = as_json(cli, "packs", "build", "--as-of", "2010-03-01", "--wait")
    assert (built["state"], built["as_of"], built["sources"]) == (
        "fresh",
        "2010-03-01",
        ["offline"],
    )
    return made["id"], head, built["pack_id"]


def test_execute_prints_the_overview_and_rerun_reproduces_it(pattern_cli: CliRunner) -> None:
    cli = pattern_cli
    portfolio_id, head, pack_id = readme_steps(cli)

    done = as_json(cli, "execute", "portfolio_overview", "--portfolio", "Retirement")
    result = done.pop("result")
    series = result.pop("series")
    assert done == {
        "run_id": done["run_id"],
        "pattern_id": "portfolio_overview",
        "status": "succeeded",
        "pricing_pack_id": pack_id,
        "ledger_commit_hash": head,
        "pattern_version": 1,
        "result_id": done["result_id"],
        "result_hash": results.result_hash({**result, "series": series}),
        "sources": ["offline"],
        "attribution": [ATTRIBUTION],
        "error": None,
    }
    assert result == {
        "base_currency": "USD",
        "benchmark": "MSFT",
        "by_currency": {"USD": "278221.25"},
        "cash": {"USD": "59534.45"},
        "metrics": METRICS,
        "portfolio_id": portfolio_id,
        "positions": [
            {
                "symbol": symbol,
                "quantity": quantity,
                "price": price,
                "market_value": value,
                "weight": weight,
                "currency": "USD",
            }
            for symbol, quantity, price, value, weight in POSITIONS
        ],
        "unbooked_splits": [],  # the sample ledger books AAPL's 2005 split; offline has none
    }
    # One value a month (the offline closes are monthly) from the first month-end after the
    # first trade to the pack's date; the ends are the metrics' start and end values.
    assert series["dates"] == months(date(2004, 2, 1), date(2010, 3, 1))
    assert (len(series["values"]), series["values"][0], series["values"][-1]) == (
        74,
        "97902.05",
        "278221.25",
    )

    again = as_json(cli, "rerun", done["run_id"])
    assert again["run_id"] != done["run_id"]
    assert {k: again[k] for k in ("status", "pricing_pack_id", "ledger_commit_hash")} == {
        "status": "succeeded",
        "pricing_pack_id": pack_id,
        "ledger_commit_hash": head,
    }
    assert again["result_hash"] == done["result_hash"]
    assert again["result"] == {**result, "series": series}

    text = call(cli, "execute", "portfolio_overview", "--portfolio", portfolio_id)
    assert words(text) == words(
        f"portfolio_overview run {text.split()[2].rstrip(':')}: succeeded\n"
        f"pricing pack {pack_id}\n"
        f"ledger commit {head}\n"
        f"result hash {done['result_hash']}\n"
        "base_currency USD\n"
        "benchmark beta=0.4667588059, correlation=0.619001673, key=MSFT, periods=73\n"
        "concentration herfindahl=0.207164, largest_weight=0.400796, top5_share=0.786018\n"
        "end 2010-03-01\n"
        "max_drawdown depth=-0.3758396686, peak=2007-12-01, trough=2008-12-01\n"
        "mwr_annualized 0.1641571141\n"
        "net_flows 15000.00\n"
        "periods 73\n"
        "periods_per_year 12\n"
        "risk_free_rate 0.0\n"
        "sharpe 0.9394413949\n"
        "sortino 1.394983818\n"
        "start 2004-02-01\n"
        "twr 1.522056704\n"
        "twr_annualized 0.1643928515\n"
        "value_end 278221.25\n"
        "value_start 97902.05\n"
        "volatility 0.1804469323\n"
        f"{ATTRIBUTION}"
    )


def test_a_pinned_pack_is_used_after_a_newer_one(pattern_cli: CliRunner) -> None:
    cli = pattern_cli
    _, head, old_pack = readme_steps(cli)
    newer = as_json(cli, "packs", "build", "--as-of", "2009-12-01", "--wait")
    assert newer["state"] == "fresh"
    assert newer["pack_id"] != old_pack

    current = as_json(cli, "execute", "portfolio_overview", "--portfolio", "Retirement")
    pinned = as_json(
        cli, "execute", "portfolio_overview", "--portfolio", "Retirement", "--pack", old_pack
    )
    assert (current["pricing_pack_id"], current["result"]["metrics"]["end"]) == (
        newer["pack_id"],
        "2009-12-01",
    )
    assert (pinned["pricing_pack_id"], pinned["ledger_commit_hash"]) == (old_pack, head)
    assert pinned["result"]["metrics"] == METRICS


def test_a_warming_pack_refuses_unless_one_is_pinned(pattern_cli: CliRunner) -> None:
    cli = pattern_cli
    _, head, pack_id = readme_steps(cli)
    warming = as_json(cli, "packs", "build", "--as-of", "2010-03-01")  # no worker runs it
    assert (warming["state"], warming["pack_id"]) == ("warming", None)

    refused = cli.invoke(
        batonflow, ["portfolio", "execute", "portfolio_overview", "--portfolio", "Retirement"]
    )
    assert (refused.exit_code, words(refused.output)) == (
        2,
        "error (not_ready): a new pricing pack is warming; ask again when it is ready, or pin "
        "a pack (pricing_pack_id; --pack in the CLI) to compute on it now",
    )
    pinned = as_json(
        cli, "execute", "portfolio_overview", "--portfolio", "Retirement", "--pack", pack_id
    )
    assert (pinned["status"], pinned["pricing_pack_id"], pinned["ledger_commit_hash"]) == (
        "succeeded",
        pack_id,
        head,
    )
    assert pinned["result"]["metrics"] == METRICS


def test_errors_say_what_to_fix(pattern_cli: CliRunner) -> None:
    cli = pattern_cli
    readme_steps(cli)

    def refused(*args: str) -> str:
        done = cli.invoke(batonflow, ["portfolio", *args])
        assert done.exit_code == 2, (done.output, done.exception)
        return words(done.output)

    assert refused("execute", "nope", "--portfolio", "Retirement") == (
        "error (not_found): no pattern 'nope'; the patterns are: portfolio_overview, macro_regime"
    )
    assert refused("execute", "portfolio_overview", "--portfolio", "Nope") == (
        "error (not_found): no portfolio named 'Nope'"
    )
    assert refused("execute", "portfolio_overview") == (
        "error (input_invalid): the pattern 'portfolio_overview' runs on a portfolio: "
        "give --portfolio NAME"
    )
    assert refused(
        "execute", "portfolio_overview", "--portfolio", "Retirement", "--input", "narrate"
    ) == ("error (input_invalid): --input takes key=value, got 'narrate'")
    assert refused("rerun", "01a00000-0000-7000-8000-000000000000") == (
        "error (not_found): no pattern execution '01a00000-0000-7000-8000-000000000000'"
    )


def test_execute_names_the_splits_the_ledger_lacks(capsys: pytest.CaptureFixture[str]) -> None:
    split = {"symbol": "ACME", "date": "2010-02-15", "ratio": "2", "held": "10", "source": "fmp"}
    found = {
        "pattern_id": "portfolio_overview",
        "run_id": "run-1",
        "status": "succeeded",
        "pricing_pack_id": "pack-1",
        "ledger_commit_hash": "c0ffee",
        "result_hash": "beef",
        "result": {"metrics": {"twr": 0.5}, "unbooked_splits": [split]},
        "attribution": ["Market data: Financial Modeling Prep (financialmodelingprep.com)"],
    }
    assert pattern_commands._show(found, as_json=False) == 0
    assert words(capsys.readouterr().out) == words(
        """portfolio_overview run run-1: succeeded
        pricing pack pack-1
        ledger commit c0ffee
        result hash beef
        twr 0.5
        unbooked split ACME: 2 new shares per share on 2010-02-15 (10 held; from fmp): book it
        Market data: Financial Modeling Prep (financialmodelingprep.com)"""
    )
