"""HTTP API benchmark: the server over loopback with concurrent clients, on 100,000 seeded runs.

    .venv/bin/python bench/api.py                           # SQLite, about 3 min on 2 cores
    .venv/bin/python bench/api.py --quick                   # smoke version, about 45 s
    .venv/bin/python bench/api.py --database postgresql     # the machine's PostgreSQL
    .venv/bin/python bench/api.py --reseed                  # seed the database again
    .venv/bin/python bench/api.py --observed                # and the overhead of observability

Prints exactly one JSON line on stdout; progress goes to stderr.

Seeding (once per database, about 2 min; reused while it holds the seeded runs; not timed):
10 tenants are registered and a small two-step workflow is stored for each, through the API;
then 100,000 finished runs (10,000 per tenant, created over the last 30 days, each with its step
rows, attempts and the seven events a real run of that workflow stores) are written with bulk
INSERTs, rows built by the same builders the service uses (`new_run_rows`, `new_step_row`,
`event`). The SQLite file lives under `--data-dir`; PostgreSQL gets its own database,
`batonflow_bench_api`, created and migrated here.

The server is `batonflow serve` in its own process on 127.0.0.1 and a free port, one Uvicorn
worker with the in-process executor, logging at WARNING (no line per request), rate limits raised to 1,000,000/minute (so they never
answer 429) and the tenant's active-run quota raised for the start-run burst. The benchmark
process drives it with `--concurrency` requests in flight over kept-alive HTTP/1.1: the read
workloads with `Wire`, a minimal client (one pre-built buffer out, the body read by its
Content-Length), so that the client's own CPU does not crowd the server off the two cores;
start-run and SSE with `httpx.AsyncClient`. Workloads, each after a short warm-up, bounded in
requests and in time:

1. get-run: `GET /runs/{id}` for random seeded runs of one tenant (the run with its steps);
2. list-first: `GET /runs?limit=50`, the newest page of a tenant with 10,000 runs;
3. list-deep: the same, from the cursor of the page 1,000 runs deep (computed from the seeded
   rows, and checked: the page starts with the 1,001st newest run);
4. start-run: `POST /runs` of a one-step no-op workflow on another tenant; every run started is
   then waited for until it has succeeded (the executor really runs them);
5. SSE fan-out: one run of a workflow whose first step sleeps (so the subscribers connect) and
   then several 20 ms steps; 200 clients follow `GET /runs/{id}/events`. Delivery latency is the
   time from the terminal event's `created_at` (the run's transaction time, stored with it) to
   each subscriber parsing it; every subscriber's events are compared with the stored ones.

Errors are any non-2xx answer or transport error, counted per workload.

With `--observed`, two fresh servers then run side by side on the same database, started the
same way: a bare one (logs at WARNING, no tracing; metrics are always counted) and one with
everything an operator turns on: JSON logs at INFO (into its log file), metrics, and tracing
into an in-memory exporter (spans batched from a background thread, as OTLP export is; SQL
statements traced too). The get-run and list-first workloads alternate between the two in
rounds, so that load from elsewhere on the machine hits both alike, and `observability` reports
each server's p50 and p99 and their ratio (target: observed p50 under 1.10 times the bare one).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import math
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import asyncpg
import httpx
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from batonflow.api.cursors import encode_cursor
from batonflow.apps.app import Apps, migration_branches
from batonflow.events.contracts import event
from batonflow.runs.layout import new_run_rows, version_spec
from batonflow.runs.run import AttemptStatus, RunStatus, StepStatus
from batonflow.store import migrate
from batonflow.store import workflows as workflow_store
from batonflow.store.db import create_engine
from batonflow.store.tables import Attempt, Event, Run, Step, Tenant, table

PG_ADMIN = os.environ.get("BATONFLOW_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
PG_DATABASE = "batonflow_bench_api"
TENANTS = 10
RUNS = 100_000
SEED_DAYS = 30
SEED_WORKFLOW = "bench-seeded"
NOOP_WORKFLOW = "bench-noop"
SSE_WORKFLOW = "bench-sse"
PASSWORD = "bench-api-password-0"  # a benchmark account on a throwaway database
PAGE = 50
DEEP = 1000
RATE_LIMIT = "1000000/minute"
READ_TENANT, START_TENANT, SSE_TENANT = 0, 1, 2
WORKER = "bench-seed"

TARGETS = {
    "get_p99_ms_max": 50.0,
    "list_p99_ms_max": 50.0,
    "deep_over_first_max": 1.5,
    "observed_over_bare_p50_max": 1.10,
}
METRICS_TOKEN = "bench-api-metrics-token-0123456789"
ROUNDS = 6


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]


@dataclass(frozen=True)
class Plan:
    requests: int  # per read workload
    seconds: float  # the most any workload may take
    warmup: int
    starts: int
    subscribers: int
    sse_steps: int
    sse_first_ms: int


FULL = Plan(
    requests=6000, seconds=45.0, warmup=200, starts=1000, subscribers=200, sse_steps=8,
    sse_first_ms=4000,
)  # fmt: skip
QUICK = Plan(
    requests=800, seconds=8.0, warmup=50, starts=150, subscribers=200, sse_steps=8,
    sse_first_ms=4000,
)  # fmt: skip


def slug(index: int) -> str:
    return f"bench-api-{index:02d}"


def email(index: int) -> str:
    return f"admin@{slug(index)}.example.com"


# -- workflow sources -------------------------------------------------------------------------


def linear_source(workflow_id: str, steps: list[tuple[str, str]], version: str = "1") -> str:
    """A linear workflow: each step (capability, args in YAML flow style) needs the one before."""
    lines = [f"id: {workflow_id}", f'version: "{version}"', "steps:"]
    for index, (capability, args) in enumerate(steps):
        lines += [f"  - id: s{index:02d}", "    kind: agent", f"    capability: {capability}"]
        if args:
            lines.append(f"    args: {args}")
        if index:
            lines.append(f"    needs: [s{index - 1:02d}]")
    return "\n".join(lines) + "\n"


SEED_SOURCE = linear_source(SEED_WORKFLOW, [("demo.noop", ""), ("demo.noop", "")])
NOOP_SOURCE = linear_source(NOOP_WORKFLOW, [("demo.noop", "")])


def sse_version(plan: Plan) -> str:
    return f"first-{plan.sse_first_ms}ms-then-{plan.sse_steps}x20ms"


def sse_source(plan: Plan) -> str:
    steps = [("demo.sleep", f"{{ms: {plan.sse_first_ms}}}")]
    steps += [("demo.sleep", "{ms: 20}")] * plan.sse_steps
    return linear_source(SSE_WORKFLOW, steps, sse_version(plan))


# -- the database -----------------------------------------------------------------------------


async def prepare_database(kind: str, data_dir: Path, reseed: bool) -> tuple[str, AsyncEngine]:
    """The database URL and an engine on it, migrated; emptied first with `reseed`."""
    data_dir.mkdir(parents=True, exist_ok=True)  # the SQLite file and the server log
    if kind == "sqlite":
        path = data_dir / "api.db"
        if reseed:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        url = f"sqlite:///{path}"
    else:
        admin = await asyncpg.connect(PG_ADMIN)
        try:
            if reseed:
                await admin.execute(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")
            found = await admin.fetchval(
                "SELECT 1 FROM pg_database WHERE datname = $1", PG_DATABASE
            )
            if not found:
                await admin.execute(f"CREATE DATABASE {PG_DATABASE}")
        finally:
            await admin.close()
        url = PG_ADMIN.rsplit("/", 1)[0] + f"/{PG_DATABASE}"
    engine = create_engine(url)
    await migrate.upgrade(engine, branches=migration_branches(Apps()))  # every app's tables
    return url, engine


async def seeded_state(engine: AsyncEngine) -> tuple[int, int]:
    """(bench tenants, seeded runs) already in the database."""
    async with engine.connect() as conn:
        tenants = await conn.scalar(
            select(func.count()).where(table(Tenant).c.slug.like("bench-api-%"))
        )
        runs = await conn.scalar(
            select(func.count()).where(table(Run).c.workflow_id == SEED_WORKFLOW)
        )
    return int(tenants or 0), int(runs or 0)


def id_at(moment: datetime, rng: random.Random) -> str:
    """A run id as `batonflow.ids.new_id` makes it, for a run created at `moment`."""
    millis = int(moment.timestamp() * 1000)
    value = (millis & ((1 << 48) - 1)) << 80 | rng.getrandbits(80)
    value = (value & ~(0xF << 76)) | (0x7 << 76)
    value = (value & ~(0x3 << 62)) | (0x2 << 62)
    return str(uuid.UUID(int=value))


def finished_run(
    tenant_id: str, version: Any, spec: Any, created: datetime, created_by: str, rng: random.Random
) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """The rows of a run of the seeded workflow that has succeeded: run, steps, attempts, events."""
    run, steps = new_run_rows(
        tenant_id=tenant_id,
        version=version,
        spec=spec,
        inputs={},
        ctx={"tenant": tenant_id, "started_by": created_by},
        created_by=created_by,
        now=created,
    )
    run_id = id_at(created, rng)
    started = created + timedelta(milliseconds=rng.uniform(1, 20))
    clock = started
    attempts: list[dict[str, Any]] = []
    events = [
        event(
            "run.queued",
            run_id,
            tenant_id,
            None,
            workflow_id=SEED_WORKFLOW,
            workflow_version=version.version,
        ),
        event("run.started", run_id, tenant_id),
    ]
    for step in steps:
        step_began = clock + timedelta(milliseconds=rng.uniform(0.5, 3))
        clock = step_began + timedelta(milliseconds=rng.uniform(0.2, 2))
        key = f"{run_id}:{step['key']}:1"
        duration = round((clock - step_began).total_seconds() * 1000, 3)
        step.update(
            run_id=run_id,
            status=StepStatus.SUCCEEDED.value,
            attempt=1,
            dispatch=1,
            started_at=step_began,
            finished_at=clock,
            result={},
        )
        attempts.append(
            {
                "run_id": run_id,
                "step_key": step["key"],
                "dispatch": 1,
                "tenant_id": tenant_id,
                "attempt": 1,
                "status": AttemptStatus.SUCCEEDED.value,
                "worker": WORKER,
                "idempotency_key": key,
                "started_at": step_began,
                "finished_at": clock,
                "duration_ms": duration,
                "error": None,
            }
        )
        events.append(
            event(
                "step.started",
                run_id,
                tenant_id,
                step["key"],
                attempt=1,
                dispatch=1,
                worker=WORKER,
                idempotency_key=key,
            )
        )
        events.append(
            event(
                "step.completed",
                run_id,
                tenant_id,
                step["key"],
                attempt=1,
                duration_ms=duration,
                capability="demo.noop",
            )
        )
    events.append(event("run.succeeded", run_id, tenant_id, outputs={}))
    run.update(
        id=run_id,
        status=RunStatus.SUCCEEDED.value,
        outputs={},
        event_seq=len(events),
        started_at=started,
        finished_at=clock,
        updated_at=clock,
    )
    times = [created, started] + [t for a in attempts for t in (a["started_at"], a["finished_at"])]
    event_rows = [
        {
            "tenant_id": tenant_id,
            "run_id": run_id,
            "seq": seq,
            "type": item.type,
            "version": item.version,
            "step_key": item.step_key,
            "data": item.data,
            "created_at": times[min(seq - 1, len(times) - 1)],
        }
        for seq, item in enumerate(events, start=1)
    ]
    return run, steps, attempts, event_rows


async def bulk_seed(engine: AsyncEngine, tenants: list[dict[str, Any]], rng: random.Random) -> None:
    """10,000 finished runs per tenant, spread over the last 30 days, in batched INSERTs."""
    per_tenant = RUNS // len(tenants)
    batch = 2000
    now = datetime.now(UTC)
    began = now - timedelta(days=SEED_DAYS)
    spacing = (now - timedelta(hours=1) - began) / per_tenant
    tables = [table(Run), table(Step), table(Attempt), table(Event)]
    for tenant in tenants:
        async with engine.connect() as conn:
            version = await workflow_store.get_version(conn, tenant["id"], SEED_WORKFLOW, None)
        spec = version_spec(version)
        for start in range(0, per_tenant, batch):
            rows: list[list[dict[str, Any]]] = [[], [], [], []]
            for index in range(start, min(per_tenant, start + batch)):
                created = began + spacing * index + timedelta(seconds=rng.uniform(0, 1))
                run, steps, attempts, events = finished_run(
                    tenant["id"], version, spec, created, tenant["name"], rng
                )
                rows[0].append(run)
                rows[1].extend(steps)
                rows[2].extend(attempts)
                rows[3].extend(events)
            async with engine.begin() as conn:
                for target, values in zip(tables, rows, strict=True):
                    await conn.execute(insert(target), values)
        log(f"seed: {tenant['slug']}: {per_tenant} runs")


# -- the server -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    log_path: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def batonflow_command() -> list[str]:
    beside = Path(sys.executable).parent / "batonflow"
    found = str(beside) if beside.exists() else shutil.which("batonflow")
    if found is None:
        raise RuntimeError("the `batonflow` command is not installed next to this Python")
    return [found]


async def start_server(
    url: str, data_dir: Path, max_active: int, *, variant: str | None = None
) -> Server:
    port = free_port()
    env = {
        **os.environ,
        "BATONFLOW_DATABASE_URL": url,
        "BATONFLOW_DATA_DIR": str(data_dir),
        "BATONFLOW_DEV": "true",
        "BATONFLOW_HOST": "127.0.0.1",
        "BATONFLOW_PORT": str(port),
        "BATONFLOW_EXECUTOR": "inprocess",
        "BATONFLOW_RATE_LIMIT_USER": RATE_LIMIT,
        "BATONFLOW_RATE_LIMIT_TENANT": RATE_LIMIT,
        "BATONFLOW_RATE_LIMIT_GLOBAL": RATE_LIMIT,
        "BATONFLOW_RATE_LIMIT_LOGIN": "1000/minute",
        "BATONFLOW_TENANT_MAX_ACTIVE_RUNS": str(max_active),
        "BATONFLOW_ACCESS_TOKEN_SECONDS": "3600",
        "BATONFLOW_LOG_LEVEL": "WARNING",  # the bare server: no line per request
    }
    command = [*batonflow_command(), "serve"]
    log_path = data_dir / "server.log"
    if variant is not None:
        # Both servers of the paired measurement start the same way; only telemetry differs.
        env |= {"BATONFLOW_METRICS_TOKEN": METRICS_TOKEN, "BATONFLOW_WORKER_ID": f"bench-{variant}"}
        if variant == "observed":
            env |= {"BATONFLOW_LOG_LEVEL": "INFO", "BATONFLOW_LOG_FORMAT": "json"}
        command = [sys.executable, str(Path(__file__).resolve()), "--serve-variant", variant]
        log_path = data_dir / f"server-{variant}.log"
    with log_path.open("wb") as sink:
        process = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT)
    server = Server(process, f"http://127.0.0.1:{port}", log_path)
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient(base_url=server.url) as client:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the server exited; see {log_path}")
            # Uvicorn accepts connections once the lifespan (migration check, executor) is up.
            with contextlib.suppress(httpx.TransportError):
                await client.get("/health/live")
                return server
            if time.monotonic() > deadline:
                server.stop()
                raise RuntimeError(f"the server did not come up in 60 s; see {log_path}")
            await asyncio.sleep(0.2)


def check(response: httpx.Response | Reply, what: str) -> dict[str, Any]:
    if response.status_code >= 300:
        raise RuntimeError(f"{what}: HTTP {response.status_code}: {response.text[:500]}")
    body: dict[str, Any] = response.json()
    return body


async def sign_in(client: httpx.AsyncClient, index: int, register: bool) -> dict[str, Any]:
    """Register tenant `index` (with its first admin) or sign in to it: the session body."""
    if register:
        body = {
            "tenant": slug(index),
            "email": email(index),
            "password": PASSWORD,
            "name": f"Bench Admin {index:02d}",
        }
        return check(await client.post("/api/v1/auth/register", json=body), "register")
    body = {"email": email(index), "password": PASSWORD}
    return check(await client.post("/api/v1/auth/login", json=body), "login")


async def store_workflow(client: httpx.AsyncClient, token: str, source: str) -> None:
    response = await client.post(
        "/api/v1/workflows", json={"source": source}, headers={"Authorization": f"Bearer {token}"}
    )
    check(response, "store workflow")


# -- driving the workloads --------------------------------------------------------------------


@dataclass
class Outcome:
    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    wall: float = 0.0
    bodies: list[Any] = field(default_factory=list)

    def figures(self) -> dict[str, Any]:
        done = self.latencies
        return {
            "p50_ms": round(percentile(done, 50) * 1000, 2) if done else None,
            "p99_ms": round(percentile(done, 99) * 1000, 2) if done else None,
            "rps": round(len(done) / self.wall, 1) if self.wall else 0.0,
            "requests": len(done),
            "errors": sum(self.errors.values()),
            **({"error_kinds": dict(self.errors)} if self.errors else {}),
        }


class Reply:
    """A response read by `Wire`: its status and its body."""

    __slots__ = ("body", "status_code")

    def __init__(self, status_code: int, body: bytes) -> None:
        self.status_code = status_code
        self.body = body

    @property
    def text(self) -> str:
        return self.body.decode()

    def json(self) -> Any:
        return json.loads(self.body)


class WireError(Exception):
    """The server answered something this client does not read (no Content-Length)."""


class Wire:
    """GET requests over kept-alive HTTP/1.1 sockets, for the read workloads.

    httpx costs the benchmark process about a millisecond of CPU per request, and it shares the
    machine's two cores with the server, so with it the latencies measured the client as much as
    the server. This client writes a request as one pre-built buffer and reads the answer by its
    Content-Length (every API answer carries one), so nearly all of the CPU goes to the server.
    One connection per request in flight; a connection that fails is dropped, not reused."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        parsed = httpx.URL(url)
        self.url = url
        self.host = parsed.host
        self.port = parsed.port or 80
        fields = {"Host": f"{self.host}:{self.port}", **headers}
        self._head = "".join(f"{name}: {value}\r\n" for name, value in fields.items()).encode()
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def get(self, path: str, params: dict[str, Any] | None = None) -> Reply:
        target = f"{path}?{urlencode(params)}" if params else path
        request = b"GET %s HTTP/1.1\r\n%s\r\n" % (target.encode(), self._head)
        while self._idle:
            # A kept connection the server closed while idle (Uvicorn closes them after 5 s)
            # fails before any answer: try the next, then a new one, as httpx does.
            reader, writer = self._idle.pop()
            try:
                return await self._exchange(reader, writer, request)
            except (ConnectionError, asyncio.IncompleteReadError) as exc:
                if isinstance(exc, asyncio.IncompleteReadError) and exc.partial:
                    raise
        reader, writer = await asyncio.open_connection(self.host, self.port)
        return await self._exchange(reader, writer, request)

    async def _exchange(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
    ) -> Reply:
        try:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            lowered = head.lower()
            at = lowered.find(b"\r\ncontent-length:")
            if at < 0:
                raise WireError(f"no Content-Length in {head[:200]!r}")
            length = int(head[at + 17 : lowered.index(b"\r\n", at + 2)])
            body = await reader.readexactly(length)
        except BaseException:
            writer.close()
            raise
        if b"\r\nconnection: close" in lowered:
            writer.close()
        else:
            self._idle.append((reader, writer))
        return Reply(int(head[9:12]), body)

    async def aclose(self) -> None:
        for _, writer in self._idle:
            writer.close()
        self._idle.clear()


