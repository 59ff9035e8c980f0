"""The app seam, driven as an app author would: a tiny app in a temporary package, found through
its entry point, with its migration branch, workflow, route, settings and page; and switched off."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import inspect

from batonflow.api.app import create_app
from batonflow.apps.app import installed, load_apps, migration_branches
from batonflow.errors import ConfigError
from batonflow.settings import Settings
from batonflow.store import migrate
from batonflow.store.db import create_engine
from tests.api.conftest import PASSWORD, client_for
from tests.api.flows import settled
from tests.apps.tinyapp import write_tiny_app
from tests.cli.conftest import BATONFLOW, said


@pytest.fixture(scope="module")
def tiny_path(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The tiny app, installed for this module's tests."""
    folder = write_tiny_app(tmp_path_factory.mktemp("site"))
    sys.path.insert(0, str(folder))
    importlib.invalidate_caches()
    yield folder
    sys.path.remove(str(folder))
    sys.modules.pop("tinyapp", None)
    importlib.invalidate_caches()


def settings_for(tmp_path: Path, url: str, apps: list[str]) -> Settings:
    return Settings(
        dev=True,
        data_dir=tmp_path,
        database_url=url,
        poll_seconds=0.05,
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        apps=apps,
    )


async def migrated(url: str) -> None:
    """`batonflow db upgrade`: PostgreSQL is migrated on purpose, with every installed branch."""
    engine = create_engine(url)
    try:
        await migrate.upgrade(engine, branches=migration_branches(load_apps([])))
    finally:
        await engine.dispose()


@pytest.fixture
async def api(tiny_path: Path, fresh_url: str, tmp_path: Path) -> AsyncIterator[FastAPI]:
    await migrated(fresh_url)
    app = create_app(settings_for(tmp_path, fresh_url, ["demo", "tiny"]))
    async with app.router.lifespan_context(app):
        yield app


def test_installed_apps_are_found_by_their_entry_points(tiny_path: Path) -> None:
    apps = installed()

    assert sorted(apps) == ["demo", "portfolio", "sales", "scoping", "tiny"]
    assert apps["tiny"].title == "Tiny"
    assert [path.name for path in apps["tiny"].workflow_files()] == ["greet.yaml"]
    assert load_apps(None).names() == ["demo", "portfolio", "sales", "scoping", "tiny"]
    assert load_apps(["tiny"]).names() == ["tiny"]
    assert load_apps([]).names() == []


