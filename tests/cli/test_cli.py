"""The `batonflow` command as a user drives it: real processes, on SQLite and on PostgreSQL.

On SQLite the CLI uses its own file in a fresh data directory (and migrates it on first use); on
PostgreSQL it uses the session's database, which the `engine` fixture has just emptied. The demo
agents are deterministic, so outputs are asserted whole.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from dirty_equals import IsDatetime, IsFloat, IsStr
from sqlalchemy import inspect, select

from batonflow.apps.app import Apps, installed, migration_branches
from batonflow.store import migrate
from batonflow.store.db import create_engine
from batonflow.store.tables import Base, Effect, table
from tests.cli.conftest import REPO, Cli, said

pytestmark = pytest.mark.slow

DEMO = "src/batonflow/apps/demo/workflows/"
EXAMPLES = ["market-report.yaml", "outreach.yaml"]  # in the demo app's workflows folder
OUTREACH = [
    "outreach",
    "-i",
    "name=Ada",
    "-i",
    "email=ada@example.com",
    "-i",
    "company=Initech",
]

IsId = IsStr(regex=r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# The CLI's one convention for times: UTC to the second, with a Z (cli/display.py).
IsIso = IsStr(regex=r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
IsWorker = IsStr(regex=r".+:\d+")

REPORT = (
    "4 symbols (ACME, GLOBEX, INITECH, UMBRELLA) average 435.30. "
    "Technology: markets steady as agents take the baton"
)
MARKET_OUTPUTS = {"mean": 435.3, "report": REPORT}
QUOTES = [
    {"symbol": "ACME", "price": 575.1},
    {"symbol": "GLOBEX", "price": 386.9},
    {"symbol": "INITECH", "price": 444.21},
    {"symbol": "UMBRELLA", "price": 334.99},
]
DRAFT = {
    "to": "ada@example.com",
    "subject": "Initech + Batonflow",
    "body": (
        "Hello Ada,\n\nTeams like Initech use Batonflow to run their agents reliably. "
        "We would like to offer you our starter guide.\n\nBest regards,\nThe Batonflow team"
    ),
}

DOOMED = """
id: doomed
version: 1
steps:
  - id: boom
    kind: agent
    capability: demo.fail
    args: {message: kaboom}
    retry: {max_attempts: 2, backoff: {initial: 0.01}}
  - id: after
    kind: agent
    capability: demo.sleep
    needs: [boom]
    args: {value: "{{ state.boom }}"}
outputs:
  after: "{{ state.after.value }}"
"""
KABOOM = {"code": "step_failed", "message": "kaboom", "details": {}}

BROKEN = """
id: broken
version: 1
steps:
  - id: fetch
    kind: agent
    capability: demo.slep
  - id: use
    kind: agent
    capability: demo.sleep
    needs: [fech]
"""
BROKEN_ISSUES = [
    "steps[1].needs: unknown step 'fech' (did you mean 'fetch'?)",
    "steps[0].capability: unknown capability 'demo.slep' (did you mean 'demo.sleep'?)",
]


def pending(key: str, kind: str = "agent") -> dict[str, Any]:
    return step(key, kind, "pending", 0, None)


def step(
    key: str, kind: str, status: str, attempt: int, result: Any, **extra: Any
) -> dict[str, Any]:
    return {
        "key": key,
        "kind": kind,
        "status": status,
        "attempt": attempt,
        "result": result,
        "error": None,
        "overridden_by": None,
        "override_reason": None,
    } | extra


def attempt(key: str, number: int, dispatch: int, status: str, error: Any = None) -> dict[str, Any]:
    return {
        "step": key,
        "attempt": number,
        "dispatch": dispatch,
        "status": status,
        "worker": IsWorker,
        "started_at": IsIso,
        "duration_ms": IsFloat(ge=0),
        "error": error,
    }


def by_key(steps: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Steps by key: `runs show` orders unstarted steps by the database's NULL ordering."""
    return {item["key"]: item for item in steps}


# -- workflows validate ------------------------------------------------------------------------