TRANSPORT_ERRORS = (httpx.HTTPError, OSError, EOFError, WireError)
Request = Callable[[Any, int], Awaitable[Any]]  # (client, number) -> response


async def drive(
    client: Any,
    request: Request,
    *,
    total: int,
    seconds: float,
    concurrency: int,
    keep: bool = False,
) -> Outcome:
    """`total` requests (or as many as fit in `seconds`), `concurrency` at a time."""
    outcome = Outcome()
    issued = 0
    clock = time.perf_counter
    deadline = clock() + seconds

    async def worker() -> None:
        nonlocal issued
        while issued < total and clock() < deadline:
            number = issued
            issued += 1
            began = clock()
            try:
                response = await request(client, number)
            except TRANSPORT_ERRORS as exc:
                outcome.errors[type(exc).__name__] += 1
                continue
            elapsed = clock() - began
            if 200 <= response.status_code < 300:
                outcome.latencies.append(elapsed)
                if keep:
                    outcome.bodies.append(response.json())
            else:
                outcome.errors[str(response.status_code)] += 1

    began = clock()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    outcome.wall = clock() - began
    return outcome


def cpu_seconds(pid: int) -> float | None:
    """User and system CPU time of process `pid` so far (Linux), else None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def workload(
    name: str,
    client: Any,
    request: Request,
    plan: Plan,
    concurrency: int,
    server_pid: int,
) -> dict[str, Any]:
    await drive(client, request, total=plan.warmup, seconds=plan.seconds, concurrency=concurrency)
    cpu_before = cpu_seconds(server_pid)
    outcome = await drive(
        client, request, total=plan.requests, seconds=plan.seconds, concurrency=concurrency
    )
    cpu_after = cpu_seconds(server_pid)
    figures = outcome.figures()
    if cpu_before is not None and cpu_after is not None and outcome.latencies:
        spent = (cpu_after - cpu_before) / (len(outcome.latencies) + sum(outcome.errors.values()))
        figures["server_cpu_ms_per_request"] = round(spent * 1000, 2)
    log(f"{name}: {json.dumps(figures)}")
    return figures


async def reads(
    client: Wire,
    engine: AsyncEngine,
    tenant_id: str,
    plan: Plan,
    concurrency: int,
    server_pid: int,
) -> dict[str, Any]:
    runs_t = table(Run)
    async with engine.connect() as conn:
        ordered = [
            (row.created_at, row.id)
            for row in await conn.execute(
                select(runs_t.c.created_at, runs_t.c.id)
                .where(runs_t.c.tenant_id == tenant_id, runs_t.c.workflow_id == SEED_WORKFLOW)
                .order_by(runs_t.c.created_at.desc(), runs_t.c.id.desc())
            )
        ]
    ids = [run_id for _, run_id in ordered]
    rng = random.Random(7)

    def get_run(http: Wire, _: int) -> Awaitable[Reply]:
        return http.get(f"/api/v1/runs/{rng.choice(ids)}")

    def first(http: Wire, _: int) -> Awaitable[Reply]:
        return http.get("/api/v1/runs", params={"limit": PAGE})

    cursor = encode_cursor(*ordered[DEEP - 1])

    def deep(http: Wire, _: int) -> Awaitable[Reply]:
        return http.get("/api/v1/runs", params={"limit": PAGE, "cursor": cursor})

    page = check(await deep(client, 0), "deep page")
    wanted = ids[DEEP : DEEP + PAGE]
    if [item["id"] for item in page["items"]] != wanted:
        raise RuntimeError("the deep page does not hold the runs 1,001 to 1,050 of the tenant")
    detail = check(await get_run(client, 0), "get run")
    if len(detail["steps"]) != 2 or detail["status"] != "succeeded":
        raise RuntimeError(f"a seeded run reads back wrong: {detail}")
    return {
        "get_run": await workload("get-run", client, get_run, plan, concurrency, server_pid),
        "list_first": await workload("list-first", client, first, plan, concurrency, server_pid),
        "list_deep": await workload("list-deep", client, deep, plan, concurrency, server_pid),
    }


async def paired_reads(
    bare: Wire,
    observed: Wire,
    engine: AsyncEngine,
    tenant_id: str,
    plan: Plan,
    concurrency: int,
) -> dict[str, Any]:
    """get-run and list-first against both servers, alternating in rounds."""
    async with engine.connect() as conn:
        ids = [
            row.id
            for row in await conn.execute(
                select(table(Run).c.id).where(
                    table(Run).c.tenant_id == tenant_id, table(Run).c.workflow_id == SEED_WORKFLOW
                )
            )
        ]
    rng = random.Random(11)
    requests: dict[str, Request] = {
        "get_run": lambda http, _: http.get(f"/api/v1/runs/{rng.choice(ids)}"),
        "list_first": lambda http, _: http.get("/api/v1/runs", params={"limit": PAGE}),
    }
    clients = {"bare": bare, "observed": observed}
    found: dict[str, Any] = {}
    for name, request in requests.items():
        for client in clients.values():
            await drive(
                client, request, total=plan.warmup, seconds=plan.seconds, concurrency=concurrency
            )
        outcomes = {variant: Outcome() for variant in clients}
        ratios = []
        for round_ in range(ROUNDS):
            order = list(clients) if round_ % 2 == 0 else list(reversed(clients))
            p50: dict[str, float] = {}
            for variant in order:
                done = await drive(
                    clients[variant],
                    request,
                    total=plan.requests // ROUNDS,
                    seconds=plan.seconds / ROUNDS,
                    concurrency=concurrency,
                )
                outcomes[variant].latencies += done.latencies
                outcomes[variant].errors += done.errors
                outcomes[variant].wall += done.wall
                p50[variant] = percentile(done.latencies, 50) if done.latencies else math.nan
            ratios.append(p50["observed"] / p50["bare"])
        figures = {variant: outcome.figures() for variant, outcome in outcomes.items()}
        bare_p50, observed_p50 = figures["bare"]["p50_ms"], figures["observed"]["p50_ms"]
        found[name] = {
            **figures,
            "observed_over_bare_p50": round(observed_p50 / bare_p50, 3)
            if bare_p50 and observed_p50
            else None,
            "observed_over_bare_p50_rounds_median": round(sorted(ratios)[len(ratios) // 2], 3),
        }
        log(f"observability {name}: {json.dumps(found[name])}")
    async with httpx.AsyncClient(base_url=observed.url) as scraper:
        scraped = await scraper.get(
            "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
        )
    counted = sum(
        float(line.rsplit(" ", 1)[1])
        for line in check_text(scraped, "metrics").splitlines()
        if line.startswith("batonflow_http_requests_total{")
    )
    ratio = found["get_run"]["observed_over_bare_p50"]
    return {
        **found,
        "observed_requests_counted": counted,
        "target_p50_max": TARGETS["observed_over_bare_p50_max"],
        "met": ratio is not None and ratio <= TARGETS["observed_over_bare_p50_max"],
    }


def check_text(response: httpx.Response | Reply, what: str) -> str:
    if response.status_code >= 300:
        raise RuntimeError(f"{what}: HTTP {response.status_code}: {response.text[:500]}")
    return response.text


def serve_variant(variant: str) -> None:
    """The API as `batonflow serve` builds it, bare (logs at WARNING, no tracing) or observed
    (logs at INFO, tracing into an in-memory exporter), for `--observed`."""
    import uvicorn
    import uvloop
    from opentelemetry.sdk.trace.export import SpanExportResult
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from batonflow.api.app import create_app
    from batonflow.settings import Settings
    from batonflow.telemetry import logs
    from batonflow.telemetry.process import build_telemetry

    class Kept(InMemorySpanExporter):
        """Keeps the latest spans (and a count), so a long benchmark's memory stays flat."""

        exported = 0

        def export(self, spans: Any) -> SpanExportResult:
            self.exported += len(spans)
            if len(self.get_finished_spans()) > 20_000:
                self.clear()
            return super().export(spans)

    settings = Settings()
    logs.configure(settings, command="serve")
    exporter = Kept() if variant == "observed" else None
    telemetry = build_telemetry(settings, span_exporter=exporter, batch=True)

    async def ready(_state: Any) -> None:
        gc.collect()  # as `batonflow serve` does once it is up
        gc.freeze()

    app = create_app(settings, telemetry=telemetry, on_ready=ready)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        log_config=None,
        access_log=False,
        lifespan="on",
    )
    with (
        contextlib.suppress(KeyboardInterrupt),  # how the benchmark stops it
        asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner,  # as `serve` runs
    ):
        runner.run(uvicorn.Server(config).serve())


