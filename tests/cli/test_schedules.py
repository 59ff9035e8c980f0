"""`batonflow schedules`, `batonflow hooks` and `batonflow scheduler`, as a user runs them, on
both databases: several scheduler processes racing on one database start one run per due time."""

from __future__ import annotations

import signal
import subprocess
import time
from collections import Counter

from dirty_equals import IsStr
from sqlalchemy import select

from batonflow.store.schedules import fires_t
from batonflow.store.tables import Run, table
from tests.cli.conftest import BATONFLOW, REPO, Cli, said

runs_t = table(Run)


async def test_scheduler_processes_racing_start_one_run_per_due_time(cli: Cli) -> None:
    added = cli.json(
        "schedules", "add", "tick", "market-report", "--every", "1", "-i", "delay_ms=0",
        "--catch-up", "all", "--catch-up-limit", "100",
    )  # fmt: skip
    assert added == {
        "id": IsStr(),
        "name": "tick",
        "workflow": "market-report",
        "when": "every 1s",
        "catch_up": "all",
        "paused": False,
        "upcoming": [IsStr(regex=r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")] * 3,
        "runs": [],
    }
    time.sleep(3)  # three or so due times pass with no scheduler running
    racing = cli.all(*[("scheduler", "--once")] * 3)
    assert [(done.returncode, done.stderr) for done in racing] == [(0, "")] * 3
    fires = await cli.query(select(fires_t.c.due_at, fires_t.c.run_id, fires_t.c.error))
    runs = await cli.query(select(runs_t.c.id, runs_t.c.ctx, runs_t.c.created_by))
    assert len(fires) >= 3
    assert all(fire["run_id"] and fire["error"] is None for fire in fires)
    assert sorted(run["id"] for run in runs) == sorted(fire["run_id"] for fire in fires)
    due = Counter(run["ctx"]["due_at"] for run in runs)
    assert set(due.values()) == {1}, due
    assert {run["created_by"] for run in runs} == {"schedule:tick"}
    fired = sum(int(done.stdout.split()[1]) for done in racing)
    assert fired == len(fires)

    listed = cli.json("schedules", "list")
    assert [(s["name"], len(s["runs"])) for s in listed] == [("tick", 3)]
    assert {run["due_at"][-1] for run in listed[0]["runs"]} == {"Z"}
    assert cli("schedules", "pause", "tick").stdout == "schedule tick paused\n"
    assert cli.json("schedules", "list")[0]["upcoming"] == []
    assert cli("schedules", "resume", "tick").stdout == "schedule tick resumed\n"
    assert cli("schedules", "delete", "tick").stdout == "schedule tick deleted\n"
    assert cli.json("schedules", "list") == []
    assert len(await cli.query(select(runs_t.c.id))) == len(runs)  # the runs stay


def test_a_bad_schedule_exits_2_saying_what_to_fix(sqlite_cli: Cli) -> None:
    bad = sqlite_cli("schedules", "add", "x", "market-report", "--cron", "0 9 * *")
    assert bad.returncode == 2
    assert "cron '0 9 * *' must have five fields" in said(bad.stderr)
    zone = sqlite_cli(
        "schedules", "add", "x", "market-report", "--cron", "0 9 * * *", "--tz", "Nowhere/Land"
    )
    assert (zone.returncode, "unknown time zone 'Nowhere/Land'" in said(zone.stderr)) == (2, True)
    missing = sqlite_cli("schedules", "pause", "nope")
    assert (missing.returncode, said(missing.stderr)) == (
        2,
        "error (not_found): no schedule 'nope'",
    )


def test_hooks_are_made_listed_rotated_and_deleted(sqlite_cli: Cli) -> None:
    made = sqlite_cli.json("hooks", "create", "crm", "market-report")
    assert made == {
        "id": IsStr(regex=r"hk_.{32}"),
        "name": "crm",
        "path": f"/api/v1/hooks/{made['id']}",
        "secret": IsStr(regex=r"whsec_.{43}"),
    }
    assert sqlite_cli.json("hooks", "list") == [
        {"id": made["id"], "name": "crm", "workflow": "market-report", "path": made["path"]}
    ]
    rotated = sqlite_cli.json("hooks", "rotate", made["id"])
    assert rotated["secret"] != made["secret"]
    assert sqlite_cli("hooks", "delete", made["id"]).stdout == "hook crm deleted\n"
    assert sqlite_cli.json("hooks", "list") == []


async def test_a_worker_fires_schedules_and_runs_what_they_start(cli: Cli) -> None:
    cli.json("schedules", "add", "tick", "market-report", "--every", "1", "-i", "delay_ms=0")
    env = cli.env | {"BATONFLOW_SCHEDULER_POLL_SECONDS": "0.2", "BATONFLOW_POLL_SECONDS": "0.1"}
    worker = subprocess.Popen(
        [str(BATONFLOW), "worker"],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        finished: list[dict[str, object]] = []
        while time.monotonic() < deadline and len(finished) < 2:
            time.sleep(0.5)
            finished = await cli.query(
                select(runs_t.c.id).where(
                    runs_t.c.created_by == "schedule:tick", runs_t.c.status == "succeeded"
                )
            )
    finally:
        worker.send_signal(signal.SIGTERM)
        _, err = worker.communicate(timeout=60)
    assert len(finished) >= 2, err
    assert worker.returncode == 0, err
