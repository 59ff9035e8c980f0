"""Real worker processes on the machine's real brokers: Redis (6379) and RabbitMQ (5672).

Every test gets queue names of its own (a random suffix), so tests running at once never share a
queue, and deletes its queues at the end. Redis tests use database 11 (override the brokers with
BATONFLOW_TEST_REDIS and BATONFLOW_TEST_AMQP).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from kombu import Connection
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from batonflow.runs.run import RunStatus
from batonflow.store import migrate
from batonflow.store.db import create_engine, reading
from batonflow.store.tables import Attempt, Run, Step
from tests.cli.conftest import Cli, environment
from tests.conftest import installed_apps

REPO = Path(__file__).resolve().parents[2]
BATONFLOW = REPO / ".venv" / "bin" / "batonflow"
BROKERS = {
    "redis": os.environ.get("BATONFLOW_TEST_REDIS", "redis://127.0.0.1:6379/11"),
    "amqp": os.environ.get("BATONFLOW_TEST_AMQP", "amqp://guest:guest@127.0.0.1:5672//"),
}
SETTLED = {s.value for s in RunStatus if s.terminal} | {RunStatus.WAITING.value}


@pytest.fixture
async def store(
    db_url: str, engine: AsyncEngine, tmp_path: Path
) -> AsyncIterator[tuple[str, AsyncEngine]]:
    """An empty database at the newest migration, as a worker process expects it."""
    if engine.dialect.name != "sqlite":
        yield db_url, engine
        return
    url = f"sqlite:///{tmp_path / 'migrated' / 'batonflow.db'}"
    migrated = create_engine(url)
    await migrate.upgrade(migrated)
    yield url, migrated
    await migrated.dispose()


class Queues:
    """Queue names of one test on one broker, deleted at the end."""

    def __init__(self, broker: str) -> None:
        self.broker = broker
        self.url = BROKERS[broker]
        self.suffix = uuid.uuid4().hex[:8]
        self.names: list[str] = []

    def __call__(self, name: str) -> str:
        full = f"{name}.{self.suffix}"
        self.names.append(full)
        return full

    def depth(self, name: str) -> int:
        with Connection(self.url) as conn:
            channel = conn.channel()
            try:
                return int(channel.queue_declare(queue=name, passive=True).message_count)
            except Exception:
                return 0

    def delete(self) -> None:
        with Connection(self.url) as conn:
            for name in self.names:
                channel = conn.channel()
                with contextlib.suppress(Exception):
                    channel.queue_delete(name)


@pytest.fixture(params=sorted(BROKERS))
def queues(request: pytest.FixtureRequest) -> Iterator[Queues]:
    made = Queues(request.param)
    yield made
    made.delete()


class Workers:
    """Spawns `batonflow worker` processes and makes sure none outlives the test."""

    def __init__(self, url: str, tmp_path: Path, tenant: str) -> None:
        self.url = url
        self.tmp_path = tmp_path
        self.tenant = tenant
        self.apps = installed_apps(tmp_path / "apps", {"crash": "tests.workflows.crashapp:app"})
        self.procs: list[subprocess.Popen[bytes]] = []
        self.logs: list[Path] = []

    def spawn(self, *args: str, **env_vars: str) -> subprocess.Popen[bytes]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BATONFLOW_")}
        env |= {
            "BATONFLOW_DATABASE_URL": self.url,
            "BATONFLOW_DATA_DIR": str(self.tmp_path / "data"),
            "BATONFLOW_APPS": "demo,crash",
            "BATONFLOW_TENANT": self.tenant,
            "BATONFLOW_LEASE_SECONDS": "5",
            "BATONFLOW_HEARTBEAT_SECONDS": "1",
            "BATONFLOW_REAP_SECONDS": "0.5",
            "BATONFLOW_POLL_SECONDS": "0.05",
            "BATONFLOW_CONCURRENCY": "8",
            "BATONFLOW_SCHEDULER": "false",
            "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO), str(self.apps)]),
        }
        env |= {f"BATONFLOW_{k.upper()}": v for k, v in env_vars.items()}
        log = self.tmp_path / f"worker-{len(self.procs)}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [str(BATONFLOW), "worker", *args],
                env=env,
                cwd=REPO,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.procs.append(proc)
        self.logs.append(log)
        return proc

    def celery(self, queues: Queues, served: list[str], **env_vars: str) -> subprocess.Popen[bytes]:
        """A Celery worker serving `served` on the test's broker."""
        env_vars = {"executor": "celery", "broker_url": queues.url, **env_vars}
        return self.spawn("--queues", ",".join(served), "--grace", "0.5", **env_vars)

    def output(self) -> str:
        return "\n".join(f"--- {log.name}\n{log.read_text()}" for log in self.logs)

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


TENANT = "cluster-test"


@pytest.fixture
def workers(store: tuple[str, AsyncEngine], tmp_path: Path) -> Iterator[Workers]:
    spawned = Workers(store[0], tmp_path, TENANT)
    yield spawned
    spawned.close()