async def starts(
    client: httpx.AsyncClient, engine: AsyncEngine, tenant_id: str, plan: Plan, concurrency: int
) -> dict[str, Any]:
    body = {"workflow_id": NOOP_WORKFLOW, "inputs": {}}

    def start(http: httpx.AsyncClient, _: int) -> Awaitable[httpx.Response]:
        return http.post("/api/v1/runs", json=body)

    outcome = await drive(
        client, start, total=plan.starts, seconds=plan.seconds, concurrency=concurrency, keep=True
    )
    began = time.perf_counter()
    started = [item["id"] for item in outcome.bodies]
    runs_t = table(Run)
    pending = len(started)
    while pending and time.perf_counter() - began < 120:
        async with engine.connect() as conn:
            done = 0
            for chunk in range(0, len(started), 500):
                done += int(
                    await conn.scalar(
                        select(func.count()).where(
                            runs_t.c.tenant_id == tenant_id,
                            runs_t.c.id.in_(started[chunk : chunk + 500]),
                            runs_t.c.status == RunStatus.SUCCEEDED.value,
                        )
                    )
                    or 0
                )
        pending = len(started) - done
        if pending:
            await asyncio.sleep(0.1)
    figures = outcome.figures()
    figures["succeeded"] = len(started) - pending
    figures["all_succeeded_s"] = round(time.perf_counter() - began, 2) if not pending else None
    log(f"start-run: {json.dumps(figures)}")
    return figures


