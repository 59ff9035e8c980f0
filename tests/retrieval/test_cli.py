"""`batonflow kb` as a user runs it, on SQLite and on PostgreSQL with pgvector."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from sqlalchemy import text

from batonflow.apps.app import Apps, migration_branches
from batonflow.store import migrate
from batonflow.store.db import create_engine
from batonflow_testkit.fakeserver import FakeProvider
from tests.cli.conftest import Cli, environment, said
from tests.retrieval.conftest import KB_TABLES
from tests.retrieval.test_knowledge import ONBOARDING, PRICING

pytestmark = pytest.mark.slow


@pytest.fixture(params=["sqlite", "pgvector"])
async def kb_cli(request: pytest.FixtureRequest, tmp_path: Path) -> Cli:
    env = environment(tmp_path / "data")
    if request.param == "sqlite":
        return Cli(env, f"sqlite:///{tmp_path / 'data' / 'batonflow.db'}")
    url: str = request.getfixturevalue("pgvector_url")
    engine = create_engine(url)
    await migrate.upgrade(engine, branches=migration_branches(Apps()))  # every installed app's
    async with engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {KB_TABLES}, tenants CASCADE"))
    await engine.dispose()
    env["BATONFLOW_DATABASE_URL"] = url
    return Cli(env, url)


def files(tmp_path: Path) -> list[Path]:
    (tmp_path / "pricing.md").write_bytes(PRICING)
    (tmp_path / "onboarding.html").write_bytes(ONBOARDING)
    return [tmp_path / "pricing.md", tmp_path / "onboarding.html"]


def test_a_user_fills_a_knowledge_base_from_files_and_searches_it(
    kb_cli: Cli, tmp_path: Path
) -> None:
    created = kb_cli.json("kb", "create", "handbook", "--description", "How we work")
    assert {k: created[k] for k in ("name", "description", "documents", "chunks")} == {
        "name": "handbook",
        "description": "How we work",
        "documents": 0,
        "chunks": 0,
    }
    files(tmp_path)
    added = kb_cli("kb", "add", "handbook", "pricing.md", "onboarding.html", cwd=tmp_path)
    assert (added.returncode, added.stderr) == (0, ""), added.stdout
    lines = added.stdout.splitlines()
    assert [line.split(" (")[0] for line in lines] == [
        "pricing.md: indexed, 3 chunks",
        "onboarding.html: indexed, 2 chunks",
    ]
    again = kb_cli.json("kb", "add", "handbook", "pricing.md", cwd=tmp_path)
    assert [(r["outcome"], r["document"]["status"]) for r in again] == [("unchanged", "ready")]

    listed = kb_cli.json("kb", "list")
    assert [(r["name"], r["documents"], r["chunks"]) for r in listed] == [("handbook", 2, 5)]

    for mode in ("keyword", "vector", "hybrid"):
        found = kb_cli.json(
            "kb", "search", "handbook", "how fast does support answer", "--mode", mode, "-k", "2"
        )
        top = found[0]
        assert (top["title"], top["heading_path"], top["text"]) == (
            "onboarding.html",
            ["Getting started", "Support"],
            "Our support desk answers within four business hours.",
        ), mode
        assert top["citation"].endswith("-1")

    shown = kb_cli("kb", "search", "handbook", "starter plan price", "--mode", "keyword", "-k", "1")
    assert shown.returncode == 0, shown.stderr
    citation = kb_cli.json(
        "kb", "search", "handbook", "starter plan price", "--mode", "keyword", "-k", "1"
    )[0]["citation"]
    assert said(shown.stdout).startswith(
        f"1. [{citation}] pricing.md > Pricing > Starter plan (score "
    )
    assert said(shown.stdout).endswith(
        "The starter plan costs 20 dollars per month and covers up to five users."
    )


def test_wrong_input_exits_2_with_the_reason(kb_cli: Cli, tmp_path: Path) -> None:
    missing = kb_cli("kb", "search", "nowhere", "anything")
    assert (missing.returncode, said(missing.stderr)) == (
        2,
        "error (not_found): no knowledge base 'nowhere'",
    )
    kb_cli.json("kb", "create", "handbook")
    dup = kb_cli("kb", "create", "handbook")
    assert (dup.returncode, said(dup.stderr)) == (
        2,
        "error (conflict): a knowledge base named 'handbook' exists",
    )
    bad = tmp_path / "missing.md"
    good = files(tmp_path)[0]
    done = kb_cli("kb", "add", "handbook", bad, good, "--json")
    assert done.returncode == 1
    results = json.loads(done.stdout)
    assert [(r["file"], r["outcome"]) for r in results] == [
        (str(bad), "failed"),
        (str(good), "indexed"),
    ]
    assert results[0]["error"] == f"[Errno 2] No such file or directory: '{bad}'"


async def test_search_reranks_with_the_hosted_api_once_it_is_configured(
    kb_cli: Cli, tmp_path: Path
) -> None:
    async with FakeProvider() as server:
        await asyncio.to_thread(kb_cli.json, "kb", "create", "handbook")
        await asyncio.to_thread(
            kb_cli.json, "kb", "add", "handbook", *files(tmp_path), cwd=tmp_path
        )
        args = ("kb", "search", "handbook", "starter plan users", "--mode", "keyword")
        unset = await asyncio.to_thread(kb_cli, *args, "--rerank", "hosted")
        assert (unset.returncode, said(unset.stderr)) == (
            2,
            "error (input_invalid): this server has no hosted reranker "
            "(BATONFLOW_RERANK_BASE_URL is not set); use rerank 'local' or 'none'",
        )
        hosted = Cli({**kb_cli.env, "BATONFLOW_RERANK_BASE_URL": server.openai_url}, kb_cli.url)
        found = await asyncio.to_thread(hosted.json, *args, "--rerank", "hosted", "-k", "1")
    assert [(p["heading_path"], p["score"]) for p in found] == [(["Pricing", "Starter plan"], 1.0)]
    [asked] = server.requests
    assert (asked.path, asked.body["model"], asked.body["query"]) == (
        "/v1/rerank",
        "rerank-v3.5",
        "starter plan users",
    )
