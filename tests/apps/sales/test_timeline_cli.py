"""`batonflow sales timeline` (in this process, on SQLite and PostgreSQL): a lead's timeline
after `sales pipeline run --lead ID` worked on it, as JSON and as a table; a record that is not
there, or a kind of record without a timeline, is refused saying what to give."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from tests.apps.sales.test_flow_cli import as_json, call, model, sales_cli
from tests.apps.sales.test_flow_outreach import LEADS
from tests.apps.sales.test_timeline_lead import event

__all__ = ["model", "sales_cli"]


def test_timeline_shows_a_lead_and_the_run_that_worked_on_it(
    sales_cli: CliRunner, tmp_path: Path
) -> None:
    leads = tmp_path / "leads.csv"
    leads.write_bytes(LEADS)
    call(sales_cli, "sales", "leads", "import", leads)
    (lead,) = as_json(sales_cli, "sales", "leads", "list")
    done = as_json(sales_cli, "sales", "pipeline", "run", "--lead", lead["id"])
    run = {"run_id": done["run_id"]}

    shown = as_json(sales_cli, "sales", "timeline", "lead", lead["id"])
    assert shown == {
        "entity": "lead",
        "entity_id": lead["id"],
        "events": [
            event(
                "lead.created",
                "system",
                "batonflow",
                "Lead created for Ada Berg at Nordfreight (source web).",
            ),
            event("run.started", "user", "cli", "Started the sales-outreach run.", run),
            event(
                "lead.updated",
                "system",
                "batonflow",
                "Lead last changed: status disqualified, score 40.",
            ),
            event(
                "lead.scored",
                "agent",
                "agent:sales-sdr",
                "Scored 40: 120 employees is in the 50-250 band (+20); a budget of 40000 EUR "
                "is in the 25000-100000 band (+20); the title 'VP Finance' has the keyword "
                "'vp' (+15); no need (-15).",
                run,
            ),
            event("run.succeeded", "system", "batonflow", "The sales-outreach run succeeded.", run),
        ],
    }
    printed = " ".join(call(sales_cli, "sales", "timeline", "lead", lead["id"]).split())
    for text in ("lead.created", "run.started", "The sales-outreach run succeeded."):
        assert text in printed


def test_timeline_says_what_to_give(sales_cli: CliRunner) -> None:
    missing = call(sales_cli, "sales", "timeline", "deal", "nope", code=2)
    assert " ".join(missing.split()) == "error (not_found): no deal 'nope'"
    unknown = call(sales_cli, "sales", "timeline", "offer", "x", code=2)
    assert (
        "'offer' is not a record with a timeline; use one of lead, deal, contract, invoice"
        in " ".join(unknown.replace("│", " ").split())
    )