@dataclass
class Subscriber:
    status: int | None = None
    error: str | None = None
    connected: float | None = None  # wall clock of the first frame
    frames: list[tuple[int, str, float]] = field(default_factory=list)  # seq, type, received


async def follow(client: httpx.AsyncClient, path: str, into: Subscriber) -> None:
    """Read a run's event stream to its end, noting when each frame arrived."""
    try:
        async with client.stream("GET", path, headers={"Accept": "text/event-stream"}) as answer:
            into.status = answer.status_code
            if answer.status_code != 200:
                return
            fields: dict[str, str] = {}
            async for line in answer.aiter_lines():
                if line:
                    if not line.startswith(":"):
                        name, _, value = line.partition(":")
                        fields[name] = value.removeprefix(" ")
                    continue
                if "data" in fields:
                    received = time.time()
                    body = json.loads(fields["data"])
                    into.connected = into.connected or received
                    into.frames.append((body["seq"], fields.get("event", ""), received))
                fields = {}
    except httpx.HTTPError as exc:
        into.error = type(exc).__name__


async def fanout(
    client: httpx.AsyncClient, engine: AsyncEngine, tenant_id: str, plan: Plan
) -> dict[str, Any]:
    """One run, `plan.subscribers` clients following its events to the end."""
    run = check(
        await client.post(
            "/api/v1/runs",
            json={"workflow_id": SSE_WORKFLOW, "version": sse_version(plan), "inputs": {}},
        ),
        "start the SSE run",
    )
    path = f"/api/v1/runs/{run['id']}/events"
    subscribers = [Subscriber() for _ in range(plan.subscribers)]
    began = time.perf_counter()
    async with asyncio.timeout(plan.sse_first_ms / 1000 + 120):
        await asyncio.gather(*(follow(client, path, into) for into in subscribers))
    wall = time.perf_counter() - began
    events_t = table(Event)
    async with engine.connect() as conn:
        stored = [
            (row.seq, row.type, row.created_at.timestamp())
            for row in await conn.execute(
                select(events_t.c.seq, events_t.c.type, events_t.c.created_at)
                .where(events_t.c.run_id == run["id"])
                .order_by(events_t.c.seq)
            )
        ]
    wanted = [(seq, type_) for seq, type_, _ in stored]
    complete = [s for s in subscribers if [(q, t) for q, t, _ in s.frames] == wanted]
    terminal_at = stored[-1][2] if stored else 0.0
    last_type = stored[-1][1] if stored else None
    # Latencies count only subscribers that were already following when the run ended.
    live = [s for s in complete if s.connected is not None and s.connected < terminal_at]
    delays = [s.frames[-1][2] - terminal_at for s in live]
    every = [
        received - stored_at
        for s in live
        for (_, _, received), (_, _, stored_at) in zip(s.frames, stored, strict=True)
        if stored_at > (s.connected or 0)
    ]
    errors = Counter(s.error or str(s.status) for s in subscribers if s.error or s.status != 200)
    figures = {
        "subscribers": plan.subscribers,
        "events": len(stored),
        "terminal_event": last_type,
        "all_delivered": len(complete) == plan.subscribers and last_type == "run.succeeded",
        "delivered_in_order": len(complete),
        "following_live_at_end": len(live),
        "p50_ms": round(percentile(delays, 50) * 1000, 2) if delays else None,
        "p99_ms": round(percentile(delays, 99) * 1000, 2) if delays else None,
        "last_ms": round(max(delays) * 1000, 2) if delays else None,
        "every_event_p50_ms": round(percentile(every, 50) * 1000, 2) if every else None,
        "every_event_p99_ms": round(percentile(every, 99) * 1000, 2) if every else None,
        "wall_s": round(wall, 2),
        "errors": sum(errors.values()),
        **({"error_kinds": dict(errors)} if errors else {}),
    }
    log(f"sse fan-out: {json.dumps(figures)}")
    return figures


