"""The fixed workloads whose CPU instructions `bench/compare.py` counts, with one side's code.

    valgrind --tool=callgrind --instr-atstart=no python bench/compare_work.py \\
        --root CHECKOUT --marks LIBRARY --dir WORKDIR [--databases sqlite,postgresql]

Run with `PYTHONPATH=CHECKOUT/src`, so `batonflow` is that checkout's. The workloads are driven
by that checkout's own benchmark modules (`bench/engine.py`'s `Batonflow`, `bench/api.py`'s
seeding), loaded from CHECKOUT by path, so old and new code run the same script each in its own
way. Everything before a measured figure (start-up, migrations, seeding, warm-up) runs without
instrumentation; each figure is framed by callgrind client requests in LIBRARY (zero the
counters, then dump them under the figure's name). Outside valgrind the requests do nothing, so
`python bench/compare_work.py ...` is a dry run of the same code.

Figures, each on a fresh database per kind (SQLite file, or a PostgreSQL database dropped after):
- `per_step`: LINEAR_RUNS runs of a 10-step linear workflow of no-op steps, per step;
- `fanout`: one run of 100 parallel 50 ms steps, per step;
- `throughput`: THROUGHPUT_RUNS 3-step runs started, then drained, per run;
- `api_get`, `api_list_first`, `api_list_deep`: requests into the API's ASGI app in this process
  (no HTTP server, no executor), one at a time, per request, on API_RUNS seeded finished runs.

Each figure is measured `--repeats` times, in turns. Prints one JSON line: each figure's name,
how many units one turn measures and of what, and how many turns.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import gc
import importlib.util
import json
import os
import random
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

LINEAR_RUNS = 3
THROUGHPUT_RUNS = 20
API_RUNS = 1200  # the deep page starts 1,000 runs deep
API_REQUESTS = {"api_get": 50, "api_list_first": 25, "api_list_deep": 25}
WARMUP_REQUESTS = 20


def log(message: str) -> None:
    print(f"[compare-work {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class Marks:
    """Callgrind's client requests, through the small library `bench/compare.py` builds."""

    def __init__(self, library: Path) -> None:
        self.lib = ctypes.CDLL(str(library))
        self.lib.bf_dump.argtypes = [ctypes.c_char_p]
        self.found: dict[str, dict[str, Any]] = {}

    def instrument(self, on: bool) -> None:
        (self.lib.bf_start if on else self.lib.bf_stop)()

    @contextlib.contextmanager
    def measure(self, name: str, units: int, unit: str) -> Iterator[None]:
        """One repetition of a figure, dumped as `name#n`."""
        found = self.found.setdefault(name, {"units": units, "unit": unit, "repeats": 0})
        label = f"{name}#{found['repeats']}"
        gc.collect()
        self.lib.bf_zero()
        began = time.perf_counter()
        yield
        self.lib.bf_dump(label.encode())
        found["repeats"] += 1
        log(f"{label}: {units} {unit}s in {time.perf_counter() - began:.1f} s")


def load(root: Path, name: str) -> Any:
    """One of the checkout's benchmark modules, by path (not this folder's namesake)."""
    spec = importlib.util.spec_from_file_location(f"side_{name}", root / "bench" / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


@contextlib.asynccontextmanager
async def pg_database(admin_url: str, name: str) -> AsyncIterator[str]:
    import asyncpg

    async def run(statement: str) -> None:
        conn = await asyncpg.connect(admin_url)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    await run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await run(f'CREATE DATABASE "{name}"')
    try:
        yield f"{admin_url.rsplit('/', 1)[0]}/{name}"
    finally:
        await run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def engine_figures(
    root: Path, marks: Marks, kind: str, workdir: Path, tag: str, repeats: int
) -> None:
    engine = load(root, "engine")
    async with contextlib.AsyncExitStack() as stack:
        if kind == "sqlite":
            url = f"sqlite:///{workdir / 'engine.db'}"
        else:
            url = await stack.enter_async_context(
                pg_database(engine.PG_ADMIN, f"batonflow_compare_{tag}_engine")
            )
        system = engine.Batonflow(f"batonflow_{kind}", url, workdir)
        await system.setup()
        try:
            for _ in range(3):
                await system.linear()
            await system.fanout()
            await system.throughput(10)
            marks.instrument(True)
            steps = engine.LINEAR_STEPS
            for _ in range(repeats):  # in turns, so a burst elsewhere spoils one turn at most
                with marks.measure(f"{kind}.per_step", LINEAR_RUNS * steps, "step"):
                    for _ in range(LINEAR_RUNS):
                        await system.linear()
                with marks.measure(f"{kind}.fanout", engine.FANOUT_STEPS, "step"):
                    await system.fanout()
                with marks.measure(f"{kind}.throughput", THROUGHPUT_RUNS, "run"):
                    await system.throughput(THROUGHPUT_RUNS)
            marks.instrument(False)
        finally:
            await system.close()


class Lifespan:
    """The ASGI lifespan protocol, as a server speaks it, around an app."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None

    async def _expect(self, wanted: str) -> None:
        message = await self.outbox.get()
        if message["type"] != wanted:
            raise RuntimeError(f"the app's lifespan answered {message}")

    async def __aenter__(self) -> Lifespan:
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
        self.task = asyncio.create_task(self.app(scope, self.inbox.get, self.outbox.put))
        await self.inbox.put({"type": "lifespan.startup"})
        await self._expect("lifespan.startup.complete")
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.inbox.put({"type": "lifespan.shutdown"})
        await self._expect("lifespan.shutdown.complete")
        assert self.task is not None
        await self.task


async def asgi_get(app: Any, path: str, query: str, token: str) -> tuple[int, bytes]:
    """One GET straight into the ASGI app: no client library, no sockets."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"bench"), (b"authorization", f"Bearer {token}".encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
        "state": {},
    }
    sent = False
    status = 0
    body: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()  # the client never disconnects
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            body.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(body)


