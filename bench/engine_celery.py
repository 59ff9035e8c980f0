"""Engine benchmark, the Celery column: Batonflow through the broker, beside the in-process
executor and a plain Celery chain of the same no-op steps (the peer).

    .venv/bin/python bench/engine_celery.py              # 1, 2 and 4 workers, a few minutes
    .venv/bin/python bench/engine_celery.py --quick      # a smoke version

Prints exactly one JSON line on stdout; progress goes to stderr. One fresh PostgreSQL database
(dropped at the end) and one private `redis-server` on a free port serve every system:

- `inprocess`: the engine as `bench/engine.py` drives it (`start_run`, then `Executor.drain` in
  this process), on PostgreSQL;
- `batonflow_celery_wN`: N `batonflow worker --queues` processes (BATONFLOW_EXECUTOR=celery,
  8 threads each) run every step; this process plays the API: it starts each queued run and
  publishes its first wake-up (`cluster/announce.py`), then reads the run's status from the
  database every 5 ms (20 ms in the throughput workload) until it succeeds. Every step is on
  the one queue the workers serve, so the worker that takes the first step's wake-up claims each
  next step in the commit of the one before (the hand-over: no message, no claim transaction);
- `celery_chain_wN`: N `celery -A chain_peer worker` processes (8 threads each, the same
  delivery settings) run `chain(noop, noop, ...)`; the caller waits on the Redis result backend.

Workloads, as in `bench/engine.py`: per-step latency (a 10-step linear run of no-op steps, wall
time divided by 10, the median of repeated runs after a warm-up) and throughput (independent
3-step runs all started at once, runs per second until the last succeeds; `throughput_start_s`
is how long starting them took, within that). The target (issue 17): Batonflow's throughput
through the broker within 2x of the chain's, with every durability guarantee the chain does not
have (a chain whose message is lost is lost; a run is not). Batonflow's figures add where a
linear step's time went: `handoff_ms` (one step's commit to the next one's claim: 0 when the
commit claimed it) and `in_step_ms` (claim to the outcome's commit). The figures measured, and
the ratio to the chain, are in the README ("bench/engine_celery.py: the Celery column").
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import importlib
import itertools
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from batonflow.cluster.announce import announcing
from batonflow.platform import open_platform
from batonflow.runs.service import start_run
from batonflow.settings import Settings
from batonflow.store import runs as run_store
from batonflow.store.db import Conn
from batonflow.store.tables import Step
from batonflow.store.tenants import ensure_tenant
from batonflow.store.workflows import VersionRow, save_version
from batonflow.workflows.executor import utcnow
from batonflow.workflows.validation import load_spec
from engine import ACTOR, LINEAR_STEPS, PG_ADMIN, THROUGHPUT_STEPS, Batonflow, _admin, linear_spec
from soak_procs import Broker, Workers, batonflow_worker, log, worker_env

CONCURRENCY = 8  # threads per worker process, for both Batonflow and the chain
RUN_TIMEOUT = 180.0
POLL = 0.005  # how often the announcer reads a linear run's status
Timings = tuple[list[float], float, float]  # linear runs' seconds, throughput total and start


@dataclass(frozen=True)
class Plan:
    warmup: int
    linear_reps: int
    throughput_runs: int
    workers: tuple[int, ...]


FULL = Plan(warmup=5, linear_reps=15, throughput_runs=300, workers=(1, 2, 4))
QUICK = Plan(warmup=2, linear_reps=5, throughput_runs=40, workers=(1, 2))


async def timed_inprocess(url: str, workdir: Path, plan: Plan) -> Timings:
    system = Batonflow("inprocess", url, workdir)
    await system.setup()
    try:
        for _ in range(plan.warmup):
            await system.linear()
        linear = [await system.linear() for _ in range(plan.linear_reps)]
        total, drain = await system.throughput(plan.throughput_runs)
    finally:
        await system.close()
    return linear, total, total - drain


class Announcer:
    """This process as the API: it starts the runs and publishes their first wake-ups."""

    def __init__(self, url: str, broker: str, queue: str, workdir: Path) -> None:
        self.settings = Settings(
            data_dir=workdir,
            database_url=url,
            worker_id="bench-announcer",
            executor="celery",
            broker_url=broker,
            default_queue=queue,
            apps=["demo"],
            scheduler=False,
        )
        self._open = contextlib.AsyncExitStack()
        self.platform: Any = None
        self.executor: Any = None
        self.tenant = ""
        self.versions: dict[str, VersionRow] = {}
        self.linear_runs: list[str] = []

    async def setup(self) -> None:
        platform = self.platform = await self._open.enter_async_context(
            open_platform(self.settings)
        )
        self.tenant = await platform.write(
            functools.partial(ensure_tenant, slug="bench-celery", now=utcnow())
        )
        texts = {
            "linear": linear_spec("bench-celery-linear", LINEAR_STEPS),
            "three": linear_spec("bench-celery-three", THROUGHPUT_STEPS),
        }
        async with platform.engine.begin() as conn:
            for key, text in texts.items():
                spec = load_spec(text, f"{key}.yaml", platform.registry)
                self.versions[key], _ = await save_version(conn, self.tenant, spec, text, utcnow())
        self.executor = await self._open.enter_async_context(announcing(platform))

    async def close(self) -> None:
        await self._open.aclose()

    async def start(self, workflow: str) -> str:
        async def work(conn: Conn) -> str:
            run = await start_run(
                conn,
                tenant_id=self.tenant,
                version=self.versions[workflow],
                inputs={},
                actor=ACTOR,
                now=utcnow(),
            )
            return run.id

        run_id: str = await self.platform.write(work)
        self.executor.wake()  # start it now, as the API's announcer does after its commit
        return run_id

    async def finished(self, run_ids: list[str], every: float) -> None:
        async def read(conn: Conn) -> list[tuple[str, str]]:
            return await run_store.run_statuses(conn, run_ids)

        async with asyncio.timeout(RUN_TIMEOUT):
            while True:
                found = dict(await self.platform.db.read(read))
                if all(found.get(run_id) == "succeeded" for run_id in run_ids):
                    return
                bad = {s for s in found.values() if s in ("failed", "dead", "cancelled")}
                if bad:
                    raise RuntimeError(f"a benchmark run ended {sorted(bad)}")
                await asyncio.sleep(every)

    async def linear(self) -> float:
        began = time.perf_counter()
        run_id = await self.start("linear")
        await self.finished([run_id], POLL)
        self.linear_runs.append(run_id)
        return time.perf_counter() - began

    async def breakdown(self) -> dict[str, float]:
        """Where a linear step's time goes, from the steps' own times (median, ms): `handoff`
        from one step's commit to the next one's claim (0 when that commit claimed it; else the
        wake-up's trip through the broker and the claim), `in_step` from its claim to its commit
        (running it and committing)."""

        async def read(conn: Conn) -> list[Any]:
            query = select(Step.run_id, Step.key, Step.started_at, Step.finished_at)
            rows = await conn.execute(query.where(Step.run_id.in_(self.linear_runs)))
            return sorted(rows, key=lambda row: (row.run_id, row.key))

        rows = await self.platform.db.read(read)
        handoff, in_step = [], []
        for before, after in itertools.pairwise(rows):
            in_step.append((before.finished_at - before.started_at).total_seconds())
            if before.run_id == after.run_id:
                handoff.append((after.started_at - before.finished_at).total_seconds())
        return {
            "handoff_ms": round(statistics.median(handoff) * 1000, 2),
            "in_step_ms": round(statistics.median(in_step) * 1000, 2),
        }

    async def throughput(self, runs: int) -> tuple[float, float]:
        """Seconds until every run succeeded, and until every run was started."""
        began = time.perf_counter()
        run_ids = [await self.start("three") for _ in range(runs)]
        started = time.perf_counter() - began
        await self.finished(run_ids, 0.02)
        return time.perf_counter() - began, started


async def ready(app: Any, count: int, timeout: float = 90.0) -> None:
    """Wait until `count` Celery workers answer a ping."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        replies = await asyncio.to_thread(app.control.ping, timeout=0.5)
        if len(replies or []) >= count:
            return
    raise RuntimeError(f"{count} Celery workers did not answer within {timeout:.0f} s")


async def timed_celery(
    url: str, broker: Broker, workdir: Path, plan: Plan, count: int, where: dict[str, float]
) -> Timings:
    """`count` Batonflow workers; `where` gets where a linear step's time went."""
    queue = f"bench.{uuid.uuid4().hex[:8]}"
    settings = {
        "database_url": url,
        "data_dir": str(workdir / "data"),
        "apps": "demo",
        "executor": "celery",
        "broker_url": broker.url,
        "default_queue": queue,
        "concurrency": str(CONCURRENCY),
        "scheduler": "false",
        "log_level": "WARNING",
        "log_format": "json",
    }
    workers = Workers(batonflow_worker(queue), worker_env(settings), workdir / f"w{count}")
    workers.workdir.mkdir()
    announcer = Announcer(url, broker.url, queue, workdir)
    try:
        for _ in range(count):
            workers.spawn()
        await announcer.setup()
        await ready(announcer.executor.publish.app, count)
        for _ in range(plan.warmup):
            await announcer.linear()
        announcer.linear_runs.clear()
        linear = [await announcer.linear() for _ in range(plan.linear_reps)]
        where.update(await announcer.breakdown())
        total, started = await announcer.throughput(plan.throughput_runs)
    finally:
        await announcer.close()
        workers.stop()
    return linear, total, started


async def timed_chain(broker: Broker, workdir: Path, plan: Plan, count: int) -> Timings:
    from celery import chain

    queue = f"chain.{uuid.uuid4().hex[:8]}"
    base = broker.url.rsplit("/", 1)[0]
    os.environ |= {
        "CHAIN_PEER_BROKER": f"{base}/1",
        "CHAIN_PEER_BACKEND": f"{base}/2",
        "CHAIN_PEER_QUEUE": queue,
    }
    peer = importlib.reload(importlib.import_module("chain_peer"))
    command = [sys.executable, "-m", "celery", "-A", "chain_peer", "worker", "-Q", queue]
    command += ["-P", "threads", "-c", str(CONCURRENCY), "-l", "WARNING"]
    command += ["--without-mingle", "--without-gossip", "--hostname", "chain{n}@%h"]
    workers = Workers(command, worker_env({}), workdir / f"c{count}")
    workers.workdir.mkdir()

    def one(steps: int) -> Any:
        first = peer.noop.s(None, name="s00")
        rest = [peer.noop.s(name=f"s{i:02d}") for i in range(1, steps)]
        return chain(first, *rest).apply_async()

    def linear_once() -> float:
        began = time.perf_counter()
        one(LINEAR_STEPS).get(timeout=RUN_TIMEOUT)
        return time.perf_counter() - began

    def throughput() -> tuple[float, float]:
        began = time.perf_counter()
        results = [one(THROUGHPUT_STEPS) for _ in range(plan.throughput_runs)]
        started = time.perf_counter() - began
        for result in results:
            result.get(timeout=RUN_TIMEOUT)
        return time.perf_counter() - began, started

    def measure() -> Timings:
        for _ in range(plan.warmup):
            linear_once()
        linear = [linear_once() for _ in range(plan.linear_reps)]
        return (linear, *throughput())

    try:
        for _ in range(count):
            workers.spawn()
        await ready(peer.app, count)
        # In one thread: the result backend's consumer is not safe to share between threads.
        return await asyncio.to_thread(measure)
    finally:
        workers.stop()
        peer.app.close()


def figures(linear: list[float], total: float, started: float, runs: int) -> dict[str, float]:
    """Per-step latency (ms: median, min, max) and throughput of one system."""
    per_step = [seconds / LINEAR_STEPS * 1000 for seconds in linear]
    return {
        "per_step_ms": round(statistics.median(per_step), 2),
        "per_step_ms_min": round(min(per_step), 2),
        "per_step_ms_max": round(max(per_step), 2),
        "runs_per_s": round(runs / total, 1),
        "throughput_total_s": round(total, 3),
        "throughput_start_s": round(started, 3),  # starting (or sending) every run
    }


async def bench(plan: Plan, workdir: Path) -> dict[str, Any]:
    began = time.perf_counter()
    name = f"batonflow_bench_celery_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    await _admin(f'CREATE DATABASE "{name}"')
    url = f"{PG_ADMIN.rsplit('/', 1)[0]}/{name}"
    broker = Broker(workdir)
    results: dict[str, dict[str, float]] = {}
    load = os.getloadavg()
    try:
        log("inprocess: measuring")
        results["inprocess"] = figures(
            *await timed_inprocess(url, workdir, plan), plan.throughput_runs
        )
        await broker.start()
        for count in plan.workers:
            key = f"batonflow_celery_w{count}"
            log(f"{key}: measuring")
            where: dict[str, float] = {}
            found = await timed_celery(url, broker, workdir, plan, count, where)
            results[key] = figures(*found, plan.throughput_runs) | where
            log(f"{key}: {results[key]}")
            key = f"celery_chain_w{count}"
            log(f"{key}: measuring")
            results[key] = figures(
                *await timed_chain(broker, workdir, plan, count), plan.throughput_runs
            )
            log(f"{key}: {results[key]}")
    finally:
        broker.kill()
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    ratios = {}
    for count in plan.workers:
        ours, chain = results[f"batonflow_celery_w{count}"], results[f"celery_chain_w{count}"]
        ratios[f"w{count}"] = {
            "per_step_ours_over_chain": round(ours["per_step_ms"] / chain["per_step_ms"], 2),
            "throughput_chain_over_ours": round(chain["runs_per_s"] / ours["runs_per_s"], 2),
            "throughput_within_2x": chain["runs_per_s"] <= 2 * ours["runs_per_s"],
        }
    return {
        "bench": "engine_celery",
        "database": "postgresql",
        "broker": "redis (private)",
        "systems": results,
        "ratios": ratios,
        "plan": {
            "warmup": plan.warmup,
            "linear_reps": plan.linear_reps,
            "linear_steps": LINEAR_STEPS,
            "throughput_runs": plan.throughput_runs,
            "throughput_steps": THROUGHPUT_STEPS,
            "threads_per_worker": CONCURRENCY,
        },
        "load_average_at_start": [round(x, 2) for x in load],
        "elapsed_s": round(time.perf_counter() - began, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="a smaller smoke version")
    parser.add_argument("--workers", help="comma-separated worker counts (default: 1,2,4)")
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL
    if args.workers:
        counts = tuple(int(n) for n in args.workers.split(",") if n.strip())
        if not counts or min(counts) < 1:
            parser.error("--workers takes counts of 1 or more, e.g. 1,2,4")
        plan = Plan(plan.warmup, plan.linear_reps, plan.throughput_runs, counts)
    workdir = Path(tempfile.mkdtemp(prefix="batonflow-bench-celery-"))
    try:
        result = asyncio.run(bench(plan, workdir))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(result, separators=(",", ":")), flush=True)


if __name__ == "__main__":
    main()
