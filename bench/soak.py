"""Soak: runs with side effects through Celery workers that keep getting killed.

    .venv/bin/python bench/soak.py                       # 1,000 runs, 4 workers, about 2-4 min
    .venv/bin/python bench/soak.py --runs 30 --workers 2 # a smoke version
    .venv/bin/python bench/soak.py --broker rabbitmq     # a private RabbitMQ node instead of Redis
    .venv/bin/python bench/soak.py --broker amqp://127.0.0.1:5672//  # a running broker: no restart

Prints exactly one JSON line on stdout (progress goes to stderr) and exits 1 unless every run
succeeded and every "twice" figure is 0. What happens:

- a fresh PostgreSQL database (or `--database-url`), migrated; runs of a 4-step diamond
  (`charge -> notify, ship -> close`), every step `soak.charge` (bench/soak_app.py): a random
  sleep, one effect applied under its idempotency key, one journal line per execution;
- a private broker the script starts and owns: `redis-server` on a free port without persistence
  (`--broker redis`, the default), or a RabbitMQ node (`--broker rabbitmq`: its own node name,
  ports, data folder and Erlang cookie in the work folder, no plugins); `--broker URL` uses a
  running broker instead, which is never restarted;
- `--workers` processes of `batonflow worker --queues ...` with BATONFLOW_EXECUTOR=celery;
- runs started `--window` at a time (a new one as each finishes), as an application would;
- every `--kill-every` seconds (randomly between half and one and a half times it) a random
  worker gets `kill -9` and a new one takes its place; when half the runs have finished the
  private broker is killed (`kill -9`: Redis loses every queued message, RabbitMQ those it had
  not yet written to disk) and started again;
- at the end: runs that did not succeed (lost), steps with two successful attempts, effects
  applied twice (two effect rows for one step, or one key journalled as applied twice),
  committed results that name no journalled execution, and what the chaos cost (executions
  beyond one per step, dispatches beyond one per step). After `--timeout` seconds it stops and
  reports what did not finish instead of waiting.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import signal
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

import soak_app  # bench/soak_app.py (this script's folder is on sys.path), the workers' app
from batonflow.agents.registry import build_registry
from batonflow.apps.app import Apps, migration_branches
from batonflow.runs.service import Actor, start_run
from batonflow.store import migrate
from batonflow.store.db import create_engine, reading
from batonflow.store.tables import Attempt, Effect, Run, Step
from batonflow.store.tenants import ensure_tenant
from batonflow.store.workflows import save_version
from batonflow.workflows.validation import load_spec
from soak_procs import (
    Broker,
    RabbitBroker,
    Workers,
    batonflow_worker,
    delete_queue,
    installed_soak_app,
    log,
    worker_env,
)

PG_ADMIN = os.environ.get("BATONFLOW_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
ACTOR = Actor("soak")
PRIVATE = {"redis": Broker, "rabbitmq": RabbitBroker}
STEPS = {"charge": [], "notify": ["charge"], "ship": ["charge"], "close": ["notify", "ship"]}


def spec_text(ms: int) -> str:
    """The 4-step diamond, every step `soak.charge`."""
    lines = ["id: soak", "version: 1", "inputs:", "  journal: {type: string}", "steps:"]
    for key, needs in STEPS.items():
        lines += [f"  - id: {key}", "    kind: agent", "    capability: soak.charge"]
        if needs:
            lines.append(f"    needs: [{', '.join(needs)}]")
        lines.append(f'    args: {{journal: "{{{{ inputs.journal }}}}", ms: {ms}}}')
    return "\n".join(lines) + "\n"


def utcnow() -> datetime:
    return datetime.now(UTC)


async def _admin(statement: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def statuses(engine: AsyncEngine, run_ids: list[str]) -> dict[str, str]:
    async with reading(engine) as conn:
        rows = await conn.execute(select(Run.id, Run.status).where(Run.id.in_(run_ids)))
        return {row.id: row.status for row in rows}


class Starter:
    """Starts runs `window` at a time, a new one as each finishes."""

    def __init__(self, engine: AsyncEngine, tenant_id: str, version: Any, journal: Path) -> None:
        self.engine = engine
        self.tenant_id = tenant_id
        self.version = version
        self.journal = journal
        self.started: list[str] = []
        self.done: dict[str, str] = {}
        self.going: set[str] = set()

    async def start(self, count: int) -> None:
        async with self.engine.begin() as conn:
            for _ in range(count):
                run = await start_run(
                    conn,
                    tenant_id=self.tenant_id,
                    version=self.version,
                    inputs={"journal": str(self.journal)},
                    actor=ACTOR,
                    now=utcnow(),
                )
                self.started.append(run.id)
                self.going.add(run.id)

    async def look(self) -> None:
        if not self.going:
            return
        found = await statuses(self.engine, sorted(self.going))
        for run_id, status in found.items():
            if status in ("succeeded", "failed", "dead", "cancelled"):
                self.going.discard(run_id)
                self.done[run_id] = status


async def chaos(
    args: argparse.Namespace,
    workers: Workers,
    broker: Broker | RabbitBroker | None,
    starter: Starter,
    finished: asyncio.Event,
) -> None:
    """Kill a random worker every few seconds; restart the private broker halfway."""
    next_kill = time.monotonic() + random.uniform(0.5, 1.5) * args.kill_every
    while not finished.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(finished.wait(), 0.2)
        if finished.is_set():
            return
        workers.replace_exited()
        if args.kill_every > 0 and time.monotonic() >= next_kill:
            workers.kill_one()
            next_kill = time.monotonic() + random.uniform(0.5, 1.5) * args.kill_every
        if broker is not None and broker.restarts == 0 and len(starter.done) >= args.runs // 2:
            log(f"{len(starter.done)} runs done: restarting the broker (kill -9)")
            await broker.restart(args.broker_down)


def journal_lines(folder: Path) -> list[list[str]]:
    """Every execution the workers journalled (a line cut short by a kill counts as none: its
    step had not returned, so its result cannot have been committed)."""
    lines = []
    for path in sorted(folder.glob("*.log")):
        lines += [line.split(" ") for line in path.read_text().splitlines()]
    return [line for line in lines if len(line) == 6]


async def figures(engine: AsyncEngine, tenant_id: str, run_ids: list[str], journal: Path) -> dict:
    """What the database and the journals say about the runs."""
    async with reading(engine) as conn:
        runs = dict(
            (await conn.execute(select(Run.id, Run.status).where(Run.tenant_id == tenant_id))).all()
        )
        steps = (
            await conn.execute(
                select(Step.run_id, Step.key, Step.status, Step.dispatch, Step.result).where(
                    Step.tenant_id == tenant_id
                )
            )
        ).all()
        attempts = (
            await conn.execute(
                select(Attempt.run_id, Attempt.step_key, Attempt.status).where(
                    Attempt.tenant_id == tenant_id
                )
            )
        ).all()
        effects = (
            await conn.execute(
                select(Effect.key, Effect.payload).where(Effect.tenant_id == tenant_id)
            )
        ).all()
    lines = journal_lines(journal)
    succeeded = Counter((a.run_id, a.step_key) for a in attempts if a.status == "succeeded")
    per_step = Counter((e.payload["run"], e.payload["step"]) for e in effects)
    applied = Counter(line[3] for line in lines if line[4] == "1")
    executions = {line[5] for line in lines}
    done_steps = [s for s in steps if s.status == "succeeded"]
    unjournalled = [s for s in done_steps if (s.result or {}).get("execution") not in executions]
    finished = sum(1 for run_id in run_ids if runs.get(run_id) == "succeeded")
    return {
        "runs": len(run_ids),
        "finished": finished,
        "lost_runs": len(run_ids) - finished,
        "runs_by_status": dict(Counter(runs.get(run_id, "missing") for run_id in run_ids)),
        "steps_succeeded": len(done_steps),
        "steps_succeeded_twice": sum(1 for count in succeeded.values() if count > 1),
        "effects_applied": len(effects),
        "effects_applied_twice": sum(1 for n in per_step.values() if n > 1)
        + sum(1 for n in applied.values() if n > 1),
        "effects_missing": sum(1 for s in done_steps if (s.run_id, s.key) not in per_step),
        "results_from_no_execution": len(unjournalled),
        "executions": len(lines),
        "executions_beyond_one_per_step": len(lines) - len(done_steps),
        "dispatches_beyond_one_per_step": sum(s.dispatch - 1 for s in steps if s.dispatch > 1),
        "attempts_by_status": dict(Counter(a.status for a in attempts)),
    }


async def drive(args: argparse.Namespace, url: str, workdir: Path) -> dict[str, Any]:
    engine = create_engine(url)
    broker = PRIVATE[args.broker](workdir) if args.broker in PRIVATE else None
    queue = f"soak.{uuid.uuid4().hex[:8]}"
    workers: Workers | None = None
    try:
        await migrate.upgrade(engine, branches=migration_branches(Apps()))  # every app's
        journal = workdir / "journal"
        journal.mkdir()
        text = spec_text(args.step_ms)
        spec = load_spec(text, "soak.yaml", build_registry([soak_app.soaker]))
        async with engine.begin() as conn:
            tenant_id = await ensure_tenant(conn, f"soak-{queue.split('.')[1]}", utcnow())
            version, _ = await save_version(conn, tenant_id, spec, text, utcnow())
        if broker is not None:
            await broker.start()
        broker_url = broker.url if broker else args.broker
        settings = {
            "database_url": url,
            "data_dir": str(workdir / "data"),
            "apps": "soak",
            "executor": "celery",
            "broker_url": broker_url,
            "default_queue": queue,
            "concurrency": str(args.concurrency),
            "lease_seconds": str(args.lease),
            "heartbeat_seconds": str(max(args.lease / 5, 0.2)),
            "reap_seconds": "1",
            "poll_seconds": "0.2",
            "republish_seconds": str(args.republish),
            "scheduler": "false",
            "log_format": "json",
            "log_level": "WARNING",
        }
        env = worker_env(settings, installed_soak_app(workdir))
        workers = Workers([*batonflow_worker(queue), "--grace", "1"], env, workdir)
        for _ in range(args.workers):
            workers.spawn()
        log(f"{args.workers} workers on {broker_url.split('@')[-1]}, queue {queue}")
        starter = Starter(engine, tenant_id, version, journal)
        finished = asyncio.Event()
        chaotic = asyncio.create_task(chaos(args, workers, broker, starter, finished))
        began = time.perf_counter()
        deadline = began + args.timeout
        shown = began
        timed_out = False
        try:
            while len(starter.done) < args.runs:
                room = args.window - len(starter.going)
                left = args.runs - len(starter.started)
                if room > 0 and left > 0:
                    await starter.start(min(room, left))
                await asyncio.sleep(0.25)
                await starter.look()
                if time.perf_counter() > shown + 10:
                    shown = time.perf_counter()
                    log(f"{len(starter.done)}/{args.runs} runs done, {workers.kills} kills")
                if time.perf_counter() > deadline:
                    timed_out = True
                    log(f"timed out after {args.timeout:.0f} s")
                    break
        finally:
            finished.set()
            await chaotic
        wall = time.perf_counter() - began
        workers.stop()
        found = await figures(engine, tenant_id, starter.started, journal)
        found["runs"] = args.runs  # runs never started count as lost too
        found["lost_runs"] = args.runs - found["finished"]
        unfinished = sorted(set(starter.started) - set(starter.done))
        return {
            "bench": "soak",
            **found,
            "kills": workers.kills,
            "worker_exits_unasked": workers.crashes,
            "broker_restarts": broker.restarts if broker else 0,
            "broker": broker.name if broker else broker_url.split("://")[0],
            "workers": args.workers,
            "concurrency": args.concurrency,
            "timed_out": timed_out,
            "unfinished": {
                "count": len(unfinished) + args.runs - len(starter.started),
                "sample": unfinished[:10],
            },
            "wall_s": round(wall, 1),
            "runs_per_s": round(found["finished"] / wall, 2),
            "database": engine.dialect.name,
        }
    finally:
        if workers is not None:
            workers.stop()
        if broker is not None:
            broker.kill()
        else:
            delete_queue(args.broker, queue)
        await engine.dispose()


def ok(result: dict[str, Any]) -> bool:
    zeros = ("lost_runs", "steps_succeeded_twice", "effects_applied_twice", "effects_missing")
    return all(result[key] == 0 for key in (*zeros, "results_from_no_execution")) and (
        result["finished"] == result["runs"]
    )


async def soak(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    # SIGINT or SIGTERM (even where a background shell ignores SIGINT) stop the soak through its
    # `finally` blocks: workers stopped, the private broker killed, the database dropped.
    task = asyncio.current_task()
    assert task is not None
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, task.cancel)
    if args.database_url:
        return await drive(args, args.database_url, workdir)
    name = f"batonflow_soak_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    await _admin(f'CREATE DATABASE "{name}"')
    try:
        return await drive(args, f"{PG_ADMIN.rsplit('/', 1)[0]}/{name}", workdir)
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=4, help="Celery worker processes")
    parser.add_argument("--concurrency", type=int, default=8, help="steps at once per worker")
    parser.add_argument("--window", type=int, default=64, help="runs in flight at once")
    parser.add_argument("--step-ms", type=int, default=100, help="a step sleeps up to this long")
    parser.add_argument("--kill-every", type=float, default=4.0, help="seconds; 0: no kills")
    parser.add_argument(
        "--broker",
        default="redis",
        help="redis or rabbitmq (a private broker, restarted halfway), or a running broker's URL",
    )
    parser.add_argument("--broker-down", type=float, default=2.0, help="seconds the broker is off")
    parser.add_argument("--database-url", help="default: a fresh PostgreSQL database, dropped")
    parser.add_argument("--lease", type=float, default=5.0, help="BATONFLOW_LEASE_SECONDS")
    parser.add_argument("--republish", type=float, default=10.0, help="BATONFLOW_REPUBLISH_SECONDS")
    parser.add_argument("--timeout", type=float, default=900.0, help="give up after (seconds)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (worker logs)")
    args = parser.parse_args()
    if args.runs < 1 or args.workers < 1 or args.window < 1:
        parser.error("--runs, --workers and --window must be at least 1")
    if args.broker not in PRIVATE and "://" not in args.broker:
        parser.error(f"--broker must be redis, rabbitmq or a URL (amqp://...), not {args.broker!r}")
    workdir = Path(tempfile.mkdtemp(prefix="batonflow-soak-"))
    try:
        result = asyncio.run(soak(args, workdir))
    except asyncio.CancelledError:
        log("stopped by a signal; workers, broker and database cleaned up")
        sys.exit(130)
    finally:
        if args.keep:
            log(f"worker logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(result, separators=(",", ":")), flush=True)
    sys.exit(0 if ok(result) else 1)


if __name__ == "__main__":
    main()
