"""`batonflow audit list/export` as a user runs them, on both databases: what the CLI's own
actions recorded, filters, and an export that is recorded too."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

from dirty_equals import IsStr

from tests.cli.conftest import Cli, said
from tests.cli.test_cli import OUTREACH


def entry(action: str, target: str | None, details: dict[str, object]) -> dict[str, object]:
    return {
        "id": IsStr(),
        "created_at": IsStr(regex=r"^\d{4}-\d\d-\d\dT.*Z$"),
        "actor_kind": "local",
        "actor_id": None,
        "actor": "cli",
        "action": action,
        "target_kind": None if target is None else "run",
        "target_id": target,
        "client_address": None,
        "details": details,
    }


def test_the_clis_actions_are_listed_filtered_and_exported(cli: Cli, tmp_path: Path) -> None:
    run_id = cli.json("run", *OUTREACH, code=3)["run_id"]
    assert cli("runs", "cancel", run_id, "--reason", "not needed").returncode == 0

    cancel = entry("run.cancel", run_id, {"workflow_id": "outreach", "reason": "not needed"})
    assert cli.json("audit", "list") == [cancel]
    assert cli.json("audit", "list", "--action", "run.retry") == []
    assert cli.json("audit", "list", "--actor", "cli", "--since", "2020-01-01T00:00:00Z") == [
        cancel
    ]
    table = cli("audit", "list")
    assert table.returncode == 0
    assert "run.cancel" in said(table.stdout)
    # Times read as everywhere in the CLI: UTC to the second, with its zone.
    assert re.search(r"\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\b", said(table.stdout))

    exported = cli("audit", "export")
    assert exported.returncode == 0, exported.stderr
    lines = [json.loads(line) for line in exported.stdout.splitlines()]
    assert lines == [cancel, entry("audit.export", None, {"format": "jsonl"})]

    target = tmp_path / "audit.csv"
    as_csv = cli("audit", "export", "--format", "csv", "--action", "run.cancel", "-o", target)
    assert (as_csv.returncode, as_csv.stdout) == (0, "")
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))
    assert [(r["action"], r["target_id"], r["actor_kind"]) for r in rows] == [
        ("run.cancel", run_id, "local")
    ]
    assert [e["details"] for e in cli.json("audit", "list", "--action", "audit.export")] == [
        {"format": "csv", "action": "run.cancel"},
        {"format": "jsonl"},
    ]


def test_bad_filters_are_refused_with_what_to_fix(sqlite_cli: Cli) -> None:
    for args, message in (
        (("--action", "run.explode"), "error (input_invalid): 'run.explode' is not an audit"),
        (("--since", "yesterday"), "error (input_invalid): --since is not a time; write it like"),
        (("--since", "2026-01-01T00:00:00"), "error (input_invalid): since needs a time zone"),
    ):
        done = sqlite_cli("audit", "list", *args)
        assert done.returncode == 2, done.stderr
        assert said(done.stderr).startswith(message), done.stderr