def test_an_unknown_app_is_a_config_error_naming_the_installed_ones(tiny_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_apps(["demo", "crm"])

    assert caught.value.message == (
        "BATONFLOW_APPS names 'crm', which is not installed; installed apps: demo, portfolio, sales, scoping, tiny"
    )


def test_an_apps_settings_come_from_its_environment_prefix(
    tiny_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BATONFLOW_TINY_GREETING", "ahoy")
    assert load_apps(["tiny"]).settings_of("tiny").greeting == "ahoy"

    monkeypatch.setenv("BATONFLOW_TINY_GREETING", "")
    with pytest.raises(ConfigError) as caught:
        load_apps(["tiny"])
    assert caught.value.message == (
        "the settings of the app 'tiny' are invalid: greeting: String should have at least 1 "
        "character"
    )


@pytest.mark.parametrize(
    ("value", "apps"),
    [("demo,tiny", ["demo", "tiny"]), (" tiny , ", ["tiny"]), ("", []), (None, None)],
)
def test_batonflow_apps_is_a_comma_separated_list(
    monkeypatch: pytest.MonkeyPatch, value: str | None, apps: list[str] | None
) -> None:
    if value is None:
        monkeypatch.delenv("BATONFLOW_APPS", raising=False)
    else:
        monkeypatch.setenv("BATONFLOW_APPS", value)

    assert Settings().apps == apps


async def test_the_migration_branch_is_applied_and_named(tiny_path: Path, fresh_url: str) -> None:
    await migrated(fresh_url)
    engine = create_engine(fresh_url)
    try:
        # The scoping branch depends on the core's head (0011), which it absorbs: Alembic
        # records the branches' heads alone, and they reach the core's head.
        assert await migrate.current(engine) == "portfolio_0001,sales_0006,scoping_0003,tiny_0001"
        branches = migration_branches(load_apps(["demo"]))
        assert migrate.head(branches) == "0011,portfolio_0001,sales_0006,scoping_0003,tiny_0001"
        assert await migrate.is_current(engine, branches)
        assert not await migrate.is_current(engine)
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
        assert "tiny_notes" in tables
        await migrate.downgrade(engine, "tiny@base", migration_branches(load_apps([])))
        assert await migrate.current(engine) == "portfolio_0001,sales_0006,scoping_0003"
    finally:
        await engine.dispose()


async def test_an_enabled_app_serves_its_route_workflow_and_page(
    api: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with client_for(api) as anonymous:
        registered = await anonymous.post(
            "/api/v1/auth/register",
            json={"tenant": "acme", "email": "a@acme.example", "password": PASSWORD, "name": "A"},
        )
        other = await anonymous.post(
            "/api/v1/auth/register",
            json={"tenant": "rival", "email": "r@rival.example", "password": PASSWORD, "name": "R"},
        )
    async with (
        client_for(api, registered.json()["access_token"]) as acme,
        client_for(api, other.json()["access_token"]) as rival,
    ):
        apps = (await acme.get("/api/v1/apps")).json()["items"]
        assert [(a["name"], a["api"], a["pages"]) for a in apps] == [
            (
                "demo",
                "/api/v1/demo",
                [{"key": "outbox", "title": "Outbox", "path": "/apps/demo/outbox"}],
            ),
            (
                "tiny",
                "/api/v1/tiny",
                [{"key": "notes", "title": "Notes", "path": "/apps/tiny/notes"}],
            ),
        ]

        # The app's workflow was stored in the new tenant and runs on the app's agent.
        workflows = (await acme.get("/api/v1/workflows")).json()["items"]
        assert sorted(w["workflow_id"] for w in workflows) == [
            "kb-answer",
            "lead-brief",
            "market-report",
            "outreach",
            "tiny-greet",
        ]
        started = await acme.post(
            "/api/v1/runs", json={"workflow_id": "tiny-greet", "inputs": {"name": "Ada"}}
        )
        assert started.status_code == 201, started.text
        run = await settled(acme, started.json()["id"], {"succeeded", "failed", "dead"})
        assert (run["status"], run["outputs"]) == ("succeeded", {"text": "greetings, Ada"})

        # The app's router, under /api/v1/tiny/, on the app's own table, per tenant.
        created = await acme.post("/api/v1/tiny/notes", json={"text": "first"})
        assert (created.status_code, created.json()) == (201, {"id": 1, "text": "first"})
        assert (await acme.get("/api/v1/tiny/notes")).json() == {
            "greeting": "hello",
            "items": [{"id": 1, "text": "first"}],
        }
        assert (await rival.get("/api/v1/tiny/notes")).json() == {"greeting": "hello", "items": []}
        bad = await acme.post("/api/v1/tiny/notes", json={"text": ""})
        assert bad.status_code == 422
        assert (await anonymous_get(api, "/api/v1/tiny/notes")) == 401

        # The app's route is documented like the core's.
        schema = (await acme.get("/openapi.json")).json()
        assert schema["paths"]["/api/v1/tiny/notes"]["get"]["x-scope"] == "runs:read"


async def anonymous_get(app: FastAPI, path: str) -> int:
    async with client_for(app) as anonymous:
        return (await anonymous.get(path)).status_code


async def test_a_disabled_app_is_absent_but_its_tables_stay(
    tiny_path: Path, fresh_url: str, tmp_path: Path
) -> None:
    await migrated(fresh_url)
    app = create_app(settings_for(tmp_path, fresh_url, ["demo"]))
    async with app.router.lifespan_context(app), client_for(app) as anonymous:
        registered = await anonymous.post(
            "/api/v1/auth/register",
            json={"tenant": "acme", "email": "a@acme.example", "password": PASSWORD, "name": "A"},
        )
        async with client_for(app, registered.json()["access_token"]) as acme:
            assert [a["name"] for a in (await acme.get("/api/v1/apps")).json()["items"]] == ["demo"]
            missing = await acme.get("/api/v1/tiny/notes")
            assert missing.status_code == 404
            workflows = (await acme.get("/api/v1/workflows")).json()["items"]
            assert "tiny-greet" not in {w["workflow_id"] for w in workflows}
            agents = (await acme.get("/api/v1/agents")).json()["items"]
            assert "tiny-greeter" not in {a["name"] for a in agents}
    engine = create_engine(fresh_url)
    try:
        assert await migrate.is_current(engine, migration_branches(load_apps([])))
    finally:
        await engine.dispose()


def batonflow(
    tiny_path: Path, tmp_path: Path, apps: str, *args: str
) -> subprocess.CompletedProcess[str]:
    """The `batonflow` command, as a user runs it, with the tiny app installed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATONFLOW_")}
    env |= {
        "BATONFLOW_DATA_DIR": str(tmp_path),
        "BATONFLOW_APPS": apps,
        "BATONFLOW_TINY_GREETING": "ahoy",
        "PYTHONPATH": str(tiny_path),
    }
    return subprocess.run(
        [str(BATONFLOW), *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_an_enabled_apps_commands_and_workflows_reach_the_cli(
    tiny_path: Path, tmp_path: Path
) -> None:
    greeting = batonflow(tiny_path, tmp_path, "demo,tiny", "tiny", "greeting")
    assert (greeting.returncode, greeting.stdout, greeting.stderr) == (0, "ahoy\n", "")

    done = batonflow(
        tiny_path, tmp_path, "demo,tiny", "run", "tiny-greet", "-i", "name=Ada", "--json"
    )
    assert (done.returncode, done.stderr) == (0, ""), done.stdout
    assert json.loads(done.stdout)["outputs"] == {"text": "greetings, Ada"}

    listed = batonflow(tiny_path, tmp_path, "demo,tiny", "workflows", "list", "--json")
    assert sorted(w["id"] for w in json.loads(listed.stdout)) == [
        "kb-answer",
        "lead-brief",
        "market-report",
        "outreach",
        "tiny-greet",
    ]


def test_a_disabled_apps_commands_are_absent(tiny_path: Path, tmp_path: Path) -> None:
    missing = batonflow(tiny_path, tmp_path, "demo", "tiny", "greeting")

    assert missing.returncode == 2
    assert "No such command 'tiny'" in missing.stderr


def test_an_unknown_app_stops_the_cli_with_the_installed_ones(
    tiny_path: Path, tmp_path: Path
) -> None:
    refused = batonflow(tiny_path, tmp_path, "demo,crm", "runs", "list")

    assert (refused.returncode, refused.stdout, said(refused.stderr)) == (
        2,
        "",
        "error (config_invalid): BATONFLOW_APPS names 'crm', which is not installed; installed "
        "apps: demo, portfolio, sales, scoping, tiny",
    )
