"""Shared fixtures. Every store-touching test runs twice: on SQLite and on PostgreSQL.

PostgreSQL is the machine's server on 127.0.0.1:5432 (override with BATONFLOW_TEST_PG, an admin
URL). Each test session creates its own database and drops it at the end.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from batonflow.agents.registry import Registry
from batonflow.apps.app import Apps, migration_branches
from batonflow.apps.demo import registry as demo_registry
from batonflow.runs.service import Actor, start_run
from batonflow.runs.state import RunRow
from batonflow.settings import Settings
from batonflow.store import migrate
from batonflow.store.db import create_engine
from batonflow.store.tables import Base
from batonflow.store.tenants import ensure_tenant
from batonflow.store.workflows import save_version
from batonflow.workflows.checkpoint import SpecCache
from batonflow.workflows.executor import Executor
from batonflow.workflows.validation import load_spec

PG_ADMIN = os.environ.get("BATONFLOW_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
BACKENDS = ["sqlite", "postgresql"]


def now() -> datetime:
    return datetime.now(UTC)


def installed_apps(folder: Path, apps: dict[str, str]) -> Path:
    """A folder that, on `sys.path` or `PYTHONPATH`, makes each app (name -> "module:attribute")
    look installed: a distribution whose entry points name them in the `batonflow.apps` group."""
    dist = folder / "batonflow_test_apps-0.0.dist-info"
    dist.mkdir(parents=True, exist_ok=True)
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: batonflow-test-apps\nVersion: 0.0\n", encoding="utf-8"
    )
    lines = ["[batonflow.apps]", *(f"{name} = {target}" for name, target in apps.items())]
    (dist / "entry_points.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


async def _create_pg_database(name: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def _drop_pg_database(name: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def pg_url(database: str) -> str:
    base = PG_ADMIN.rsplit("/", 1)[0]
    return f"{base}/{database}"


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A migrated PostgreSQL database for this test session: the core and every installed
    app's branch, as `batonflow db upgrade` migrates it."""
    name = f"batonflow_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    asyncio.run(_create_pg_database(name))

    async def upgrade() -> None:
        engine = create_engine(pg_url(name))
        await migrate.upgrade(engine, branches=migration_branches(Apps()))
        await engine.dispose()

    asyncio.run(upgrade())
    yield pg_url(name)
    asyncio.run(_drop_pg_database(name))


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'batonflow.db'}"
    return str(request.getfixturevalue("pg_database"))


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(db_url)
    async with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            await conn.run_sync(Base.metadata.create_all)
        else:
            names = ", ".join(t.name for t in Base.metadata.sorted_tables)
            await conn.execute(text(f"TRUNCATE {names} CASCADE"))
    yield engine
    await engine.dispose()


@pytest.fixture
def registry() -> Registry:
    return demo_registry()


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return Settings(
        data_dir=tmp_path,
        database_url=db_url,
        lease_seconds=5,
        heartbeat_seconds=1,
        reap_seconds=0.5,
        poll_seconds=0.05,
        worker_id="test-worker",
    )


@pytest.fixture
async def tenant(engine: AsyncEngine) -> str:
    async with engine.begin() as conn:
        return await ensure_tenant(conn, "acme", now())


@pytest.fixture
def specs() -> SpecCache:
    return SpecCache()


@pytest.fixture
def executor(
    engine: AsyncEngine, registry: Registry, settings: Settings, specs: SpecCache
) -> Iterator[Executor]:
    executor = Executor(engine, registry, settings, specs=specs, rand=lambda: 0.5)
    yield executor
    executor.close()


ACTOR = Actor("tester")


async def start(
    engine: AsyncEngine,
    tenant_id: str,
    spec_text: str,
    inputs: dict[str, Any] | None = None,
    registry: Registry | None = None,
    *,
    private_to: str | None = None,
) -> RunRow:
    """Store a workflow version and start a run of it, as a user would (as an app does, for
    `private_to`: a run private to that user)."""
    spec = load_spec(spec_text, "test.yaml", registry or demo_registry())
    async with engine.begin() as conn:
        version, _ = await save_version(conn, tenant_id, spec, spec_text, now())
        return await start_run(
            conn,
            tenant_id=tenant_id,
            version=version,
            inputs=inputs or {},
            actor=ACTOR,
            now=now(),
            private_to=private_to,
        )