def worker_id(proc: subprocess.Popen[bytes]) -> str:
    """The id a worker records as lease owner (Settings.worker_id's default)."""
    return f"{socket.gethostname()}:{proc.pid}"


async def settled(
    engine: AsyncEngine, run_ids: list[str], workers: Workers, timeout: float = 60.0
) -> dict[str, str]:
    """Wait until every run is finished or waiting; their statuses."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        async with reading(engine) as conn:
            rows = await conn.execute(select(Run.id, Run.status).where(Run.id.in_(run_ids)))
            statuses = {row.id: row.status for row in rows}
        if len(statuses) == len(run_ids) and set(statuses.values()) <= SETTLED:
            return statuses
        for proc in workers.procs:
            if proc.poll() not in (None, 0):  # 0: a worker the test stopped
                pytest.fail(f"a worker exited early ({proc.returncode}):\n{workers.output()}")
        if loop.time() > deadline:
            pytest.fail(f"runs still going after {timeout}s: {statuses}\n{workers.output()}")
        await asyncio.sleep(0.05)


@pytest.fixture
def cluster_cli(db_url: str, engine: AsyncEngine, tmp_path: Path, queues: Queues) -> Cli:
    """The CLI as the operator of a Celery cluster has it: a migrated database (a SQLite file,
    or the test's PostgreSQL database) and the test's broker; no scheduler loop in workers."""
    data = tmp_path / "data"
    cli = Cli(environment(data), f"sqlite:///{data / 'batonflow.db'}")
    if engine.dialect.name != "sqlite":
        cli = Cli({**cli.env, "BATONFLOW_DATABASE_URL": db_url}, db_url)
    cli.env |= {
        "BATONFLOW_EXECUTOR": "celery",
        "BATONFLOW_BROKER_URL": queues.url,
        "BATONFLOW_SCHEDULER": "false",
        "BATONFLOW_POLL_SECONDS": "0.1",
        "BATONFLOW_REPUBLISH_SECONDS": "5",
        "BATONFLOW_LOCAL_THREADS": "1",
    }
    assert cli("db", "upgrade").returncode == 0
    return cli


class Cluster:
    """`batonflow` processes of one environment (workers on queues, schedulers), each logging to
    a file, stopped at the end."""

    def __init__(self, cli: Cli, tmp_path: Path) -> None:
        self.cli = cli
        self.tmp_path = tmp_path
        self.procs: list[subprocess.Popen[bytes]] = []
        self.queues: dict[str, str] = {}  # what a queue is for -> its name
        self.served: dict[str, str] = {}  # queue -> the worker id of the process serving it

    def spawn(self, *args: str, **env: str) -> subprocess.Popen[bytes]:
        """`batonflow <args>`, with the settings `env` (names without the prefix) changed."""
        log = self.tmp_path / f"{args[0]}-{len(self.procs)}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [str(BATONFLOW), *args],
                env=self.cli.env | {f"BATONFLOW_{k.upper()}": v for k, v in env.items()},
                cwd=REPO,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.procs.append(proc)
        return proc

    def worker(self, *queues: str, **env: str) -> subprocess.Popen[bytes]:
        """A Celery worker serving `queues`."""
        proc = self.spawn("worker", "--queues", ",".join(queues), "--grace", "1", **env)
        self.served |= dict.fromkeys(queues, worker_id(proc))
        return proc

    def output(self) -> str:
        return "\n".join(
            f"--- {log.name}\n{log.read_text()}" for log in sorted(self.tmp_path.glob("*.log"))
        )

    async def wait(self, run_id: str, statuses: set[str], timeout: float = 240) -> str:
        """Wait until the run's status is one of `statuses`; that status."""
        status = ""
        for _ in range(int(timeout / 0.2)):
            rows = await self.cli.query(select(Run.status).where(Run.id == run_id))
            status = rows[0]["status"] if rows else "missing"
            if status in statuses:
                return status
            for proc in self.procs:
                if proc.poll() is not None:
                    pytest.fail(f"a process exited ({proc.returncode}):\n{self.output()}")
            await asyncio.sleep(0.2)
        pytest.fail(f"run {run_id} is still {status} after {timeout:.0f}s:\n{self.output()}")

    async def executed(self, run_id: str) -> list[tuple[str, str, str, str]]:
        """(step, queue, worker id, status) of each attempt of the run."""
        steps = await self.cli.query(select(Step.key, Step.queue).where(Step.run_id == run_id))
        queue = {row["key"]: row["queue"] for row in steps}
        attempts = await self.cli.query(
            select(Attempt.step_key, Attempt.worker, Attempt.status).where(Attempt.run_id == run_id)
        )
        return sorted(
            (row["step_key"], queue[row["step_key"]], row["worker"], row["status"])
            for row in attempts
        )

    def on(self, *placed: tuple[str, str, str]) -> list[tuple[str, str, str, str]]:
        """`executed` for (step, what its queue is for, attempt status)."""
        return [(key, self.queues[q], self.served[self.queues[q]], end) for key, q, end in placed]

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