def api_environment(url: str, data_dir: Path, runs: int) -> dict[str, str]:
    """What `bench/api.py` gives its server, minus the executor (reads need none)."""
    limit = "1000000/minute"
    return {
        "BATONFLOW_DATABASE_URL": url,
        "BATONFLOW_DATA_DIR": str(data_dir),
        "BATONFLOW_DEV": "true",
        "BATONFLOW_EXECUTOR": "none",
        "BATONFLOW_RATE_LIMIT_USER": limit,
        "BATONFLOW_RATE_LIMIT_TENANT": limit,
        "BATONFLOW_RATE_LIMIT_GLOBAL": limit,
        "BATONFLOW_RATE_LIMIT_LOGIN": "1000/minute",
        "BATONFLOW_TENANT_MAX_ACTIVE_RUNS": str(runs + 100),
        "BATONFLOW_ACCESS_TOKEN_SECONDS": "3600",
        "BATONFLOW_LOG_LEVEL": "WARNING",
    }


async def api_figures(
    root: Path, marks: Marks, kind: str, workdir: Path, tag: str, repeats: int
) -> None:
    import httpx
    from sqlalchemy import select

    from batonflow.api.app import create_app
    from batonflow.api.cursors import encode_cursor
    from batonflow.settings import Settings
    from batonflow.store.tables import Run, table

    api = load(root, "api")
    api.RUNS = API_RUNS
    api.PG_DATABASE = f"batonflow_compare_{tag}_api"
    data_dir = workdir / "api"
    url, engine = await api.prepare_database(kind, data_dir, True)
    saved = dict(os.environ)
    os.environ.update(api_environment(url, data_dir, API_RUNS))
    try:
        app = create_app(Settings())
        async with Lifespan(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                session = await api.sign_in(client, 0, register=True)
                token = session["access_token"]
                await api.store_workflow(client, token, api.SEED_SOURCE)
            tenant = session["tenant"]
            await api.bulk_seed(engine, [tenant], random.Random(42))
            runs = table(Run)
            async with engine.connect() as conn:
                ordered = [
                    (row.created_at, row.id)
                    for row in await conn.execute(
                        select(runs.c.created_at, runs.c.id)
                        .where(runs.c.tenant_id == tenant["id"])
                        .order_by(runs.c.created_at.desc(), runs.c.id.desc())
                    )
                ]
            ids = [run_id for _, run_id in ordered]
            cursor = encode_cursor(*ordered[api.DEEP - 1])
            rng = random.Random(7)
            requests: dict[str, Callable[[], tuple[str, str]]] = {
                "api_get": lambda: (f"/api/v1/runs/{rng.choice(ids)}", ""),
                "api_list_first": lambda: ("/api/v1/runs", f"limit={api.PAGE}"),
                "api_list_deep": lambda: ("/api/v1/runs", f"limit={api.PAGE}&cursor={cursor}"),
            }
            for name, request in requests.items():
                for _ in range(WARMUP_REQUESTS):
                    status, body = await asgi_get(app, *request(), token)
                    if status != 200:
                        raise RuntimeError(f"{name}: HTTP {status}: {body[:300]!r}")
            page = json.loads((await asgi_get(app, *requests["api_list_deep"](), token))[1])
            if [item["id"] for item in page["items"]] != ids[api.DEEP : api.DEEP + api.PAGE]:
                raise RuntimeError("the deep page does not hold the runs 1,001 to 1,050")
            marks.instrument(True)
            for _ in range(repeats):
                for name, request in requests.items():
                    count = API_REQUESTS[name]
                    with marks.measure(f"{kind}.{name}", count, "request"):
                        for _ in range(count):
                            status, _ = await asgi_get(app, *request(), token)
                            if status != 200:
                                raise RuntimeError(f"{name}: HTTP {status}")
            marks.instrument(False)
    finally:
        os.environ.clear()
        os.environ.update(saved)
        await engine.dispose()


async def main(args: argparse.Namespace) -> dict[str, Any]:
    import batonflow

    root = args.root.resolve()
    if root not in Path(batonflow.__file__).resolve().parents:
        raise SystemExit(f"batonflow comes from {batonflow.__file__}, not {root}: set PYTHONPATH")
    marks = Marks(args.marks)
    tag = f"{os.getpid()}"
    parts = {"engine": engine_figures, "api": api_figures}
    for kind in args.databases.split(","):
        for part in (parts[name] for name in args.workloads.split(",")):
            folder = args.dir / f"{kind}-{part.__name__}"
            folder.mkdir(parents=True)
            await part(root, marks, kind, folder, tag, args.repeats)
    return {"root": str(root), "figures": marks.found}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--root", type=Path, required=True, help="the checkout whose code runs")
    parser.add_argument("--marks", type=Path, required=True, help="the client-request library")
    parser.add_argument("--dir", type=Path, required=True, help="an empty folder for databases")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--workloads", default="engine,api", help="engine, api or both")
    parser.add_argument("--repeats", type=int, default=3, help="turns of each figure")
    print(json.dumps(asyncio.run(main(parser.parse_args()))), flush=True)
