"""The durability proof, on both databases, with real worker processes.

A `batonflow worker` child process is killed with SIGKILL in the middle of twenty runs, twice;
a fresh `batonflow worker --until-idle` then finishes them. Every execution of a step appends a
line to a journal (synced to disk before the step returns), so the journal shows what ran, and
the database shows what was committed. No committed step may run again: the execution a step's
committed result names is the last one journalled for that step, and every other execution belongs
to a dispatch that was in flight when a worker died and that the reaper recorded as lost.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from dirty_equals import IsFloat
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from batonflow.agents.registry import build_registry
from batonflow.apps.demo import agents as demo
from batonflow.runs.service import Actor, start_run
from batonflow.store import migrate
from batonflow.store import runs as run_store
from batonflow.store.db import create_engine, reading
from batonflow.store.tables import Run, Step
from batonflow.store.tenants import ensure_tenant
from batonflow.store.workflows import save_version
from batonflow.workflows.validation import load_spec
from tests.conftest import installed_apps
from tests.workflows import crashapp

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
BATONFLOW = REPO / ".venv" / "bin" / "batonflow"
TENANT = "crash-test"
RUNS = 20

# fetch fans out to three parallel branches, which join; publish follows the join.
CRASH_WORKFLOW = """
id: crash-proof
version: 1
inputs:
  journal: {type: string}
steps:
  - id: fetch
    kind: agent
    capability: crash.work
    args: {journal: "{{ inputs.journal }}", ms: 40}
  - id: left
    kind: agent
    capability: crash.work
    needs: [fetch]
    args: {journal: "{{ inputs.journal }}", ms: 80}
  - id: middle
    kind: agent
    capability: crash.work
    needs: [fetch]
    args: {journal: "{{ inputs.journal }}", ms: 60}
  - id: right
    kind: agent
    capability: crash.work
    needs: [fetch]
    args: {journal: "{{ inputs.journal }}", ms: 20}
  - id: join
    kind: agent
    capability: crash.work
    needs: [left, middle, right]
    args: {journal: "{{ inputs.journal }}", ms: 30}
  - id: publish
    kind: agent
    capability: crash.work
    needs: [join]
    args: {journal: "{{ inputs.journal }}", ms: 50}
outputs:
  execution: "{{ state.publish.execution }}"
"""
STEPS = ["fetch", "left", "middle", "right", "join", "publish"]

NAP_WORKFLOW = """
id: nap
version: 1
steps:
  - id: nap
    kind: agent
    capability: demo.sleep
    args: {ms: 3000, value: rested}
  - id: wake
    kind: agent
    capability: demo.sleep
    needs: [nap]
    args: {value: "{{ state.nap.value }}"}
outputs:
  value: "{{ state.wake.value }}"