def test_validate_prints_one_ok_line_per_example(sqlite_cli: Cli, tmp_path: Path) -> None:
    done, as_json = sqlite_cli.all(
        ["workflows", "validate", *EXAMPLES],
        ["workflows", "validate", *EXAMPLES, "--json"],
        cwd=REPO / DEMO,
    )
    assert (done.returncode, done.stdout, done.stderr) == (
        0,
        "market-report.yaml: ok (market-report@1, 3 steps)\n"
        "outreach.yaml: ok (outreach@1, 4 steps)\n",
        "",
    )
    assert (as_json.returncode, as_json.stderr) == (0, "")
    assert json.loads(as_json.stdout) == [
        {
            "file": "market-report.yaml",
            "valid": True,
            "id": "market-report",
            "version": "1",
            "hash": IsStr(regex=r"sha256:[0-9a-f]{64}"),
        },
        {
            "file": "outreach.yaml",
            "valid": True,
            "id": "outreach",
            "version": "1",
            "hash": IsStr(regex=r"sha256:[0-9a-f]{64}"),
        },
    ]
    # Validating runs nothing and stores nothing.
    assert not (tmp_path / "data").exists()


def test_validate_reports_every_located_issue_and_exits_2(sqlite_cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text(BROKEN)
    (tmp_path / "unparsable.yaml").write_text("id: x\nsteps: [\n")
    outreach = REPO / DEMO / "outreach.yaml"

    done, as_json = sqlite_cli.all(
        ["workflows", "validate", "broken.yaml", "unparsable.yaml", outreach],
        ["workflows", "validate", "broken.yaml", "missing.yaml", "--json"],
        cwd=tmp_path,
    )
    assert done.returncode == 2
    assert said(done.stdout) == f"{outreach}: ok (outreach@1, 4 steps)"
    assert said(done.stderr) == said(
        "broken.yaml: invalid workflow\n"
        + "".join(f"  {issue}\n" for issue in BROKEN_ISSUES)
        + "unparsable.yaml: invalid workflow\n"
        "  line 3 column 1: expected the node content, but found '<stream end>'\n"
    )

    assert (as_json.returncode, as_json.stderr) == (2, "")
    report = json.loads(as_json.stdout)
    assert report == [
        {"file": "broken.yaml", "valid": False, "issues": BROKEN_ISSUES},
        {"file": "missing.yaml", "valid": False, "issues": ["No such file or directory"]},
    ]


# -- run, worker, runs list / show -------------------------------------------------------------


def test_run_here_or_detached_for_a_worker(cli: Cli) -> None:
    here = cli.json("run", "market-report", "-i", "delay_ms=0")
    assert here == {
        "run_id": IsId,
        "status": "succeeded",
        "outputs": MARKET_OUTPUTS,
        "error": None,
        "reviews": [],
    }

    detached = cli("run", "market-report", "--detach", "-i", "topic=tech")
    run_id = detached.stdout.strip()
    assert (detached.returncode, detached.stdout, detached.stderr) == (0, f"{run_id}\n", "")
    assert run_id == IsId
    inputs = {
        "symbols": ["ACME", "GLOBEX", "INITECH", "UMBRELLA"],
        "topic": "tech",
        "delay_ms": 200,
    }
    assert cli.json("runs", "show", run_id) == {
        "id": run_id,
        "workflow": "market-report@1",
        "status": "queued",
        "started_at": None,
        "finished_at": None,
        "duration_s": None,
        "inputs": inputs,
        "outputs": None,
        "error": None,
        "steps": [pending("news"), pending("quotes", "map"), pending("report")],
        "attempts": [],
    }
    assert cli.json("runs", "list", "--status", "queued") == [
        {
            "id": run_id,
            "workflow": "market-report@1",
            "status": "queued",
            "started_at": None,
            "finished_at": None,
            "duration_s": None,
        }
    ]

    worked = cli("worker", "--until-idle")
    assert (worked.returncode, worked.stdout) == (0, "")
    assert worked.stderr == IsStr(regex=r"worker (\S+) started\nworker \1 stopped\n")

    # Any unique prefix will do; ids are time-ordered, so runs made together share their start.
    shown = cli.json("runs", "show", run_id[:30])
    headline = "Tech: markets steady as agents take the baton"
    report = {
        "count": 4,
        "total": 1741.2,
        "mean": 435.3,
        "text": f"4 symbols (ACME, GLOBEX, INITECH, UMBRELLA) average 435.30. {headline}",
    }
    assert {k: v for k, v in shown.items() if k not in ("steps", "attempts")} == {
        "id": run_id,
        "workflow": "market-report@1",
        "status": "succeeded",
        "started_at": IsIso,
        "finished_at": IsIso,
        "duration_s": IsFloat(ge=0),
        "inputs": inputs,
        "outputs": {"mean": 435.3, "report": report["text"]},
        "error": None,
    }
    assert by_key(shown["steps"]) == {
        "news": step("news", "agent", "succeeded", 1, {"headline": headline}),
        "quotes": step("quotes", "map", "succeeded", 1, QUOTES),
        "report": step("report", "agent", "succeeded", 1, report),
        **{
            f"quotes[{i}]": step(f"quotes[{i}]", "agent", "succeeded", 1, quote)
            for i, quote in enumerate(QUOTES)
        },
    }
    assert sorted(shown["attempts"], key=lambda a: a["step"]) == [
        attempt("news", 1, 1, "succeeded"),
        attempt("quotes", 1, 1, "succeeded"),
        *[attempt(f"quotes[{i}]", 1, 1001, "succeeded") for i in range(4)],
        attempt("report", 1, 1, "succeeded"),
    ]

    def summary(run_id: str) -> dict[str, Any]:
        return {
            "id": run_id,
            "workflow": "market-report@1",
            "status": "succeeded",
            "started_at": IsIso,
            "finished_at": IsIso,
            "duration_s": IsFloat(ge=0),
        }

    # Newest first.
    assert cli.json("runs", "list", "--status", "succeeded") == [
        summary(run_id),
        summary(here["run_id"]),
    ]
    assert cli.json("runs", "list", "--status", "queued") == []


UNKNOWN_INPUT = (
    "error (input_invalid): workflow 'outreach' has no input 'nickname' "
    "(inputs: name, email, company, employees, budget)"
)


def test_bad_inputs_exit_2_with_a_clear_message_and_start_nothing(cli: Cli) -> None:
    unknown = cli("run", *OUTREACH, "-i", "nickname=Ace")
    assert (unknown.returncode, unknown.stdout, said(unknown.stderr)) == (2, "", UNKNOWN_INPUT)
    outcomes = cli.all(
        ["run", *OUTREACH, "-i", "employees=many"],
        ["run", *OUTREACH, "-i", 'employees="many"'],
        ["run", *OUTREACH, "-i", "employees"],
        ["runs", "show", "0123456789"],
    )
    assert [(done.returncode, done.stdout, said(done.stderr)) for done in outcomes] == [
        (
            2,
            "",
            "error (input_invalid): --input employees: 'many' is not a valid integer "
            "(write it as JSON)",
        ),
        (
            2,
            "",
            "error (input_invalid): workflow 'outreach' rejects these inputs: "
            "inputs.employees: 'many' is not of type 'integer'",
        ),
        (2, "", "error (input_invalid): --input takes key=value, got 'employees'"),
        (2, "", "error (not_found): no run '0123456789'"),
    ]
    assert cli.json("runs", "list") == []


def test_unknown_input_lists_the_inputs_as_declared_every_time(cli: Cli) -> None:
    for _ in range(2):  # the first run stores the workflow version, the second finds it
        done = cli("run", *OUTREACH, "-i", "nickname=Ace")
        assert (done.returncode, said(done.stderr)) == (2, UNKNOWN_INPUT)


def test_error_messages_keep_square_brackets(sqlite_cli: Cli) -> None:
    done = sqlite_cli("run", *OUTREACH, "-i", "employees=[oops]")
    assert done.returncode == 2
    assert said(done.stderr) == (
        "error (input_invalid): --input employees: '[oops]' is not a valid integer "
        "(write it as JSON)"
    )


# -- reviews -----------------------------------------------------------------------------------


async def test_review_approve_finishes_the_run_and_sends_once(cli: Cli) -> None:
    waiting = cli.json("run", *OUTREACH, code=3)
    run_id = waiting["run_id"]
    assert waiting == {
        "run_id": IsId,
        "status": "waiting",
        "outputs": None,
        "error": None,
        "reviews": [{"id": IsId, "step": "approve", "kind": "review"}],
    }
    review_id = waiting["reviews"][0]["id"]
    assert cli.json("reviews", "list") == [
        {
            "id": review_id,
            "run_id": run_id,
            "step": "approve",
            "kind": "review",
            "subject": DRAFT,
            "reviewers": ["reviewer", "admin"],
            "created_at": IsIso,
        }
    ]

    approved = cli.json("reviews", "approve", review_id)
    assert approved == {
        "run_id": run_id,
        "status": "succeeded",
        "outputs": {"tier": "C", "score": 32, "message_id": f"{run_id}:send:1"},
        "error": None,
        "reviews": [],
    }
    assert cli.json("reviews", "list") == []
    assert cli.json("demo", "outbox") == [
        {"key": f"{run_id}:send:1", "run_id": run_id, **DRAFT, "sent_at": IsIso}
    ]
    outbox = cli("demo", "outbox")
    assert said(outbox.stdout) == IsStr(
        regex=rf"sent to subject run ─+ (just now|\d+ s ago) ada@example.com "
        rf"Initech \+ Batonflow {run_id[-12:]}"
    )
    assert await cli.query(select(table(Effect))) == [
        {
            "tenant_id": IsId,
            "key": f"{run_id}:send:1",
            "kind": "email",
            "payload": DRAFT,
            "run_id": run_id,
            "created_at": IsDatetime(),
        }
    ]

    again = cli("reviews", "approve", review_id, "--json")
    assert (again.returncode, again.stdout) == (2, "")
    assert said(again.stderr) == (
        f"error (conflict): review {review_id} was already decided (approved by cli); "
        "a decision applies once"
    )
    # The refused decision sent nothing more.
    assert len(await cli.query(select(table(Effect)))) == 1


def test_a_refused_decision_does_not_claim_it_was_made(sqlite_cli: Cli) -> None:
    review_id = sqlite_cli.json("run", *OUTREACH, code=3)["reviews"][0]["id"]
    assert sqlite_cli("reviews", "approve", review_id, "--json").returncode == 0
    again = sqlite_cli("reviews", "approve", review_id)
    assert (again.returncode, again.stdout) == (2, "")


def test_run_refuses_a_run_over_the_tenant_quota_as_the_api_does(sqlite_cli: Cli) -> None:
    sqlite_cli.env["BATONFLOW_TENANT_MAX_ACTIVE_RUNS"] = "1"
    waiting = sqlite_cli.json("run", *OUTREACH, code=3)
    refused = sqlite_cli("run", "market-report", "--detach")
    assert (refused.returncode, refused.stdout) == (2, "")
    assert said(refused.stderr) == (
        "error (quota_exceeded): this tenant already has 1 queued, running or waiting runs "
        "(the limit is 1); wait for some to finish or cancel them"
    )
    assert [run["id"] for run in sqlite_cli.json("runs", "list")] == [waiting["run_id"]]


def test_cancel_a_waiting_run(cli: Cli) -> None:
    run_id = cli.json("run", *OUTREACH, code=3)["run_id"]

    cancelled = cli("runs", "cancel", run_id[:10], "--reason", "not needed")
    assert (cancelled.returncode, cancelled.stdout, cancelled.stderr) == (
        0,
        f"run {run_id} cancelled\n",
        "",
    )
    shown = cli.json("runs", "show", run_id)
    assert (shown["status"], shown["finished_at"], shown["outputs"], shown["error"]) == (
        "cancelled",
        IsIso,
        None,
        None,
    )
    assert by_key(shown["steps"]) == {
        "score": step("score", "agent", "succeeded", 1, {"score": 32, "tier": "C"}),
        "draft": step("draft", "agent", "succeeded", 1, DRAFT),
        "approve": step("approve", "review", "cancelled", 1, None),
        "send": step("send", "tool", "cancelled", 0, None),
    }
    assert cli.json("reviews", "list") == []

    again = cli("runs", "cancel", run_id)
    assert (again.returncode, again.stdout) == (2, "")
    assert said(again.stderr) == (
        f"error (conflict): run {run_id} is already cancelled; "
        "only queued, running or waiting runs can be cancelled"
    )


# -- dead runs: retry and override -------------------------------------------------------------


def dead_summary(run_id: str, attempts: int) -> dict[str, Any]:
    """A run on the dead-letter list: where it stopped, after how many attempts, and the last
    attempt's error."""
    return {
        "id": run_id,
        "workflow": "doomed@1",
        "status": "dead",
        "started_at": IsIso,
        "finished_at": IsIso,
        "duration_s": IsFloat(ge=0),
        "failed_step": "boom",
        "attempts": attempts,
        "error": KABOOM,
    }


def test_dead_run_retry_and_override(cli: Cli, tmp_path: Path) -> None:
    spec = tmp_path / "doomed.yaml"
    spec.write_text(DOOMED)
    dead = cli.json("run", spec, code=1)
    run_id = dead["run_id"]
    assert dead == {
        "run_id": IsId,
        "status": "dead",
        "outputs": None,
        "error": KABOOM | {"step": "boom"},
        "reviews": [],
    }
    assert cli.json("runs", "list", "--dead") == [dead_summary(run_id, 2)]

    # The retry is one more attempt, and it fails too.
    assert cli.json("runs", "retry", run_id, code=1) == dead
    shown = cli.json("runs", "show", run_id)
    assert shown["status"] == "dead"
    assert by_key(shown["steps"]) == {
        "boom": step("boom", "agent", "failed", 3, None, error=KABOOM),
        "after": pending("after"),
    }
    assert shown["attempts"] == [attempt("boom", n, n, "failed", KABOOM) for n in (1, 2, 3)]
    assert cli.json("runs", "list", "--dead") == [dead_summary(run_id, 3)]

    overridden = cli.json(
        "runs", "override", run_id, "boom", "--output", "{}", "--reason", "manual"
    )
    # Whether the run keeps its old error is test_override_clears_the_run_error's business.
    assert {k: v for k, v in overridden.items() if k != "error"} == {
        "run_id": run_id,
        "status": "succeeded",
        "outputs": {"after": {}},
        "reviews": [],
    }
    shown = cli.json("runs", "show", run_id)
    assert shown["status"] == "succeeded"
    assert shown["outputs"] == {"after": {}}
    assert by_key(shown["steps"]) == {
        "boom": step(
            "boom", "agent", "succeeded", 3, {}, overridden_by="cli", override_reason="manual"
        ),
        "after": step("after", "agent", "succeeded", 1, {"value": {}, "slept_ms": 0}),
    }
    assert shown["attempts"] == [
        *[attempt("boom", n, n, "failed", KABOOM) for n in (1, 2, 3)],
        attempt("after", 1, 1, "succeeded"),
    ]
    assert cli.json("runs", "list", "--dead") == []

    no_reason = cli("runs", "override", run_id, "boom", "--output", "{}", "--reason", " ")
    assert (no_reason.returncode, no_reason.stdout) == (2, "")
    assert said(no_reason.stderr) == (
        "error (input_invalid): an override needs a reason; say why the output is set by hand"
    )


def test_override_clears_the_run_error(sqlite_cli: Cli, tmp_path: Path) -> None:
    spec = tmp_path / "doomed.yaml"
    spec.write_text(DOOMED)
    run_id = sqlite_cli.json("run", spec, code=1)["run_id"]
    overridden = sqlite_cli.json(
        "runs", "override", run_id, "boom", "--output", "{}", "--reason", "manual"
    )
    assert overridden == {
        "run_id": run_id,
        "status": "succeeded",
        "outputs": {"after": {}},
        "error": None,
        "reviews": [],
    }


# -- db ----------------------------------------------------------------------------------------


async def test_db_upgrade(cli: Cli, tmp_path: Path) -> None:
    if cli.url.startswith("sqlite"):
        assert not (tmp_path / "data").exists()  # a fresh data directory, no database yet

    for _ in range(2):  # the second time there is nothing to do
        done = cli("db", "upgrade")
        assert (done.returncode, done.stderr) == (0, "")

    engine = create_engine(cli.url)
    try:
        # The core's head, and each installed app's branch (which records its own head alone).
        now_at = await migrate.current(engine)
        assert await migrate.is_current(engine, migration_branches(Apps()))
        async with engine.connect() as conn:
            names = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
    finally:
        await engine.dispose()
    assert done.stdout == f"database at {now_at}\n"
    apps = tuple(f"{name}_" for name in installed())
    # Retrieval's search indexes live beside the tables: on SQLite an FTS5 table and a vec0
    # table (with their shadow tables), on PostgreSQL a vector table where pgvector exists.
    search = ("kb_fts", "kb_vec_", "kb_vectors")
    core = [name for name in names if not name.startswith((*apps, *search))]
    assert sorted(core) == sorted([*Base.metadata.tables, "alembic_version"])
    if cli.url.startswith("sqlite"):
        assert {"kb_fts", "kb_vec_384"} <= set(names)
