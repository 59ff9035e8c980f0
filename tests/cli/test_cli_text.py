"""The CLI as people read it: the README tour's commands in text (not `--json`), at the 80
columns Rich uses off a terminal; a map whose items fail; the dead-letter list and dismissing;
help that comes back without loading the platform."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import typer

from batonflow.cli import main as cli_main
from tests.cli.conftest import BATONFLOW, Cli, said
from tests.cli.test_cli import DOOMED, DRAFT, KABOOM, OUTREACH

pytestmark = pytest.mark.slow

AGO = r"(just now|\d+ s ago)"
WHEN = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"
TOOK = r"\d+ ms"


def short(run_id: str) -> str:
    return run_id[-12:]


def tables_fit(text: str) -> bool:
    """Every line Rich laid out fits 80 columns (soft-wrapped data lines are the terminal's)."""
    return all(len(line) <= 80 for line in text.splitlines())


def test_runs_list_and_show_read_at_80_columns(sqlite_cli: Cli) -> None:
    ran = sqlite_cli("run", "market-report", "-i", "delay_ms=0")
    assert (ran.returncode, ran.stderr) == (0, "")
    assert ran.stdout.endswith(
        "succeeded; outputs:\n"
        "  report: 4 symbols (ACME, GLOBEX, INITECH, UMBRELLA) average 435.30. "
        "Technology: markets steady as agents take the baton\n"
        "  mean: 435.3\n"
    )
    run_id = sqlite_cli.json("runs", "list")[0]["id"]

    listed, shown = sqlite_cli.all(["runs", "list"], ["runs", "show", short(run_id)])
    assert (listed.returncode, listed.stderr, tables_fit(listed.stdout)) == (0, "", True)
    assert re.fullmatch(
        rf"id workflow status started duration ─+ {short(run_id)} market-report@1 succeeded "
        rf"{AGO} {TOOK}",
        said(listed.stdout),
    ), listed.stdout

    tables = shown.stdout.partition("outputs:")[0]
    assert (shown.returncode, shown.stderr, tables_fit(tables)) == (0, "", True)
    steps = [
        ('news agent succeeded 1 {"headline": "Technology: markets stead…'),
        ('quotes map succeeded 1 [{"symbol": "ACME", "price": 575.1}, {"…'),
        ('quotes[0] agent succeeded 1 {"symbol": "ACME", "price": 575.1}'),
        ('quotes[1] agent succeeded 1 {"symbol": "GLOBEX", "price": 386.9}'),
        ('quotes[2] agent succeeded 1 {"symbol": "INITECH", "price": 444.21}'),
        ('quotes[3] agent succeeded 1 {"symbol": "UMBRELLA", "price": 334.99}'),
        ('report agent succeeded 1 {"count": 4, "total": 1741.2, "mean": 4…'),
    ]
    attempt = rf"1 succeeded \S+:\d+ {TOOK}"
    assert re.fullmatch(
        rf"run {run_id} market-report@1 · succeeded · started {WHEN} · took {TOOK} "
        r"steps step kind status tries result / error ─+ "
        + " ".join(re.escape(row) for row in steps)
        + r" attempts step try status worker took error ─+ "
        + " ".join(
            rf"{re.escape(key)} {attempt}"
            for key in ("news", *(f"quotes[{i}]" for i in range(4)), "quotes", "report")
        )
        + " outputs: report: 4 symbols \\(ACME, GLOBEX, INITECH, UMBRELLA\\) average 435.30. "
        "Technology: markets steady as agents take the baton mean: 435.3",
        said(shown.stdout),
    ), shown.stdout


def test_reviews_list_and_show_write_the_draft_out(sqlite_cli: Cli) -> None:
    waiting = sqlite_cli.json("run", *OUTREACH, code=3)
    run_id, review_id = waiting["run_id"], waiting["reviews"][0]["id"]

    listed, shown = sqlite_cli.all(["reviews", "list"], ["reviews", "show", short(review_id)])
    body = "".join(f"    {line}\n" if line else "\n" for line in DRAFT["body"].split("\n"))
    draft = f"  to: {DRAFT['to']}\n  subject: {DRAFT['subject']}\n  body:\n{body}"
    assert (listed.returncode, listed.stderr) == (0, "")
    head, _, hint = listed.stdout.partition(draft)
    assert re.fullmatch(
        rf"{short(review_id)}  review of step 'approve' · run {short(run_id)} · {AGO}\n", head
    ), listed.stdout
    assert said(hint) == (
        "decide with: batonflow reviews approve <id> (or reject, edit --data '{...}'); "
        "an input step: batonflow reviews submit <id> --data '{...}'"
    )

    assert (shown.returncode, shown.stderr) == (0, "")
    head, _, hint = shown.stdout.partition(draft)
    assert re.fullmatch(
        rf"review {review_id}\nstep 'approve' \(attempt 1\) of run {run_id}\n"
        rf"pending · requested {WHEN} \({AGO}\) · reviewers: reviewer, admin\n"
        r"instructions: Check the email before it goes out\. Edit it if the tone is off\.\n"
        r"subject:\n",
        head,
    ), shown.stdout
    assert said(hint) == (
        f"decide with: batonflow reviews approve {short(review_id)} (or reject "
        f"{short(review_id)}, edit {short(review_id)} --data '{{...}}')"
    )
    # The whole record stays a flag away, for scripts.
    assert sqlite_cli.json("reviews", "show", review_id)["subject"] == DRAFT


def test_a_map_item_with_bad_args_fails_the_run_naming_the_item(cli: Cli) -> None:
    bad = ["run", "market-report", "-i", "delay_ms=0", "-i", 'symbols=["ACME", ""]']
    as_json, as_text = cli.all([*bad, "--json"], bad)
    message = (
        "args for 'quote.price' do not fit Symbol: symbol: String should have at least 1 character"
    )
    item_error = {
        "code": "invalid_args",
        "message": message,
        "details": {
            "errors": [
                {
                    "input": "",
                    "loc": ["symbol"],
                    "msg": "String should have at least 1 character",
                    "type": "string_too_short",
                }
            ]
        },
    }
    assert (as_json.returncode, as_json.stderr) == (1, "")
    # Invalid args are no failure a retry would fix: the run is failed, not dead.
    assert json.loads(as_json.stdout) == {
        "run_id": json.loads(as_json.stdout)["run_id"],
        "status": "failed",
        "outputs": None,
        "error": {
            "code": "step_failed",
            "message": f'1 of 2 map items failed; item 1 (""): invalid_args: {message}',
            "details": {
                "failed_items": [{"index": 1, "item": "", "attempts": 1, "error": item_error}],
                "items": 2,
            },
            "step": "quotes",
        },
        "reviews": [],
    }
    # No traceback: the failure is the input's, and it is reported as such.
    assert (as_text.returncode, as_text.stderr) == (1, "")
    assert said(as_text.stdout).endswith(
        f"failed at step 'quotes': step_failed: 1 of 2 map items failed; item 1 (\"\"): "
        f"invalid_args: {message} "
        f'item 1 (""), 1 attempt: invalid_args: {message}'
    )


def test_the_dead_letter_list_and_dismissing_a_dead_run(sqlite_cli: Cli, tmp_path: Path) -> None:
    spec = tmp_path / "doomed.yaml"
    spec.write_text(DOOMED)
    run_id = sqlite_cli.json("run", spec, code=1)["run_id"]

    dead = sqlite_cli("runs", "list", "--dead")
    assert (dead.returncode, dead.stderr) == (0, "")
    assert re.fullmatch(
        rf"{short(run_id)} doomed@1 died {AGO} "
        r"step 'boom' after 2 attempts; last: step_failed: kaboom "
        r"retry one with: batonflow runs retry <id> · "
        r"drop it with: batonflow runs dismiss <id>",
        said(dead.stdout),
    ), dead.stdout

    dismissed = sqlite_cli("runs", "dismiss", short(run_id), "--reason", "supplier gone")
    assert (dismissed.returncode, dismissed.stdout, dismissed.stderr) == (
        0,
        f"run {run_id} dismissed (cancelled)\n",
        "",
    )
    assert said(sqlite_cli("runs", "list", "--dead").stdout) == "the dead-letter list is empty"
    shown = sqlite_cli.json("runs", "show", run_id)
    # It keeps what it died of.
    assert (shown["status"], shown["error"]) == ("cancelled", KABOOM | {"step": "boom"})

    again = sqlite_cli("runs", "dismiss", run_id)
    assert (again.returncode, again.stdout) == (2, "")
    assert said(again.stderr) == (
        f"error (conflict): run {run_id} is cancelled; only dead runs can be dismissed "
        "(cancel a queued, running or waiting run instead)"
    )


def test_help_lists_every_command_as_the_command_describes_itself(sqlite_cli: Cli) -> None:
    done = sqlite_cli("--help")
    assert (done.returncode, done.stderr) == (0, "")
    for name, (module, attribute, help_) in cli_main.COMMANDS.items():
        assert f"│ {name} " in done.stdout
        command = cli_main.to_click(name, getattr(__import__(module, fromlist=["_"]), attribute))
        assert said(command.help or "").startswith(said(help_)), name
    for app in ("demo", "portfolio", "scoping"):
        assert f"│ {app} " in done.stdout
    assert said(sqlite_cli("demo", "--help").stdout).startswith("Usage: batonflow demo")


@pytest.mark.parametrize("argv", [["--help"], ["runs", "list", "--help"], ["run", "--help"]])
def test_help_loads_neither_the_database_layer_nor_the_apps(argv: list[str]) -> None:
    """What makes a command start at once: help imports only the command's own module."""
    probe = (
        "import sys\n"
        "from batonflow.cli.main import main\n"
        f"sys.argv = ['batonflow', *{argv!r}]\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = ('sqlalchemy', 'batonflow.platform', 'batonflow.apps', 'batonflow.store',"
        " 'batonflow.settings', 'fastapi', 'jinja2')\n"
        "print(sorted({m.split('.')[0] if m.startswith(('sqlalchemy', 'fastapi', 'jinja2')) "
        "else m for m in sys.modules if m.startswith(heavy)}), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [str(BATONFLOW.parent / "python"), "-c", probe],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert (done.returncode, done.stderr) == (0, "[]\n")


def test_to_click_keeps_a_groups_commands() -> None:
    group = typer.Typer()
    group.command("one")(lambda: None)
    group.command("two")(lambda: None)
    command = cli_main.to_click("pair", group)
    assert (command.name, sorted(command.commands)) == ("pair", ["one", "two"])
