"""The gateway's commands as a user drives them: the local-model example, prompts, the tenant's
policy, a run's model calls; real processes, on SQLite and on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from dirty_equals import IsDatetime, IsFloat, IsPositiveInt, IsStr

from tests.cli.conftest import Cli, said

pytestmark = pytest.mark.slow


def test_the_lead_brief_example_runs_on_the_local_model_and_lists_its_calls(cli: Cli) -> None:
    done = cli.json("run", "lead-brief", "-i", "company=Analytical Engines")
    assert done["status"] == "succeeded"
    # The score and the fit label come from code; the model writes the subject line and the
    # brief's opening sentence.
    assert done["outputs"] == {
        "score": 75,
        "fit": "good",
        "subject": IsStr(min_length=1),
        "brief": IsStr(
            regex=r"Analytical Engines: a good fit, scored 75/100 \(450 employees, a budget of "
            r"60000(\.0)?\)\.\nOpening line: .+"
        ),
    }
    calls = cli.json("runs", "calls", done["run_id"])
    assert sorted((c["step_key"], c["provider"], c["model"], c["status"]) for c in calls) == [
        ("brief", "local", "smollm2", "ok"),
        ("subject", "local", "smollm2", "ok"),
    ]
    calls.sort(key=lambda c: c["step_key"])
    assert calls[0] == calls[0] | {
        "route": "default",
        "hop": 0,
        "attempt": 1,
        "retries": 0,
        "input_tokens": IsPositiveInt(),
        "output_tokens": IsPositiveInt(),
        "cost_usd": "0",
        "latency_ms": IsFloat(gt=0),
        "prompt_hash": IsStr(regex=r"sha256:[0-9a-f]{64}"),
        "request_body": None,  # the tenant has not enabled body logging
        "created_at": IsDatetime(iso_string=True),
    }
    table = cli("runs", "calls", done["run_id"][-8:])
    assert table.returncode == 0
    assert "2 calls, total $0" in said(table.stdout)


def test_prompts_set_list_show_and_diff(cli: Cli, tmp_path: Path) -> None:
    template = tmp_path / "greet.txt"
    template.write_text("Hello {{ name }},\nwelcome to {{ team }}.\n")
    first = cli("prompts", "set", "greet", "--var", "name", "--template", "Hi {{ name }}")
    same = cli("prompts", "set", "greet", "--var", "name", "--template", "Hi {{ name }}")
    second = cli("prompts", "set", "greet", "--var", "name", "--var", "team", "--file", template)
    assert [(d.returncode, d.stdout.strip()) for d in (first, same, second)] == [
        (0, "prompt greet: stored v1"),
        (0, "prompt greet: unchanged, newest is v1"),
        (0, "prompt greet: stored v2"),
    ]
    assert cli.json("prompts", "list") == [
        {
            "key": "greet",
            "version": 2,
            "description": "",
            "variables": ["name", "team"],
            "system": None,
            "template": "Hello {{ name }},\nwelcome to {{ team }}.\n",
            "content_hash": IsStr(regex=r"sha256:[0-9a-f]{64}"),
            "created_by": "cli",
            "created_at": IsDatetime(iso_string=True),
        }
    ]
    assert cli.json("prompts", "show", "greet", "--version", "1")["template"] == "Hi {{ name }}"
    diff = cli("prompts", "show", "greet", "--diff", "1")
    assert diff.stdout.splitlines() == [
        "--- greet v1",
        "+++ greet v2",
        "@@ -1 +1,2 @@",
        "-Hi {{ name }}",
        "+Hello {{ name }},",
        "+welcome to {{ team }}.",
    ]


def test_a_prompt_reading_an_undeclared_variable_is_refused(sqlite_cli: Cli) -> None:
    done = sqlite_cli("prompts", "set", "greet", "--template", "Hi {{ name }}")
    assert done.returncode == 2
    assert said(done.stderr) == (
        "error (input_invalid): prompt 'greet' is invalid: template: reads 'name', which is not "
        "a declared variable (add 'name' to the prompt's variables)"
    )
    missing = sqlite_cli("prompts", "show", "nope")
    assert (missing.returncode, said(missing.stderr)) == (
        2,
        "error (not_found): no prompt 'nope'",
    )


def test_tenant_policy_set_and_show(cli: Cli) -> None:
    done = cli("tenant", "set", "--budget-usd", "12.50", "--budget-tokens", "1000", "--log-bodies")
    assert done.returncode == 0, done.stderr
    assert cli.json("tenant", "show") == {
        "tenant": "default",
        "log_bodies": True,
        "monthly_budget_tokens": 1000,
        "monthly_budget_usd": "12.5",
        "month_tokens": 0,
        "month_cost_usd": "0",
    }
    cleared = cli("tenant", "set", "--budget-usd", "none", "--no-log-bodies")
    assert cleared.returncode == 0
    shown = cli.json("tenant", "show")
    assert (shown["log_bodies"], shown["monthly_budget_usd"], shown["monthly_budget_tokens"]) == (
        False,
        None,
        1000,
    )


def test_tenant_set_refuses_bad_caps(sqlite_cli: Cli) -> None:
    bad = sqlite_cli("tenant", "set", "--budget-usd", "lots")
    negative = sqlite_cli("tenant", "set", "--budget-tokens", "-5")
    nothing = sqlite_cli("tenant", "set")
    assert [(d.returncode, said(d.stderr)) for d in (bad, negative, nothing)] == [
        (2, "error (input_invalid): --budget-usd takes a number or 'none', got 'lots'"),
        (
            2,
            "error (input_invalid): --budget-tokens must be above zero (or 'none' to remove "
            "the cap)",
        ),
        (
            2,
            "error (input_invalid): nothing to change: give --log-bodies, --budget-tokens or "
            "--budget-usd",
        ),
    ]


def test_a_monthly_token_cap_stops_a_run_before_it_calls_the_model(cli: Cli) -> None:
    assert cli("tenant", "set", "--budget-tokens", "50").returncode == 0
    done = cli.json("run", "lead-brief", "-i", "company=Initech", code=1)
    assert (done["status"], done["error"]["code"], done["error"]["step"]) == (
        "failed",  # a budget error is not retried
        "budget_exceeded",
        IsStr(regex="subject|brief"),
    )
    assert "the tenant's monthly cap of 50 tokens" in done["error"]["message"]