"""


def now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
async def store(
    db_url: str, engine: AsyncEngine, tmp_path: Path
) -> AsyncIterator[tuple[str, AsyncEngine]]:
    """An empty database at the newest migration, as a worker process expects it. PostgreSQL's
    comes truncated from `engine`; SQLite gets a fresh file migrated with Alembic."""
    if engine.dialect.name != "sqlite":
        yield db_url, engine
        return
    url = f"sqlite:///{tmp_path / 'migrated' / 'batonflow.db'}"
    migrated = create_engine(url)
    await migrate.upgrade(migrated)
    yield url, migrated
    await migrated.dispose()


class Workers:
    """Spawns `batonflow worker` processes and makes sure none outlives the test."""

    def __init__(self, url: str, tmp_path: Path) -> None:
        self.url = url
        self.tmp_path = tmp_path
        self.apps = installed_apps(tmp_path / "apps", {"crash": "tests.workflows.crashapp:app"})
        self.procs: list[subprocess.Popen[bytes]] = []
        self.logs: list[Path] = []

    def spawn(self, *args: str) -> subprocess.Popen[bytes]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BATONFLOW_")}
        env |= {
            "BATONFLOW_DATABASE_URL": self.url,
            "BATONFLOW_DATA_DIR": str(self.tmp_path / "data"),
            "BATONFLOW_APPS": "demo,crash",
            "BATONFLOW_TENANT": TENANT,
            "BATONFLOW_LEASE_SECONDS": "1.5",
            "BATONFLOW_HEARTBEAT_SECONDS": "0.3",
            "BATONFLOW_REAP_SECONDS": "0.3",
            "BATONFLOW_POLL_SECONDS": "0.05",
            "BATONFLOW_CONCURRENCY": "8",
            "PYTHONPATH": os.pathsep.join([str(REPO), str(self.apps)]),
        }
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

    def output(self) -> str:
        return "\n".join(f"--- {log.name}\n{log.read_text()}" for log in self.logs)

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=30)


@pytest.fixture
def workers(store: tuple[str, AsyncEngine], tmp_path: Path) -> Iterator[Workers]:
    spawned = Workers(store[0], tmp_path)
    yield spawned
    spawned.close()


def worker_id(proc: subprocess.Popen[bytes]) -> str:
    """The id a worker records as lease owner (Settings.worker_id's default)."""
    return f"{socket.gethostname()}:{proc.pid}"


async def wait_until(
    condition: Callable[[], Awaitable[bool]],
    proc: subprocess.Popen[bytes],
    workers: Workers,
    timeout: float = 30.0,
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await condition():
        if proc.poll() is not None:
            pytest.fail(f"the worker exited early ({proc.returncode}):\n{workers.output()}")
        if loop.time() > deadline:
            pytest.fail(f"gave up waiting after {timeout}s:\n{workers.output()}")
        await asyncio.sleep(0.02)


def wait_exit(proc: subprocess.Popen[bytes], workers: Workers, timeout: float) -> int:
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail(f"the worker did not exit within {timeout}s:\n{workers.output()}")


async def count_steps(engine: AsyncEngine, status: str) -> int:
    async with reading(engine) as conn:
        return int(
            await conn.scalar(select(func.count()).select_from(Step).where(Step.status == status))
            or 0
        )


async def count_runs(engine: AsyncEngine, status: str) -> int:
    async with reading(engine) as conn:
        return int(
            await conn.scalar(select(func.count()).select_from(Run).where(Run.status == status))
            or 0
        )


async def in_flight(engine: AsyncEngine) -> set[tuple[str, str, int, str | None]]:
    async with reading(engine) as conn:
        rows = await conn.execute(
            select(Step.run_id, Step.key, Step.dispatch, Step.lease_owner).where(
                Step.status == "running"
            )
        )
        return {(row.run_id, row.key, row.dispatch, row.lease_owner) for row in rows}


async def start_runs(
    engine: AsyncEngine, spec_text: str, inputs: dict[str, Any], count: int
) -> tuple[str, list[str]]:
    """Store the workflow and queue `count` runs of it, as `batonflow run --detach` would."""
    spec = load_spec(spec_text, "test.yaml", build_registry([*demo.AGENTS, *crashapp.app.agents]))
    async with engine.begin() as conn:
        tenant_id = await ensure_tenant(conn, TENANT, now())
        version, _ = await save_version(conn, tenant_id, spec, spec_text, now())
        runs = [
            await start_run(
                conn,
                tenant_id=tenant_id,
                version=version,
                inputs=inputs,
                actor=Actor("tester"),
                now=now(),
            )
            for _ in range(count)
        ]
    return tenant_id, [run.id for run in runs]


def read_journal(path: Path) -> dict[tuple[str, str], list[tuple[int, str, str]]]:
    """(run, step) -> [(attempt, idempotency key, execution token)] in the order they ran."""
    executions: dict[tuple[str, str], list[tuple[int, str, str]]] = defaultdict(list)
    for line in path.read_text().splitlines():
        run_id, step, attempt, key, execution = line.split(" ")
        executions[(run_id, step)].append((int(attempt), key, execution))
    return dict(executions)


async def test_sigkilled_workers_never_run_a_committed_step_again(
    store: tuple[str, AsyncEngine], workers: Workers, tmp_path: Path
) -> None:
    _, engine = store
    journal = tmp_path / "journal.log"
    tenant_id, run_ids = await start_runs(engine, CRASH_WORKFLOW, {"journal": str(journal)}, RUNS)
    total = RUNS * len(STEPS)

    killed: set[tuple[str, str, int, str | None]] = set()
    for threshold in (total // 6, total // 2):
        worker = workers.spawn()

        async def committed_enough(threshold: int = threshold) -> bool:
            return await count_steps(engine, "succeeded") >= threshold

        await wait_until(committed_enough, worker, workers)
        os.kill(worker.pid, signal.SIGKILL)
        assert wait_exit(worker, workers, 10) == -signal.SIGKILL
        # The kill landed mid-flight: steps were committed, runs were unfinished, and the dead
        # worker held leases on attempts it never finished.
        assert await count_steps(engine, "succeeded") >= threshold
        assert await count_runs(engine, "succeeded") < RUNS
        held = {item for item in await in_flight(engine) if item[3] == worker_id(worker)}
        assert held, workers.output()
        killed |= held

    final = workers.spawn("--until-idle")
    assert wait_exit(final, workers, 60) == 0, workers.output()

    async with reading(engine) as conn:
        runs = {run_id: await run_store.get_run(conn, tenant_id, run_id) for run_id in run_ids}
        steps = {run_id: await run_store.list_steps(conn, tenant_id, run_id) for run_id in run_ids}
        attempts = {
            run_id: await run_store.list_attempts(conn, tenant_id, run_id) for run_id in run_ids
        }
        events = {
            run_id: await run_store.list_events(conn, tenant_id, run_id) for run_id in run_ids
        }

    assert {run.status.value for run in runs.values()} == {"succeeded"}, workers.output()
    executions = read_journal(journal)
    assert set(executions) == {(run_id, step) for run_id in run_ids for step in STEPS}

    lost: set[tuple[str, str, int, str | None]] = set()
    for run_id in run_ids:
        assert sorted(step["key"] for step in steps[run_id]) == sorted(STEPS)
        for step in steps[run_id]:
            key = step["key"]
            ran = executions[(run_id, key)]
            # A lease-expiry re-dispatch keeps the attempt, so its idempotency key is stable.
            assert {(attempt, idem) for attempt, idem, _ in ran} == {(1, f"{run_id}:{key}:1")}
            # The committed result is the last execution: nothing ran after the commit.
            assert (step["status"], step["attempt"], step["result"]) == (
                "succeeded",
                1,
                {"execution": ran[-1][2], "attempt": 1},
            )
            # Every dispatch is accounted for: the last one committed, each earlier one was
            # lost with a dead worker. A step ran more than once only because of such a loss.
            tries = [a for a in attempts[run_id] if a["step_key"] == key]
            dispatches = step["dispatch"]
            assert sorted((a["dispatch"], a["attempt"], a["status"]) for a in tries) == [
                *[(d, 1, "lost") for d in range(1, dispatches)],
                (dispatches, 1, "succeeded"),
            ]
            assert len(ran) <= dispatches
            for a in tries:
                if a["status"] == "lost":
                    assert a["error"] == {"code": "lease_expired", "message": "lease expired"}
                    lost.add((run_id, key, a["dispatch"], a["worker"]))

        seqs = [item.seq for item in events[run_id]]
        assert seqs == list(range(1, len(seqs) + 1))
        assert runs[run_id].event_seq == len(seqs)
        types = [item.type for item in events[run_id]]
        assert types[:2] == ["run.queued", "run.started"]
        assert types[-1] == "run.succeeded"
        assert types.count("step.completed") == len(STEPS)
        assert types.count("step.lease_expired") == sum(
            1 for a in attempts[run_id] if a["status"] == "lost"
        )
        assert runs[run_id].outputs == {"execution": executions[(run_id, "publish")][-1][2]}

    # Exactly the attempts in flight at the two kills were lost; nothing else was.
    assert lost == killed


async def sigterm_mid_step(
    engine: AsyncEngine, workers: Workers
) -> tuple[str, str, subprocess.Popen[bytes]]:
    """Queue a run whose first step sleeps 3 s, let a worker (grace 0.2 s) start that step, then
    send it SIGTERM; it must exit cleanly (0) without waiting for the step."""
    tenant_id, (run_id,) = await start_runs(engine, NAP_WORKFLOW, {}, 1)
    worker = workers.spawn("--grace", "0.2")

    async def napping() -> bool:
        return bool(await in_flight(engine))

    await wait_until(napping, worker, workers)
    stopped_at = asyncio.get_running_loop().time()
    worker.send_signal(signal.SIGTERM)
    assert wait_exit(worker, workers, 15) == 0, workers.output()
    assert asyncio.get_running_loop().time() - stopped_at < 2.5
    assert f"worker {worker_id(worker)} stopped" in workers.output()
    return tenant_id, run_id, worker


async def test_sigterm_stops_the_worker_within_its_grace_and_the_next_worker_finishes(
    store: tuple[str, AsyncEngine], workers: Workers
) -> None:
    _, engine = store
    tenant_id, run_id, worker = await sigterm_mid_step(engine, workers)
    me = worker_id(worker)

    async with reading(engine) as conn:
        run = await run_store.get_run(conn, tenant_id, run_id)
        nap = {s["key"]: s for s in await run_store.list_steps(conn, tenant_id, run_id)}["nap"]
        attempts = await run_store.list_attempts(conn, tenant_id, run_id)
    assert run.status.value == "running"
    # The interrupted attempt is recorded as handed back, not as failed or lost.
    assert attempts == [
        {
            "run_id": run_id,
            "step_key": "nap",
            "dispatch": 1,
            "tenant_id": tenant_id,
            "attempt": 1,
            "status": "cancelled",
            "worker": me,
            "idempotency_key": f"{run_id}:nap:1",
            "started_at": attempts[0]["started_at"],
            "finished_at": attempts[0]["finished_at"],
            "duration_ms": IsFloat(ge=0),
            "error": {
                "code": "worker_stopped",
                "message": "the worker stopped and handed the attempt back",
                "details": {},
            },
            "args": None,  # handed back by the stopping worker, not reported by the attempt
        }
    ]
    assert (nap["attempt"], nap["error"]) == (1, None)

    final = workers.spawn("--until-idle")
    assert wait_exit(final, workers, 60) == 0, workers.output()
    async with reading(engine) as conn:
        run = await run_store.get_run(conn, tenant_id, run_id)
        attempts = await run_store.list_attempts(conn, tenant_id, run_id)
    assert (run.status.value, run.outputs, run.error) == ("succeeded", {"value": "rested"}, None)
    naps = [(a["attempt"], a["status"]) for a in attempts if a["step_key"] == "nap"]
    # Handing an attempt back does not use up a retry: the same attempt ran to the end.
    assert naps[0] == (1, "cancelled")
    assert naps[-1] == (1, "succeeded")
    assert {attempt for attempt, _ in naps} == {1}
    assert [(a["attempt"], a["status"]) for a in attempts if a["step_key"] == "wake"] == [
        (1, "succeeded")
    ]


async def test_sigterm_leaves_the_handed_back_step_ready_for_another_worker(
    store: tuple[str, AsyncEngine], workers: Workers
) -> None:
    _, engine = store
    tenant_id, run_id, _ = await sigterm_mid_step(engine, workers)
    async with reading(engine) as conn:
        nap = {s["key"]: s for s in await run_store.list_steps(conn, tenant_id, run_id)}["nap"]
        events = await run_store.list_events(conn, tenant_id, run_id)
    assert (nap["status"], nap["attempt"], nap["dispatch"], nap["lease_owner"]) == (
        "ready",
        1,
        1,
        None,
    )
    assert [(e.seq, e.type, e.step_key) for e in events] == [
        (1, "run.queued", None),
        (2, "run.started", None),
        (3, "step.started", "nap"),
    ]