async def main(args: argparse.Namespace) -> dict[str, Any]:
    plan = QUICK if args.quick else FULL
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    data_dir = Path(args.data_dir) / args.database
    url, engine = await prepare_database(args.database, data_dir, args.reseed)
    tenants_found, runs_found = await seeded_state(engine)
    fresh = args.reseed or (tenants_found, runs_found) != (TENANTS, RUNS)
    if fresh and (tenants_found or runs_found):
        log(f"the database holds {tenants_found} tenants and {runs_found} runs: seeding it again")
        await engine.dispose()
        url, engine = await prepare_database(args.database, data_dir, reseed=True)
    server = await start_server(url, data_dir, max_active=plan.starts + 100)
    log(f"server at {server.url} (log: {server.log_path})")
    seed_s = None
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as setup:
            began = time.perf_counter()
            sessions = [await sign_in(setup, index, register=fresh) for index in range(TENANTS)]
            if fresh:
                for session in sessions:
                    await store_workflow(setup, session["access_token"], SEED_SOURCE)
                tenants = [session["tenant"] for session in sessions]
                await bulk_seed(engine, tenants, random.Random(42))
                seed_s = round(time.perf_counter() - began, 1)
                log(f"seeded {RUNS} runs across {TENANTS} tenants in {seed_s} s")
            else:
                log(f"reusing the seeded database ({runs_found} runs, {tenants_found} tenants)")
            await store_workflow(setup, sessions[START_TENANT]["access_token"], NOOP_SOURCE)
            await store_workflow(setup, sessions[SSE_TENANT]["access_token"], sse_source(plan))

        def client_for(index: int, connections: int, base: str | None = None) -> httpx.AsyncClient:
            token = sessions[index]["access_token"]
            return httpx.AsyncClient(
                base_url=base or server.url,
                headers={"Authorization": f"Bearer {token}"},
                limits=httpx.Limits(
                    max_connections=connections, max_keepalive_connections=connections
                ),
                timeout=60,
            )

        @contextlib.asynccontextmanager
        async def wire_for(index: int, base: str | None = None) -> AsyncIterator[Wire]:
            token = sessions[index]["access_token"]
            wire = Wire(base or server.url, {"Authorization": f"Bearer {token}"})
            try:
                yield wire
            finally:
                await wire.aclose()

        result: dict[str, Any] = {}
        pid = server.process.pid
        async with wire_for(READ_TENANT) as wire:
            result |= await reads(
                wire, engine, sessions[READ_TENANT]["tenant"]["id"], plan, args.concurrency, pid
            )
        async with client_for(START_TENANT, args.concurrency) as client:
            result["start_run"] = await starts(
                client, engine, sessions[START_TENANT]["tenant"]["id"], plan, args.concurrency
            )
        async with client_for(SSE_TENANT, plan.subscribers + 10) as client:
            result["sse_fanout"] = await fanout(
                client, engine, sessions[SSE_TENANT]["tenant"]["id"], plan
            )
        if args.observed:
            server.stop()
            plain = await start_server(url, data_dir, plan.starts + 100, variant="bare")
            second = await start_server(url, data_dir, plan.starts + 100, variant="observed")
            log(f"bare and observed servers at {plain.url} and {second.url}")
            try:
                async with (
                    wire_for(READ_TENANT, plain.url) as bare,
                    wire_for(READ_TENANT, second.url) as observed,
                ):
                    result["observability"] = await paired_reads(
                        bare,
                        observed,
                        engine,
                        sessions[READ_TENANT]["tenant"]["id"],
                        plan,
                        args.concurrency,
                    )
            finally:
                plain.stop()
                second.stop()
    finally:
        server.stop()
        await engine.dispose()
    return {"seed_s": seed_s, "reused_seed": not fresh, "load_avg_1m_at_start": load, **result}


