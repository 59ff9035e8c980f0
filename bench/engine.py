"""Engine benchmark: Batonflow (SQLite and PostgreSQL) against LangGraph and a bare-commit floor.

    .venv/bin/python bench/engine.py            # full run, about 1 min on 2 cores (< 3 min)
    .venv/bin/python bench/engine.py --quick    # smoke version, under 30 s

Prints exactly one JSON line on stdout; progress goes to stderr. Every system runs the same three
workloads in this one process, each on a fresh database:

1. per-step overhead: a 10-step linear workflow of no-op steps, wall time of a whole run (start to
   finished) divided by 10, median over repeated runs after a warm-up;
2. fan-out: one run of 100 parallel steps that each sleep 50 ms (ideal: 50 ms), median of a few;
3. throughput: 1,000 independent 3-step linear runs (runs/s), at most 64 at a time; for Batonflow
   all runs are started (queued) first, by up to 64 callers at once as API requests would, and
   then one executor drains them, so a drain-only figure is reported as well.

Systems: `batonflow_sqlite` and `batonflow_postgresql` (the engine as the tests drive it:
`start_run` then `Executor.drain`, one executor per drain, built and closed outside the timing;
PostgreSQL gets a fresh database that is dropped at the end), `langgraph` (a StateGraph
checkpointed by `AsyncSqliteSaver` with the library's default durability), `floor` (plain
asyncio with one aiosqlite INSERT and COMMIT per step, with the pragmas our store uses) and
`floor_postgresql` (the same over asyncpg, in the same database on the same server: BEGIN, one
prepared INSERT and COMMIT per step, on 10 connections). `ratios.per_step_postgresql_over_floor`
compares our PostgreSQL engine with the PostgreSQL floor (target: at most 2.0), as
`per_step_ours_over_floor` does on SQLite; `throughput_*_over_floor` compare runs/s likewise.
`batonflow_sqlite_observed` is `batonflow_sqlite` with everything an operator turns on: JSON logs
at INFO (written to the null device), metrics counted from the bus, and tracing into an
in-memory exporter, each run started under a run span; `ratios.observed_over_bare_*` compare it
with the bare run. On a shared machine those two are measured minutes apart, so `observability`
measures them paired instead: bare and observed runs alternate (each pair in turns of order),
and the overhead is the median of the per-pair ratios (target: under 1.10 per step). Tracing
samples as `OTEL_TRACES_SAMPLER` says (default: parent-based, always on, so every span is kept);
`observability.sampler` names the one used, e.g. `OTEL_TRACES_SAMPLER=parentbased_traceidratio
OTEL_TRACES_SAMPLER_ARG=0.1` for one trace in ten. Under the default sampler the tracer makes lean
spans (`telemetry/lean.py`); `observability_sdk_spans` measures the SDK's own spans beside them.

`--profile FILE` runs the Batonflow SQLite per-step workload under cProfile instead, writes the
stats to FILE and prints the hottest functions and the SQL statements per step to stderr; with
`--systems batonflow_postgresql` it profiles the PostgreSQL path.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import functools
import gc
import io
import itertools
import json
import logging
import operator
import os
import pstats
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Protocol, TypedDict

import aiosqlite
import asyncpg
from sqlalchemy import event

from batonflow.apps.app import Apps, migration_branches
from batonflow.platform import Platform, open_platform
from batonflow.runs.service import Actor, start_run
from batonflow.settings import Settings
from batonflow.store import migrate
from batonflow.store.db import Conn, create_engine
from batonflow.store.tenants import ensure_tenant
from batonflow.store.workflows import VersionRow, save_version
from batonflow.telemetry import logs
from batonflow.telemetry.process import Telemetry, build_telemetry
from batonflow.telemetry.traces import starting_run
from batonflow.workflows.executor import Executor
from batonflow.workflows.validation import load_spec

PG_ADMIN = os.environ.get("BATONFLOW_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
LINEAR_STEPS = 10
FANOUT_STEPS = 100
FANOUT_SLEEP = 0.05
THROUGHPUT_STEPS = 3
CONCURRENCY = 64  # LangGraph's and the floor's bound; also Batonflow's default executor size
RUN_TIMEOUT = 120.0
ACTOR = Actor("bench")

TARGETS = {
    "per_step_ours_over_langgraph_max": 0.25,
    "per_step_ours_over_floor_max": 2.0,
    "fanout_ms_max": 75,
    "throughput_ours_over_langgraph_min": 3.0,
    "observed_over_bare_per_step_max": 1.10,
}


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def utcnow() -> datetime:
    return datetime.now(UTC)


# -- workflow specs ---------------------------------------------------------------------------


def linear_spec(workflow_id: str, steps: int) -> str:
    lines = [f"id: {workflow_id}", "version: 1", "steps:"]
    for index in range(steps):
        lines += [f"  - id: s{index:02d}", "    kind: agent", "    capability: demo.noop"]
        if index:
            lines.append(f"    needs: [s{index - 1:02d}]")
    return "\n".join(lines) + "\n"


def fanout_spec(workflow_id: str, steps: int, ms: int) -> str:
    lines = [f"id: {workflow_id}", "version: 1", "steps:"]
    for index in range(steps):
        lines += [
            f"  - id: p{index:03d}",
            "    kind: agent",
            "    capability: demo.sleep",
            f"    args: {{ms: {ms}}}",
        ]
    return "\n".join(lines) + "\n"


# -- the systems ------------------------------------------------------------------------------


class System(Protocol):
    name: str

    async def setup(self) -> None: ...
    async def close(self) -> None: ...
    async def linear(self) -> float: ...
    async def fanout(self) -> float: ...
    async def throughput(self, runs: int) -> tuple[float, float]: ...


class Batonflow:
    """Our engine on the platform a worker process runs on (`open_platform`), driven as
    tests/conftest.py drives it."""

    def __init__(
        self,
        name: str,
        url: str,
        data_dir: Path,
        synchronous: str = "FULL",
        *,
        observed: bool = False,
        traced: bool = True,
        lean: bool = True,
    ) -> None:
        self.observed = observed
        self.traced = traced
        self.lean = lean
        self.telemetry: Telemetry | None = None
        self.spans: Any = None  # the in-memory span exporter, when observed
        self._sink: Any = None
        self._level = 0
        self.name = name
        self.url = url
        self.data_dir = data_dir
        self.platform: Platform | None = None
        self._open = contextlib.AsyncExitStack()
        self.executors: dict[int, Executor] = {}
        self.synchronous = synchronous
        self.tenant = ""
        self.versions: dict[str, VersionRow] = {}

    def settings(self, concurrency: int = CONCURRENCY) -> Settings:
        return Settings(
            data_dir=self.data_dir,
            database_url=self.url,
            worker_id=f"bench-{self.name}",
            concurrency=concurrency,
            sqlite_synchronous=self.synchronous,
        )

    async def setup(self) -> None:
        migrating = create_engine(self.url)  # a fresh PostgreSQL database is not migrated yet
        try:
            await migrate.upgrade(migrating, branches=migration_branches(Apps()))  # every app's
        finally:
            await migrating.dispose()
        if self.observed:
            from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
                InMemorySpanExporter,
            )

            settings = Settings(log_format="json", log_level="INFO")
            self._level = logging.getLogger().level
            self._sink = open(os.devnull, "w")  # noqa: SIM115 - closed in close()
            self._settings = settings
            self.logging(on=True)
            self.spans = InMemorySpanExporter() if self.traced else None
            self.telemetry = build_telemetry(
                settings, span_exporter=self.spans, batch=True, lean=self.lean
            )
        platform = self.platform = await self._open.enter_async_context(
            open_platform(
                self.settings(),
                telemetry=self.telemetry or Telemetry(),
                watch=self.observed,  # metrics counted from the bus
            )
        )
        self.tenant = await platform.write(
            functools.partial(ensure_tenant, slug="bench", now=utcnow())
        )
        texts = {
            "linear": linear_spec("bench-linear", LINEAR_STEPS),
            "fanout": fanout_spec("bench-fanout", FANOUT_STEPS, int(FANOUT_SLEEP * 1000)),
            "three": linear_spec("bench-three", THROUGHPUT_STEPS),
        }
        async with platform.engine.begin() as conn:
            for key, text in texts.items():
                spec = load_spec(text, f"{key}.yaml", platform.registry)
                self.versions[key], _ = await save_version(conn, self.tenant, spec, text, utcnow())

    async def close(self) -> None:
        await self._open.aclose()  # the executors, the platform's database threads and engine
        if self.telemetry is not None:
            self.telemetry.close()
            self.logging(on=False)
            self._sink.close()

    def executor(self, concurrency: int) -> Executor:
        """One executor per concurrency setting, kept for the whole benchmark, as a worker
        process keeps its executor (and its compiled statements)."""
        assert self.platform is not None
        if concurrency not in self.executors:
            self.executors[concurrency] = self.platform.executor(self.settings(concurrency))
        return self.executors[concurrency]

    def logging(self, *, on: bool) -> None:
        """Logging is process-wide: on while this observed system runs, off otherwise."""
        if on:
            logs.configure(self._settings, stream=self._sink)
        else:
            logs.reset()
            logging.getLogger().setLevel(self._level)

    async def observed_totals(self) -> dict[str, float]:
        """What the metrics and the exporter saw (a check that they were on)."""
        if self.telemetry is None:
            return {}
        text = (await self.telemetry.metrics.render()).decode()
        finished = sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("batonflow_runs_finished_total{")
        )
        spans = float(len(self.spans.get_finished_spans())) if self.spans is not None else 0.0
        return {"runs_counted": finished, "spans": spans}

    async def start(self, workflow: str) -> str:
        """Start a run through the same transaction runner the executors use."""
        assert self.platform is not None
        if self.telemetry is None:
            return await self.platform.write(self._starter(workflow, {}))
        with starting_run(self.telemetry.tracing, workflow) as run:
            return await self.platform.write(self._starter(workflow, run.carrier))

    def _starter(self, workflow: str, ctx: dict[str, Any]) -> Any:
        async def work(conn: Conn) -> str:
            run = await start_run(
                conn,
                tenant_id=self.tenant,
                version=self.versions[workflow],
                inputs={},
                actor=ACTOR,
                now=utcnow(),
                ctx=ctx,
            )
            return run.id

        return work

    async def _one(self, workflow: str, concurrency: int) -> float:
        executor = self.executor(concurrency)
        began = time.perf_counter()
        run_id = await self.start(workflow)
        async with asyncio.timeout(RUN_TIMEOUT):
            statuses = await executor.drain([run_id])
        elapsed = time.perf_counter() - began
        if statuses[run_id] != "succeeded":
            raise RuntimeError(f"{self.name}: run {run_id} ended {statuses[run_id]}")
        return elapsed

    async def linear(self) -> float:
        return await self._one("linear", CONCURRENCY)

    async def fanout(self) -> float:
        return await self._one("fanout", 2 * FANOUT_STEPS)

    async def throughput(self, runs: int) -> tuple[float, float]:
        executor = self.executor(CONCURRENCY)
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one() -> str:
            async with gate:
                return await self.start("three")

        began = time.perf_counter()
        run_ids = await asyncio.gather(*(one() for _ in range(runs)))
        drain_began = time.perf_counter()
        async with asyncio.timeout(RUN_TIMEOUT):
            statuses = await executor.drain(run_ids)
        ended = time.perf_counter()
        bad = [run_id for run_id, status in statuses.items() if status != "succeeded"]
        if bad:
            raise RuntimeError(f"{self.name}: {len(bad)} of {runs} runs did not succeed")
        return ended - began, ended - drain_began


class LinearState(TypedDict):
    last: str


class FanoutState(TypedDict):
    done: Annotated[list[str], operator.add]


class _NoopNode:
    """A no-op LangGraph node that records which node ran last (like a stored step result)."""

    def __init__(self, name: str) -> None:
        self.name = name

    async def __call__(self, state: LinearState) -> dict[str, Any]:
        return {"last": self.name}


class _SleepNode:
    def __init__(self, name: str) -> None:
        self.name = name

    async def __call__(self, state: FanoutState) -> dict[str, Any]:
        await asyncio.sleep(FANOUT_SLEEP)
        return {"done": [self.name]}


async def _join(state: FanoutState) -> dict[str, Any]:
    return {}


class LangGraph:
    """LangGraph StateGraphs with the async SQLite checkpointer, default durability."""

    name = "langgraph"

    def __init__(self, path: Path, synchronous: str = "FULL") -> None:
        self.path = path
        self.synchronous = synchronous
        self._saver_cm: Any = None
        self.saver: Any = None
        self.graphs: dict[str, Any] = {}
        self._threads = 0

    async def setup(self) -> None:
        from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
        from langgraph.graph import END, START, StateGraph

        self._saver_cm = AsyncSqliteSaver.from_conn_string(str(self.path))
        self.saver = await self._saver_cm.__aenter__()
        await self.saver.setup()
        # The same durability as the others: every checkpoint commit reaches the disk (FULL).
        await self.saver.conn.execute(f"PRAGMA synchronous={self.synchronous}")

        def linear(steps: int) -> Any:
            graph = StateGraph(LinearState)
            names = [f"s{index:02d}" for index in range(steps)]
            for name in names:
                graph.add_node(name, _NoopNode(name))
            graph.add_edge(START, names[0])
            for before, after in itertools.pairwise(names):
                graph.add_edge(before, after)
            graph.add_edge(names[-1], END)
            return graph.compile(checkpointer=self.saver)

        fan = StateGraph(FanoutState)
        names = [f"p{index:03d}" for index in range(FANOUT_STEPS)]
        for name in names:
            fan.add_node(name, _SleepNode(name))
            fan.add_edge(START, name)
        fan.add_node("join", _join)
        fan.add_edge(names, "join")
        fan.add_edge("join", END)
        self.graphs = {
            "linear": linear(LINEAR_STEPS),
            "fanout": fan.compile(checkpointer=self.saver),
            "three": linear(THROUGHPUT_STEPS),
        }

    async def close(self) -> None:
        if self._saver_cm is not None:
            await self._saver_cm.__aexit__(None, None, None)

    async def _invoke(self, graph: str, state: dict[str, Any]) -> None:
        self._threads += 1
        config = {"configurable": {"thread_id": f"{graph}-{self._threads}"}}
        await self.graphs[graph].ainvoke(state, config)

    async def linear(self) -> float:
        began = time.perf_counter()
        await self._invoke("linear", {"last": ""})
        return time.perf_counter() - began

    async def fanout(self) -> float:
        began = time.perf_counter()
        await self._invoke("fanout", {"done": []})
        return time.perf_counter() - began

    async def throughput(self, runs: int) -> tuple[float, float]:
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one() -> None:
            async with gate:
                await self._invoke("three", {"last": ""})

        began = time.perf_counter()
        async with asyncio.timeout(RUN_TIMEOUT):
            await asyncio.gather(*(one() for _ in range(runs)))
        elapsed = time.perf_counter() - began
        return elapsed, elapsed


async def _nothing() -> dict[str, Any]:
    return {}


class Floor:
    """The least a durable engine can do: one INSERT and one COMMIT per step, nothing else."""

    name = "floor"

    def __init__(self, path: Path, synchronous: str = "FULL") -> None:
        self.path = path
        self.synchronous = synchronous
        self.conn: aiosqlite.Connection | None = None
        self.lock = asyncio.Lock()  # one step, one transaction: no commit covers two steps
        self._runs = 0

    async def setup(self) -> None:
        self.conn = await aiosqlite.connect(self.path)
        await self.conn.execute("PRAGMA journal_mode=WAL")
        await self.conn.execute(f"PRAGMA synchronous={self.synchronous}")
        await self.conn.execute(
            "CREATE TABLE steps (id INTEGER PRIMARY KEY, run TEXT, step INTEGER, result TEXT)"
        )
        await self.conn.commit()

    async def close(self) -> None:
        if self.conn is not None:
            await self.conn.close()

    async def _step(self, run: str, index: int, result: dict[str, Any]) -> None:
        assert self.conn is not None
        async with self.lock:
            await self.conn.execute(
                "INSERT INTO steps (run, step, result) VALUES (?, ?, ?)",
                (run, index, json.dumps(result)),
            )
            await self.conn.commit()

    async def _linear(self, steps: int) -> None:
        self._runs += 1
        run = f"run-{self._runs}"
        for index in range(steps):
            await self._step(run, index, await _nothing())

    async def linear(self) -> float:
        began = time.perf_counter()
        await self._linear(LINEAR_STEPS)
        return time.perf_counter() - began

    async def fanout(self) -> float:
        self._runs += 1
        run = f"run-{self._runs}"

        async def one(index: int) -> None:
            await asyncio.sleep(FANOUT_SLEEP)
            await self._step(run, index, {"slept_ms": int(FANOUT_SLEEP * 1000)})

        began = time.perf_counter()
        await asyncio.gather(*(one(index) for index in range(FANOUT_STEPS)))
        return time.perf_counter() - began

    async def throughput(self, runs: int) -> tuple[float, float]:
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one() -> None:
            async with gate:
                await self._linear(THROUGHPUT_STEPS)

        began = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(runs)))
        elapsed = time.perf_counter() - began
        return elapsed, elapsed


class FloorPostgres(Floor):
    """The floor on PostgreSQL, over asyncpg on the same server: each step is one transaction
    with one INSERT (BEGIN, INSERT, COMMIT: three round trips, the second a prepared statement
    asyncpg caches). Steps of different runs commit side by side on as many connections as our
    engine's pool keeps (`store/postgres.py`), handed round without a pool's reset query."""

    name = "floor_postgresql"
    connections = 10

    def __init__(self, url: str) -> None:
        self.url = url
        self.idle: asyncio.Queue[asyncpg.Connection] = asyncio.Queue()
        self._runs = 0

    async def setup(self) -> None:
        for _ in range(self.connections):
            self.idle.put_nowait(await asyncpg.connect(self.url))
        conn = self.idle.get_nowait()
        await conn.execute(
            "CREATE TABLE floor_steps (id BIGSERIAL PRIMARY KEY, run TEXT, step INTEGER, result TEXT)"
        )
        self.idle.put_nowait(conn)

    async def close(self) -> None:
        while not self.idle.empty():
            await self.idle.get_nowait().close()

    async def _step(self, run: str, index: int, result: dict[str, Any]) -> None:
        conn = await self.idle.get()
        try:
            async with conn.transaction():
                await conn.execute(
                    "INSERT INTO floor_steps (run, step, result) VALUES ($1, $2, $3)",
                    run,
                    index,
                    json.dumps(result),
                )
        finally:
            self.idle.put_nowait(conn)


# -- running ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    warmup: int
    linear_reps: int
    fanout_reps: int
    throughput_runs: int


FULL = Plan(warmup=5, linear_reps=30, fanout_reps=5, throughput_runs=1000)
QUICK = Plan(warmup=2, linear_reps=8, fanout_reps=2, throughput_runs=100)


@dataclass
class Figures:
    per_step_us: float
    fanout_ms: float
    runs_per_s: float
    drain_runs_per_s: float
    detail: dict[str, Any] = field(default_factory=dict)


async def measure(system: System, plan: Plan) -> Figures:
    await system.setup()
    try:
        for _ in range(plan.warmup):
            await system.linear()
        gc.collect()
        linear = [await system.linear() for _ in range(plan.linear_reps)]
        per_step = [seconds / LINEAR_STEPS * 1e6 for seconds in linear]
        log(f"{system.name}: per step {statistics.median(per_step):.0f} us")
        await system.fanout()  # warm-up
        gc.collect()
        fan = [(await system.fanout()) * 1000 for _ in range(plan.fanout_reps)]
        log(f"{system.name}: fan-out {statistics.median(fan):.1f} ms")
        gc.collect()
        total, drain = await system.throughput(plan.throughput_runs)
        seen = await system.observed_totals() if isinstance(system, Batonflow) else {}
        runs = plan.throughput_runs
        log(f"{system.name}: throughput {runs / total:.1f} runs/s ({runs / drain:.1f} drain-only)")
        return Figures(
            per_step_us=statistics.median(per_step),
            fanout_ms=statistics.median(fan),
            runs_per_s=runs / total,
            drain_runs_per_s=runs / drain,
            detail={
                "per_step_us_min": min(per_step),
                "per_step_us_max": max(per_step),
                "fanout_ms_min": min(fan),
                "fanout_ms_max": max(fan),
                "throughput_total_s": total,
                "throughput_start_s": total - drain,
                **seen,
            },
        )
    finally:
        await system.close()


async def _admin(statement: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def _ratio(top: float | None, bottom: float | None) -> float | None:
    if top is None or bottom is None or bottom == 0:
        return None
    return round(top / bottom, 4)


def _check(value: float | None, limit: float, *, at_most: bool) -> bool | None:
    if value is None:
        return None
    return value <= limit if at_most else value >= limit


def report(results: dict[str, Figures], plan: Plan, elapsed: float) -> dict[str, Any]:
    def pick(attr: str) -> dict[str, float]:
        return {name: round(getattr(fig, attr), 2) for name, fig in results.items()}

    def get(name: str, attr: str) -> float | None:
        fig = results.get(name)
        return None if fig is None else float(getattr(fig, attr))

    ratios: dict[str, float | None] = {}
    met: dict[str, bool | None] = {}
    for label, system, floor in (
        ("ours", "batonflow_sqlite", "floor"),
        ("postgresql", "batonflow_postgresql", "floor_postgresql"),
    ):
        over_lg = _ratio(get(system, "per_step_us"), get("langgraph", "per_step_us"))
        over_floor = _ratio(get(system, "per_step_us"), get(floor, "per_step_us"))
        ratios[f"throughput_{label}_over_floor"] = _ratio(
            get(system, "runs_per_s"), get(floor, "runs_per_s")
        )
        fan = get(system, "fanout_ms")
        tput = _ratio(get(system, "runs_per_s"), get("langgraph", "runs_per_s"))
        ratios[f"per_step_{label}_over_langgraph"] = over_lg
        ratios[f"per_step_{label}_over_floor"] = over_floor
        ratios[f"fanout_{label}_ms"] = None if fan is None else round(fan, 2)
        ratios[f"throughput_{label}_over_langgraph"] = tput
        met[f"per_step_{label}_over_langgraph"] = _check(
            over_lg, TARGETS["per_step_ours_over_langgraph_max"], at_most=True
        )
        met[f"per_step_{label}_over_floor"] = _check(
            over_floor, TARGETS["per_step_ours_over_floor_max"], at_most=True
        )
        met[f"fanout_{label}"] = _check(fan, TARGETS["fanout_ms_max"], at_most=True)
        met[f"throughput_{label}_over_langgraph"] = _check(
            tput, TARGETS["throughput_ours_over_langgraph_min"], at_most=False
        )
    observed = {
        "per_step": _ratio(
            get("batonflow_sqlite_observed", "per_step_us"), get("batonflow_sqlite", "per_step_us")
        ),
        "fanout": _ratio(
            get("batonflow_sqlite_observed", "fanout_ms"), get("batonflow_sqlite", "fanout_ms")
        ),
        "throughput": _ratio(
            get("batonflow_sqlite", "runs_per_s"), get("batonflow_sqlite_observed", "runs_per_s")
        ),
    }
    for key, value in observed.items():
        ratios[f"observed_over_bare_{key}"] = value  # time (or inverse throughput) ratios
    met["observed_over_bare_per_step"] = _check(
        observed["per_step"], TARGETS["observed_over_bare_per_step_max"], at_most=True
    )
    return {
        "bench": "engine",
        "per_step_us": pick("per_step_us"),
        "fanout_100x50ms_ms": pick("fanout_ms"),
        "throughput_runs_per_s": pick("runs_per_s"),
        "throughput_drain_only_runs_per_s": {
            name: round(fig.drain_runs_per_s, 2)
            for name, fig in results.items()
            if name.startswith("batonflow")
        },
        "ratios": ratios,
        "targets": TARGETS,
        "met": met,
        "detail": {
            name: {key: round(value, 3) for key, value in fig.detail.items()}
            for name, fig in results.items()
        },
        "plan": {
            "warmup": plan.warmup,
            "linear_reps": plan.linear_reps,
            "fanout_reps": plan.fanout_reps,
            "throughput_runs": plan.throughput_runs,
            "concurrency": CONCURRENCY,
        },
        "elapsed_s": round(elapsed, 1),
    }


SYSTEMS = (
    "batonflow_sqlite",
    "batonflow_sqlite_observed",
    "observability",
    "batonflow_postgresql",
    "floor_postgresql",
    "langgraph",
    "floor",
)


def sampler() -> str:
    """The sampler the SDK builds from the environment (read here for the report only)."""
    name = os.environ.get("OTEL_TRACES_SAMPLER", "parentbased_always_on")
    arg = os.environ.get("OTEL_TRACES_SAMPLER_ARG")
    return f"{name}:{arg}" if arg else name


async def paired(
    plan: Plan, workdir: Path, synchronous: str, *, traced: bool = True, lean: bool = True
) -> dict[str, Any]:
    """Bare and observed SQLite runs, alternating, so load from elsewhere hits both alike.
    Without `traced`, the observed system logs and counts but has no tracer (the default
    until an OTLP endpoint is configured); without `lean`, it traces with the SDK's own
    tracer and spans even under the default sampler."""
    name = ("traced" if lean else "traced_sdk") if traced else "untraced"
    bare = Batonflow(
        "paired_bare", f"sqlite:///{workdir / f'paired-bare-{name}.db'}", workdir, synchronous
    )
    observed = Batonflow(
        "paired_observed",
        f"sqlite:///{workdir / f'paired-observed-{name}.db'}",
        workdir,
        synchronous,
        observed=True,
        traced=traced,
        lean=lean,
    )
    await bare.setup()
    await observed.setup()
    tracer = type(observed.telemetry.tracer).__name__ if observed.telemetry else None
    observed.logging(on=False)

    async def timed(system: Batonflow, work: str) -> float:
        if system is observed:
            observed.logging(on=True)
        try:
            if work == "linear":
                return await system.linear()
            total, _ = await system.throughput(plan.throughput_runs // 5)
            return total
        finally:
            if system is observed:
                observed.logging(on=False)

    async def pairs(work: str, count: int) -> list[tuple[float, float]]:
        found = []
        for index in range(count):
            order = (bare, observed) if index % 2 == 0 else (observed, bare)
            gc.collect()
            first = await timed(order[0], work)
            second = await timed(order[1], work)
            found.append((first, second) if order[0] is bare else (second, first))
        return found

    try:
        await pairs("linear", plan.warmup)
        linear = await pairs("linear", plan.linear_reps * 6)
        batches = await pairs("throughput", 4)
        seen = await observed.observed_totals()
    finally:
        await bare.close()
        await observed.close()
    step = [(b / LINEAR_STEPS * 1e6, o / LINEAR_STEPS * 1e6) for b, o in linear]
    ratio = statistics.median(o / b for b, o in step)
    runs = plan.throughput_runs // 5
    log(f"observability ({name}): per step x{ratio:.3f} (paired median of {len(step)})")
    return {
        "per_step_us": {
            "bare": round(statistics.median(b for b, _ in step), 2),
            "observed": round(statistics.median(o for _, o in step), 2),
        },
        "per_step_observed_over_bare_paired": round(ratio, 4),
        "throughput_runs_per_s": {
            "bare": round(runs / statistics.median(b for b, _ in batches), 2),
            "observed": round(runs / statistics.median(o for _, o in batches), 2),
        },
        "throughput_time_observed_over_bare_paired": round(
            statistics.median(o / b for b, o in batches), 4
        ),
        "target_per_step_max": TARGETS["observed_over_bare_per_step_max"],
        "met": ratio <= TARGETS["observed_over_bare_per_step_max"],
        "pairs": len(step),
        "sampler": sampler(),
        "tracer": tracer,
        "seen": seen,
    }


async def bench(
    plan: Plan, systems: list[str], workdir: Path, synchronous: str = "FULL"
) -> dict[str, Any]:
    began = time.perf_counter()
    results: dict[str, Figures] = {}
    pg_name = f"batonflow_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    pg_created = False
    extra: dict[str, Any] = {}
    try:
        for name in systems:
            log(f"{name}: measuring")
            if name == "observability":
                extra["observability"] = await paired(plan, workdir, synchronous)
                extra["observability_sdk_spans"] = await paired(
                    plan, workdir, synchronous, lean=False
                )
                extra["observability_untraced"] = await paired(
                    plan, workdir, synchronous, traced=False
                )
                continue
            system: System
            if name == "batonflow_sqlite":
                system = Batonflow(
                    name, f"sqlite:///{workdir / 'batonflow.db'}", workdir, synchronous
                )
            elif name == "batonflow_sqlite_observed":
                system = Batonflow(
                    name,
                    f"sqlite:///{workdir / 'observed.db'}",
                    workdir,
                    synchronous,
                    observed=True,
                )
            elif name in ("batonflow_postgresql", "floor_postgresql"):
                if not pg_created:  # one database on the server for both
                    await _admin(f'CREATE DATABASE "{pg_name}"')
                    pg_created = True
                url = f"{PG_ADMIN.rsplit('/', 1)[0]}/{pg_name}"
                system = (
                    Batonflow(name, url, workdir)
                    if name == "batonflow_postgresql"
                    else FloorPostgres(url)
                )
            elif name == "langgraph":
                system = LangGraph(workdir / "langgraph.db", synchronous)
            else:
                system = Floor(workdir / "floor.db", synchronous)
            results[name] = await measure(system, plan)
    finally:
        if pg_created:
            await _admin(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
    figures = report(results, plan, time.perf_counter() - began)
    figures.update(extra)
    figures["sqlite_synchronous"] = synchronous
    return figures


# -- profiling ------------------------------------------------------------------------------


async def profile(path: Path, workdir: Path, runs: int, postgresql: bool = False) -> None:
    """cProfile the per-step path (SQLite, or PostgreSQL on a fresh database); count the SQL
    statements a step costs and the time they take."""
    pg_name = f"batonflow_profile_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    if postgresql:
        await _admin(f'CREATE DATABASE "{pg_name}"')
        url = f"{PG_ADMIN.rsplit('/', 1)[0]}/{pg_name}"
        system = Batonflow("batonflow_postgresql", url, workdir)
    else:
        system = Batonflow("batonflow_sqlite", f"sqlite:///{workdir / 'batonflow.db'}", workdir)
    try:
        await _profiled(system, path, runs)
    finally:
        if postgresql:
            await _admin(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')


async def _profiled(system: Batonflow, path: Path, runs: int) -> None:
    await system.setup()
    try:
        for _ in range(5):
            await system.linear()
        assert system.platform is not None
        platform = system.platform
        statements: Counter[str] = Counter()
        spent: defaultdict[str, float] = defaultdict(float)
        started: dict[int, float] = {}

        def before(conn: Any, cursor: Any, sql: str, *_: Any) -> None:
            started[id(cursor)] = time.perf_counter()

        def after(conn: Any, cursor: Any, sql: str, *_: Any) -> None:
            head = " ".join(sql.split())[:70]
            statements[head] += 1
            spent[head] += time.perf_counter() - started.pop(id(cursor), time.perf_counter())

        def traced(sql: str) -> None:  # the database threads' statements (count only)
            statements[" ".join(sql.split())[:70]] += 1

        event.listen(platform.engine.sync_engine, "before_cursor_execute", before)
        event.listen(platform.engine.sync_engine, "after_cursor_execute", after)
        for database in (platform.db, platform.writer):
            database.trace(traced)
        profiler = cProfile.Profile()
        began = time.perf_counter()
        profiler.enable()
        for _ in range(runs):
            await system.linear()
        profiler.disable()
        wall = time.perf_counter() - began
        profiler.dump_stats(str(path))
        steps = runs * LINEAR_STEPS
        log(f"profiled {runs} runs: {wall / steps * 1e6:.0f} us per step (profiler on)")
        log("SQL statements per step (count; us per step, timed through the async engine only):")
        for head, count in statements.most_common():
            log(f"  {count / steps:6.2f}  {spent[head] / steps * 1e6:8.0f} us  {head}")
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("cumulative").print_stats(45)
        stats.sort_stats("tottime").print_stats(30)
        print(out.getvalue(), file=sys.stderr)
    finally:
        await system.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="a smaller smoke version (< 30 s)")
    parser.add_argument(
        "--systems", default=",".join(SYSTEMS), help=f"comma-separated subset of {SYSTEMS}"
    )
    parser.add_argument("--dir", type=Path, help="where the SQLite files go (default: a temp dir)")
    parser.add_argument("--profile", type=Path, help="profile our per-step path into this file")
    parser.add_argument(
        "--synchronous",
        choices=("FULL", "NORMAL"),
        default="FULL",
        help="SQLite durability for every system: FULL (commits survive power loss, the default)"
        " or NORMAL (commits survive a process crash)",
    )
    args = parser.parse_args()
    systems = [name.strip() for name in args.systems.split(",") if name.strip()]
    unknown = set(systems) - set(SYSTEMS)
    if unknown:
        parser.error(f"unknown systems: {sorted(unknown)}")
    workdir = Path(tempfile.mkdtemp(prefix="batonflow-bench-", dir=args.dir))
    try:
        if args.profile is not None:
            postgresql = systems == ["batonflow_postgresql"]
            asyncio.run(profile(args.profile, workdir, 10 if args.quick else 40, postgresql))
            return
        result = asyncio.run(
            bench(QUICK if args.quick else FULL, systems, workdir, args.synchronous)
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(result, separators=(",", ":")), flush=True)


if __name__ == "__main__":
    main()