def report(args: argparse.Namespace, figures: dict[str, Any]) -> dict[str, Any]:
    get, first, deep = figures["get_run"], figures["list_first"], figures["list_deep"]
    workloads = ("get_run", "list_first", "list_deep", "start_run", "sse_fanout")
    observability = figures.get("observability")

    def under(fig: dict[str, Any], limit: float) -> bool:
        return fig["p99_ms"] is not None and fig["p99_ms"] < limit

    deep_ok = (
        deep["p99_ms"] is not None
        and first["p99_ms"] is not None
        and (
            deep["p99_ms"] <= TARGETS["deep_over_first_max"] * first["p99_ms"]
            or deep["p99_ms"] - first["p99_ms"] <= 5.0
        )
    )
    sse = figures.get("sse_fanout")
    return {
        "benchmark": "api",
        "database": args.database,
        "quick": args.quick,
        "runs_seeded": RUNS,
        "tenants": TENANTS,
        "concurrency": args.concurrency,
        "server": {"process": "batonflow serve", "workers": 1, "executor": "inprocess"},
        "rate_limits": RATE_LIMIT,
        "seed_s": figures["seed_s"],
        "reused_seed": figures["reused_seed"],
        "load_avg_1m_at_start": figures["load_avg_1m_at_start"],
        **{name: figures[name] for name in workloads if name in figures},
        **({"observability": observability} if observability else {}),
        "deep_over_first_p99": round(deep["p99_ms"] / first["p99_ms"], 2)
        if deep["p99_ms"] and first["p99_ms"]
        else None,
        "targets": {
            "get_p99_under_50ms": under(get, TARGETS["get_p99_ms_max"]),
            "list_p99_under_50ms": under(first, TARGETS["list_p99_ms_max"])
            and under(deep, TARGETS["list_p99_ms_max"]),
            "deep_as_fast_as_first": deep_ok,
            "no_errors": all(figures[name]["errors"] == 0 for name in workloads if name in figures)
            and (sse is None or sse.get("all_delivered") is True),
            **({"observed_p50_within_10_percent": observability["met"]} if observability else {}),
        },
    }


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run, about 30 s")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--reseed", action="store_true", help="seed the database again")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight")
    parser.add_argument(
        "--observed",
        action="store_true",
        help="also measure a server with logs at INFO, metrics and tracing on, against the bare one",
    )
    parser.add_argument("--serve-variant", choices=("bare", "observed"), help=argparse.SUPPRESS)
    parser.add_argument(
        "--data-dir",
        default=str(Path(tempfile.gettempdir()) / "batonflow-bench-api"),
        help="where the SQLite database and the server log live",
    )
    return parser.parse_args()


if __name__ == "__main__":
    arguments = parse()
    if arguments.serve_variant:
        serve_variant(arguments.serve_variant)
    else:
        print(json.dumps(report(arguments, asyncio.run(main(arguments)))), flush=True)
