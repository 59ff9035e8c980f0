"""Gateway benchmark: the LLM gateway's cost per call, against the bare SDKs and litellm.

    .venv/bin/python bench/gateway.py            # full run, about 2.5 min on 2 cores (< 3 min)
    .venv/bin/python bench/gateway.py --quick    # smoke version, about 40 s

Prints exactly one JSON line on stdout; progress goes to stderr. Nothing leaves the machine: the
remote provider is `FakeProvider` (a real loopback HTTP server speaking the OpenAI wire format,
run in this process and event loop, so its cost is in every system's figure alike), litellm reads
its bundled cost map, and a guard refuses (and lists) any name lookup or connection that is not
loopback. Three workloads:

1. overhead per call: one small non-streaming chat completion, latency p50 and p99 and CPU time
   p50 (this process, all threads) in microseconds, for `sdk` (openai.AsyncOpenAI called
   directly), `adapter` (our OpenAIModel.request alone, no gateway), `gateway` (the Gateway as
   `build_gateway` builds it, OpenAI adapter, MemoryLedger), `gateway_db_ledger` (the same with
   the DatabaseLedger on a migrated SQLite file, so it includes the durable ledger write, a
   committed INSERT, and the tenant policy read) and `litellm` (`litellm.acompletion`). All are
   called in rounds, each round in a fresh random order, after a warm-up. Overhead is a
   system's p50 minus the p50 of the same SDK called directly the way that system calls it,
   from the same rounds: litellm and our adapter against `chat.completions.create`, the gateway
   against its adapter alone (the SDK client's `post` with the prepared body, on aiohttp). `gateway_logic_no_io` is the gateway's
   own CPU per call on a model that answers at once (a hot loop: a floor, not a latency);
2. local model tokens per second: `local:smollm2` through the Gateway (streaming, with a publish
   callback, the path steps use) against llama-cpp-python called directly on the same loaded
   `Llama` (`create_chat_completion`, same messages, max_tokens, temperature 0, stream=True),
   alternating. Completion tokens are counted the same way for both: the generated text is
   tokenized again with the model's tokenizer (the gateway's own usage count is reported too).
   The ratio is the median over repetitions of gateway/direct, each pair run back to back;
3. concurrency: 200 gateway calls at once to a fake provider in another process that answers
   each after 50 ms, wall time (ideal: 50 ms), against the same burst through the bare SDK on
   its default httpx transport and on aiohttp (the transport src uses). `cold`: fresh clients
   that have made one call first (most connections open inside the burst); `warm`: a second
   burst on the same clients, the steady state of a long-running worker.

Objects alive after setup are moved out of the collector's reach (`gc.freeze`), so litellm's
large import does not make every full collection slow; collection stays on for every system.
Importing and calling litellm in the process slows every system's calls somewhat (a bigger heap,
colder caches); the differences stay comparable because all systems share the rounds.

`--profile FILE` profiles gateway calls with cProfile (stats to FILE, hottest functions to
stderr), then times the parts of a call in place (model request, retry wrapper, ledger, record,
prompt hash) for the memory and the database ledger.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import gc
import io
import ipaddress
import json
import math
import os
import pstats
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import openai

from batonflow.llm.gateway import Gateway, GatewayConfig
from batonflow.llm.ledger import CallScope, MemoryLedger
from batonflow.llm.local import LocalModel
from batonflow.llm.messages import (
    ModelRequest,
    ModelResponse,
    SystemMessage,
    Usage,
    UserMessage,
)
from batonflow.llm.prices import load_prices
from batonflow.llm.registry import ModelRegistry, build_gateway
from batonflow.settings import Settings
from batonflow.store import migrate
from batonflow.store.db import Database, create_engine
from batonflow.store.llm_calls import DatabaseLedger
from batonflow.store.tenants import ensure_tenant
from batonflow_testkit.fakeserver import FakeProvider, Reply

REMOTE = "openai:gpt-4.1-mini"
LITELLM_MODEL = "openai/gpt-4.1-mini"
LOCAL = "local:smollm2"
PROMPT = "Say hello."
REPLY = "Hello! How can I help you today?"
REMOTE_MAX_TOKENS = 16
LOCAL_SYSTEM = "You are a helpful assistant."
LOCAL_PROMPT = "Write a long story about a lighthouse keeper who finds a message in a bottle."
CONCURRENT_CALLS = 200
CONCURRENT_DELAY = 0.05

TARGETS = {
    "overhead_p50_us_max": 500.0,
    "overhead_ours_over_litellm_max": 0.2,
    "local_tokens_ratio_min": 0.95,
    "concurrent_200_wall_s_max": 0.5,
}


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def utcnow() -> datetime:
    return datetime.now(UTC)


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]


# -- keeping the benchmark off the network ------------------------------------------------------


def _loopback(host: Any) -> bool:
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode()
    if not isinstance(host, str):
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


@contextlib.contextmanager
def loopback_only(blocked: list[str]) -> Iterator[None]:
    """Refuse every name lookup and connection that is not loopback; note each refusal."""
    getaddrinfo = socket.getaddrinfo
    connect = socket.socket.connect
    connect_ex = socket.socket.connect_ex

    def guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not _loopback(host):
            blocked.append(f"lookup {host}")
            raise socket.gaierror(socket.EAI_NONAME, f"bench: no network ({host})")
        return getaddrinfo(host, *args, **kwargs)

    def _check(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address[0]):
            blocked.append(f"connect {address[0]}")
            raise ConnectionRefusedError(f"bench: no network ({address[0]})")

    def guarded_connect(sock: socket.socket, address: Any) -> None:
        _check(sock, address)
        connect(sock, address)

    def guarded_connect_ex(sock: socket.socket, address: Any) -> int:
        _check(sock, address)
        return connect_ex(sock, address)

    socket.getaddrinfo = guarded_getaddrinfo
    socket.socket.connect = guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = guarded_connect_ex  # type: ignore[method-assign]
    try:
        yield
    finally:
        socket.getaddrinfo = getaddrinfo
        socket.socket.connect = connect  # type: ignore[method-assign]
        socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]


def import_litellm() -> Any:
    """litellm, offline and quiet: the bundled cost map, no telemetry, no debug output."""
    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    os.environ.setdefault("LITELLM_LOG", "ERROR")
    import litellm

    if hasattr(litellm, "telemetry"):
        litellm.telemetry = False
    litellm.suppress_debug_info = True
    litellm.set_verbose = False
    return litellm


# -- the systems --------------------------------------------------------------------------------

Call = Callable[[], Awaitable[Any]]


def settings_for(workdir: Path, base_url: str) -> Settings:
    return Settings(data_dir=workdir, openai_base_url=base_url, openai_api_key=None)


def remote_request() -> ModelRequest:
    return ModelRequest(messages=(UserMessage(content=PROMPT),), max_tokens=REMOTE_MAX_TOKENS)


WIRE_MESSAGES = [{"role": "user", "content": PROMPT}]


@dataclass
class Systems:
    """The five ways of making the same call, and what they hold."""

    calls: dict[str, Call]
    clients: list[openai.AsyncOpenAI]
    gateways: dict[str, Gateway]
    db: Database
    close_engine: Callable[[], Awaitable[None]]

    async def close(self) -> None:
        for client in self.clients:
            await client.close()
        self.db.close()
        await self.close_engine()


async def build_systems(server: FakeProvider, workdir: Path, litellm: Any) -> Systems:
    sdk = openai.AsyncOpenAI(base_url=server.openai_url, api_key="x", max_retries=0)
    settings = settings_for(workdir, server.openai_url)
    gateway = build_gateway(settings, MemoryLedger())

    engine = create_engine(f"sqlite:///{workdir / 'ledger.db'}")
    await migrate.upgrade(engine)
    db = Database(engine)
    tenant = await db.write(lambda conn: ensure_tenant(conn, "bench", utcnow()))
    durable = build_gateway(settings, DatabaseLedger(db))

    request = remote_request()
    scope = CallScope(tenant_id=tenant, run_id="bench-run", step_key="call", attempt=1)
    adapter: Any = gateway.models.get(REMOTE)  # the gateway's own adapter and SDK client
    durable_adapter: Any = durable.models.get(REMOTE)
    timeout = gateway.config.timeout

    def direct() -> Awaitable[Any]:
        return sdk.chat.completions.create(
            model="gpt-4.1-mini", messages=WIRE_MESSAGES, max_tokens=REMOTE_MAX_TOKENS
        )

    def adapter_only() -> Awaitable[Any]:
        return adapter.request(request, timeout=timeout)

    def ours() -> Awaitable[Any]:
        return gateway.complete(request, scope, target=REMOTE)

    def ours_durable() -> Awaitable[Any]:
        return durable.complete(request, scope, target=REMOTE)

    def theirs() -> Awaitable[Any]:
        return litellm.acompletion(
            model=LITELLM_MODEL,
            api_base=server.openai_url,
            api_key="x",
            messages=WIRE_MESSAGES,
            max_tokens=REMOTE_MAX_TOKENS,
        )

    return Systems(
        calls={
            "sdk": direct,
            "adapter": adapter_only,
            "gateway": ours,
            "gateway_db_ledger": ours_durable,
            "litellm": theirs,
        },
        clients=[sdk, adapter.sdk, durable_adapter.sdk],
        gateways={"gateway": gateway, "gateway_db_ledger": durable},
        db=db,
        close_engine=engine.dispose,
    )


async def check_replies(systems: Systems) -> None:
    """Every system gets the fake provider's reply: the benchmark times real work."""
    direct = await systems.calls["sdk"]()
    texts = {
        "sdk": direct.choices[0].message.content,
        "adapter": (await systems.calls["adapter"]()).text,
        "gateway": (await systems.calls["gateway"]()).text,
        "gateway_db_ledger": (await systems.calls["gateway_db_ledger"]()).text,
        "litellm": (await systems.calls["litellm"]()).choices[0].message.content,
    }
    wrong = {name: text for name, text in texts.items() if text != REPLY}
    if wrong:
        raise RuntimeError(f"unexpected replies: {wrong}")


# -- 1. overhead per call ---------------------------------------------------------------------


async def overhead(
    server: FakeProvider, workdir: Path, litellm: Any, plan: Plan, rng: random.Random
) -> dict[str, Any]:
    systems = await build_systems(server, workdir, litellm)
    try:
        await check_replies(systems)
        names = list(systems.calls)
        for _ in range(plan.warmup):
            for name in rng.sample(names, len(names)):
                await systems.calls[name]()
        gc.collect()
        gc.freeze()
        samples: dict[str, list[float]] = {name: [] for name in names}
        cpu: dict[str, list[float]] = {name: [] for name in names}
        clock, cpu_clock = time.perf_counter, time.process_time
        for index in range(plan.rounds):
            for name in rng.sample(names, len(names)):
                call = systems.calls[name]
                cpu_began = cpu_clock()
                began = clock()
                await call()
                ended = clock()
                cpu[name].append((cpu_clock() - cpu_began) * 1e6)
                samples[name].append((ended - began) * 1e6)
            if (index + 1) % max(1, plan.rounds // 4) == 0:
                p50 = {name: round(statistics.median(s)) for name, s in samples.items()}
                log(f"overhead: {index + 1}/{plan.rounds} rounds, p50 us {p50}")
        kept = sum(len(getattr(g.ledger, "records", ())) for g in systems.gateways.values())
        log(f"overhead: {kept} calls in the memory ledger (a check that calls were recorded)")
    finally:
        await systems.close()
    figures: dict[str, Any] = {}
    for name, values in samples.items():
        figures[name] = {
            "p50_us": round(percentile(values, 50), 1),
            "p99_us": round(percentile(values, 99), 1),
            "min_us": round(min(values), 1),
            "cpu_p50_us": round(percentile(cpu[name], 50), 1),
            "n": len(values),
        }
    # Each system against the same SDK called directly the way that system calls it: litellm
    # calls `chat.completions.create`; the gateway's adapter sends its prepared body with the
    # SDK client's `post` (on aiohttp), which is what `adapter` measures alone.
    baselines = {"litellm": "sdk", "adapter": "sdk", "gateway": "adapter"}
    baselines["gateway_db_ledger"] = "adapter"
    for name, fig in figures.items():
        base = figures.get(baselines.get(name, ""))
        if base is None:
            continue
        fig["overhead_vs"] = baselines[name]
        fig["overhead_p50_us"] = round(fig["p50_us"] - base["p50_us"], 1)
        fig["overhead_p99_us"] = round(fig["p99_us"] - base["p99_us"], 1)
        fig["cpu_overhead_p50_us"] = round(fig["cpu_p50_us"] - base["cpu_p50_us"], 1)
    return figures


class InstantModel:
    """A model that answers at once: what is left of a gateway call is the gateway's own work."""

    provider = "openai"
    name = "gpt-4.1-mini"

    def __init__(self) -> None:
        self.response = ModelResponse(text=REPLY, usage=Usage(input_tokens=10, output_tokens=5))

    async def request(
        self,
        request: ModelRequest,
        *,
        timeout: float,
        on_text: Any = None,
    ) -> ModelResponse:
        return self.response


async def gateway_logic(plan: Plan) -> dict[str, Any]:
    """The gateway's own CPU per call (no I/O): complete() on an instant model, MemoryLedger,
    mean per call over blocks of 1,000 calls, median block; minus the bare model call."""
    model = InstantModel()
    ledger = MemoryLedger()
    gateway = Gateway(
        GatewayConfig(routes={}), ModelRegistry({"openai": lambda _: model}), ledger, load_prices()
    )
    request = remote_request()
    scope = CallScope(tenant_id="bench", run_id="bench-run", step_key="call", attempt=1)
    block = 1000

    async def ours() -> None:
        for _ in range(block):
            await gateway.complete(request, scope, target=REMOTE)

    async def bare() -> None:
        for _ in range(block):
            await model.request(request, timeout=60.0)

    means: dict[str, list[float]] = {"gateway": [], "model": []}
    await ours()
    for _ in range(max(1, plan.logic_calls // block)):
        for name, run in (("gateway", ours), ("model", bare)):
            ledger.records.clear()
            began = time.perf_counter()
            await run()
            means[name].append((time.perf_counter() - began) / block * 1e6)
    logic = statistics.median(means["gateway"]) - statistics.median(means["model"])
    log(f"gateway logic: {logic:.1f} us per call")
    return {
        "per_call_us": round(logic, 1),
        "per_call_us_min_block": round(min(means["gateway"]), 1),
        "calls": len(means["gateway"]) * block,
    }


# -- 2. local model tokens per second ---------------------------------------------------------


def local_messages() -> list[dict[str, str]]:
    return [
        {"role": "system", "content": LOCAL_SYSTEM},
        {"role": "user", "content": LOCAL_PROMPT},
    ]


async def local_tokens(workdir: Path, plan: Plan) -> dict[str, Any]:
    log("local: loading the model")
    llama = (await asyncio.to_thread(LocalModel().loaded)).llama
    gateway = build_gateway(Settings(data_dir=workdir), MemoryLedger())
    local: Any = gateway.models.get(LOCAL)
    if local.loaded().llama is not llama:
        raise RuntimeError("the gateway's local model is not the Llama the bench calls directly")
    request = ModelRequest(
        messages=(SystemMessage(content=LOCAL_SYSTEM), UserMessage(content=LOCAL_PROMPT)),
        max_tokens=plan.local_max_tokens,
        temperature=0,
    )
    scope = CallScope(tenant_id="bench", run_id="bench-run", step_key="local", attempt=1)

    def count(text: str) -> int:
        return len(llama.tokenize(text.encode(), add_bos=False, special=True))

    async def through_gateway() -> tuple[float, str, int]:
        published: list[dict[str, Any]] = []
        began = time.perf_counter()
        done = await gateway.complete(request, scope, target=LOCAL, publish=published.append)
        elapsed = time.perf_counter() - began
        if "".join(event["text"] for event in published) != done.text:
            raise RuntimeError("the published deltas do not add up to the reply")
        return elapsed, done.text, done.usage.output_tokens

    async def direct() -> tuple[float, str, int]:
        began = time.perf_counter()
        pieces: list[str] = []
        chunks = 0
        for chunk in llama.create_chat_completion(
            messages=local_messages(),
            max_tokens=plan.local_max_tokens,
            temperature=0,
            stream=True,
        ):
            delta = chunk["choices"][0].get("delta", {}).get("content")
            if delta:
                pieces.append(delta)
                chunks += 1
        return time.perf_counter() - began, "".join(pieces), chunks

    runners = {"gateway": through_gateway, "llama_cpp": direct}
    for runner in runners.values():  # warm-up: the first generation fills caches
        await runner()
    gc.collect()
    results: dict[str, list[tuple[float, str, int]]] = {name: [] for name in runners}
    for rep in range(plan.local_reps):
        order = list(runners) if rep % 2 == 0 else list(reversed(runners))
        for name in order:
            results[name].append(await runners[name]())
        rates = {name: round(count(r[-1][1]) / r[-1][0], 1) for name, r in results.items() if r}
        log(f"local: rep {rep + 1}/{plan.local_reps}, tokens/s {rates}")
    figures: dict[str, Any] = {}
    for name, runs in results.items():
        tokens = [count(text) for _, text, _ in runs]
        rates = [n / seconds for n, (seconds, _, _) in zip(tokens, runs, strict=True)]
        figures[name] = {
            "tokens_per_s": round(statistics.median(rates), 1),
            "tokens_per_s_min": round(min(rates), 1),
            "tokens_per_s_max": round(max(rates), 1),
            "completion_tokens": statistics.median(tokens),
            "seconds_median": round(statistics.median(s for s, _, _ in runs), 3),
            "reported_tokens": statistics.median(n for _, _, n in runs),
        }
    figures["gateway"]["reported_tokens_note"] = "usage.output_tokens from the gateway"
    figures["llama_cpp"]["reported_tokens_note"] = "streamed chunks with content"
    # Each repetition runs both back to back, so their ratio shares the machine's conditions.
    paired = [
        (count(ours[1]) / ours[0]) / (count(theirs[1]) / theirs[0])
        for ours, theirs in zip(results["gateway"], results["llama_cpp"], strict=True)
    ]
    figures["paired_ratio_median"] = round(statistics.median(paired), 4)
    figures["paired_ratios"] = [round(r, 3) for r in paired]
    texts = {text for runs in results.values() for _, text, _ in runs}
    figures["same_text"] = len(texts) == 1
    figures["max_tokens"] = plan.local_max_tokens
    return figures


# -- 3. concurrency ---------------------------------------------------------------------------


@contextlib.contextmanager
def server_process(delay: float) -> Iterator[str]:
    """The fake provider in its own process, so the burst's client does not share its CPU with
    the server it calls; yields the server's URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "batonflow_testkit.fakeserver", "--delay", str(delay)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().strip()
    finally:
        proc.terminate()
        proc.wait(5)


async def concurrency(workdir: Path, plan: Plan) -> dict[str, Any]:
    """Bursts of 200 calls against a server (in another process) that answers each after 50 ms.
    `cold`: fresh clients that made one call first, so most connections are opened inside the
    burst; `warm`: a second burst on the same clients, as a long-running worker sees it."""
    request = remote_request()
    scope = CallScope(tenant_id="bench", run_id="bench-run", step_key="fan", attempt=1)
    with server_process(CONCURRENT_DELAY) as url:
        settings = settings_for(workdir, f"{url}/v1")

        async def burst(name: str) -> tuple[float, float]:
            if name == "gateway":  # the client src builds (aiohttp under the SDK)
                gateway = build_gateway(settings, MemoryLedger())
                sdk = gateway.models.get(REMOTE).sdk  # type: ignore[attr-defined]

                def call() -> Awaitable[Any]:
                    return gateway.complete(request, scope, target=REMOTE)

            else:
                http_client = openai.DefaultAioHttpClient() if name == "sdk_aiohttp" else None
                sdk = openai.AsyncOpenAI(
                    base_url=f"{url}/v1", api_key="x", max_retries=0, http_client=http_client
                )

                def call() -> Awaitable[Any]:
                    return sdk.chat.completions.create(
                        model="gpt-4.1-mini", messages=WIRE_MESSAGES, max_tokens=REMOTE_MAX_TOKENS
                    )

            try:
                await call()
                walls = []
                for _ in range(2):
                    gc.collect()
                    began = time.perf_counter()
                    await asyncio.gather(*(call() for _ in range(CONCURRENT_CALLS)))
                    walls.append(time.perf_counter() - began)
                return walls[0], walls[1]
            finally:
                await sdk.close()

        names = ["gateway", "sdk", "sdk_aiohttp"]
        cold: dict[str, list[float]] = {name: [] for name in names}
        warm: dict[str, list[float]] = {name: [] for name in names}
        await burst("sdk")  # warm-up: first-use costs of the SDK and of the server
        for rep in range(plan.concurrent_reps):
            for name in names if rep % 2 == 0 else reversed(names):
                first, second = await burst(name)
                cold[name].append(first)
                warm[name].append(second)
            log(
                f"concurrency: rep {rep + 1}/{plan.concurrent_reps}, "
                + ", ".join(f"{n} {cold[n][-1]:.3f}/{warm[n][-1]:.3f} s" for n in names)
            )
    return {
        name: {
            "cold_wall_s": round(statistics.median(cold[name]), 4),
            "warm_wall_s": round(statistics.median(warm[name]), 4),
            "warm_wall_s_min": round(min(warm[name]), 4),
            "warm_wall_s_max": round(max(warm[name]), 4),
        }
        for name in names
    }


# -- running ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    warmup: int
    rounds: int
    local_reps: int
    local_max_tokens: int
    concurrent_reps: int
    logic_calls: int


FULL = Plan(
    warmup=150,
    rounds=1500,
    local_reps=10,
    local_max_tokens=64,
    concurrent_reps=3,
    logic_calls=20000,
)
QUICK = Plan(
    warmup=50,
    rounds=300,
    local_reps=3,
    local_max_tokens=48,
    concurrent_reps=1,
    logic_calls=3000,
)


def _ratio(top: float | None, bottom: float | None) -> float | None:
    if top is None or bottom is None or bottom <= 0:
        return None
    return round(top / bottom, 4)


async def bench(plan: Plan, workdir: Path, seed: int, sections: set[str]) -> dict[str, Any]:
    began = time.perf_counter()
    rng = random.Random(seed)
    blocked: list[str] = []
    result: dict[str, Any] = {"bench": "gateway"}
    ratios: dict[str, float | None] = {}
    met: dict[str, bool | None] = {}
    with loopback_only(blocked):
        if "overhead" in sections:
            log("overhead: importing litellm")
            litellm = import_litellm()
            async with FakeProvider(default=Reply(REPLY)) as server:
                figures = await overhead(server, workdir, litellm, plan, rng)
            result["overhead_per_call"] = figures
            result["gateway_logic_no_io"] = await gateway_logic(plan)
            ours = figures["gateway"]["overhead_p50_us"]
            durable = figures["gateway_db_ledger"]["overhead_p50_us"]
            theirs = figures["litellm"]["overhead_p50_us"]
            ratios["overhead_ours_over_litellm"] = _ratio(ours, theirs)
            ratios["overhead_ours_db_ledger_over_litellm"] = _ratio(durable, theirs)
            met["overhead_p50_under_500us"] = ours < TARGETS["overhead_p50_us_max"]
            met["overhead_at_most_fifth_of_litellm"] = (
                ratios["overhead_ours_over_litellm"] is not None
                and ratios["overhead_ours_over_litellm"]
                <= TARGETS["overhead_ours_over_litellm_max"]
            )
            met["db_ledger_overhead_p50_under_500us"] = durable < TARGETS["overhead_p50_us_max"]
            met["db_ledger_overhead_at_most_fifth_of_litellm"] = (
                ratios["overhead_ours_db_ledger_over_litellm"] is not None
                and ratios["overhead_ours_db_ledger_over_litellm"]
                <= TARGETS["overhead_ours_over_litellm_max"]
            )
        if "local" in sections:
            figures = await local_tokens(workdir, plan)
            result["local_tokens_per_s"] = figures
            ratios["local_gateway_over_llama_cpp_of_medians"] = _ratio(
                figures["gateway"]["tokens_per_s"], figures["llama_cpp"]["tokens_per_s"]
            )
            ratio = figures["paired_ratio_median"]
            ratios["local_gateway_over_llama_cpp"] = ratio
            met["local_tokens_ratio_at_least_0.95"] = ratio >= TARGETS["local_tokens_ratio_min"]
        if "concurrency" in sections:
            figures = await concurrency(workdir, plan)
            result["concurrent_200x50ms"] = figures
            limit = TARGETS["concurrent_200_wall_s_max"]
            ours = figures["gateway"]
            ratios["concurrent_warm_gateway_over_sdk_aiohttp"] = _ratio(
                ours["warm_wall_s"], figures["sdk_aiohttp"]["warm_wall_s"]
            )
            met["concurrent_200_warm_under_0.5s"] = ours["warm_wall_s"] < limit
            met["concurrent_200_cold_under_0.5s"] = ours["cold_wall_s"] < limit
    result["ratios"] = ratios
    result["targets"] = TARGETS
    result["targets_met"] = met
    result["network_attempts_blocked"] = blocked
    result["plan"] = {
        "warmup": plan.warmup,
        "rounds": plan.rounds,
        "local_reps": plan.local_reps,
        "local_max_tokens": plan.local_max_tokens,
        "concurrent_reps": plan.concurrent_reps,
        "logic_calls": plan.logic_calls,
        "seed": seed,
    }
    result["elapsed_s"] = round(time.perf_counter() - began, 1)
    return result


# -- profiling --------------------------------------------------------------------------------


class Segments:
    """perf_counter around some of a gateway's parts, patched onto the instances (nothing in src
    changes): how long each part of a call takes, in place, with the SDK's code in between."""

    def __init__(self) -> None:
        self.spent: dict[str, list[float]] = {}

    def wrap(self, owner: Any, attribute: str, label: str) -> None:
        inner = getattr(owner, attribute)
        spent = self.spent.setdefault(label, [])

        async def timed(*args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return await inner(*args, **kwargs)
            finally:
                spent.append(time.perf_counter() - began)

        setattr(owner, attribute, timed)

    def clear(self) -> None:
        for values in self.spent.values():
            values.clear()


async def segments(gateway: Gateway, label: str, calls: int) -> None:
    request = remote_request()
    scope = CallScope(tenant_id=TENANT[0], run_id="bench-run", step_key="call", attempt=1)
    parts = Segments()
    model = gateway.models.get(REMOTE)
    parts.wrap(model, "request", "model")
    parts.wrap(gateway.retrier, "call", "with_retries")
    parts.wrap(gateway.accounts, "record", "record")
    parts.wrap(gateway.ledger, "policy", "ledger.policy")
    parts.wrap(gateway.ledger, "record", "ledger.record")
    hashes: list[float] = []
    prompt_hash = ModelRequest.prompt_hash

    def timed_hash(self: ModelRequest) -> str:
        began = time.perf_counter()
        try:
            return prompt_hash(self)
        finally:
            hashes.append(time.perf_counter() - began)

    ModelRequest.prompt_hash = timed_hash  # type: ignore[method-assign]
    try:
        for _ in range(100):
            await gateway.complete(request, scope, target=REMOTE)
        parts.clear()
        hashes.clear()
        total: list[float] = []
        for _ in range(calls):
            began = time.perf_counter()
            await gateway.complete(request, scope, target=REMOTE)
            total.append(time.perf_counter() - began)
    finally:
        ModelRequest.prompt_hash = prompt_hash  # type: ignore[method-assign]
    got = parts.spent

    def p50(values: list[float]) -> float:
        return statistics.median(values) * 1e6

    rows = {
        "whole call": total,
        "  model.request (adapter, SDK, server)": got["model"],
        "  tenacity + asyncio.timeout around it": [
            a - b for a, b in zip(got["with_retries"], got["model"], strict=True)
        ],
        "  ledger.policy": got["ledger.policy"],
        "  accounts.record": got["record"],
        "    prompt_hash": hashes,
        "    ledger.record": got["ledger.record"],
        "  the rest of complete/_hop": [
            t - w - r - p
            for t, w, r, p in zip(
                total, got["with_retries"], got["record"], got["ledger.policy"], strict=True
            )
        ],
    }
    log(f"{label}: p50 per part of a call, {calls} calls, in place (us)")
    for name, values in rows.items():
        log(f"  {p50(values):9.1f}  {name}")


TENANT = ["bench"]


async def profile(path: Path, workdir: Path, calls: int) -> None:
    """cProfile gateway calls (memory ledger) against the fake provider, then time the parts of
    a call in place, for the memory ledger and the database ledger."""
    async with FakeProvider(default=Reply(REPLY)) as server:
        settings = settings_for(workdir, server.openai_url)
        gateway = build_gateway(settings, MemoryLedger())
        request = remote_request()
        scope = CallScope(tenant_id="bench", run_id="bench-run", step_key="call", attempt=1)
        for _ in range(200):
            await gateway.complete(request, scope, target=REMOTE)
        profiler = cProfile.Profile()
        began = time.perf_counter()
        profiler.enable()
        for _ in range(calls):
            await gateway.complete(request, scope, target=REMOTE)
        profiler.disable()
        wall = time.perf_counter() - began
        log(f"profiled {calls} calls: {wall / calls * 1e6:.0f} us per call (profiler on)")
        profiler.dump_stats(str(path))
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("cumulative").print_stats(r"batonflow|tenacity|asyncio/timeouts", 40)
        stats.sort_stats("tottime").print_stats(30)
        print(out.getvalue(), file=sys.stderr)

        await segments(build_gateway(settings, MemoryLedger()), "memory ledger", calls)
        engine = create_engine(f"sqlite:///{workdir / 'ledger.db'}")
        await migrate.upgrade(engine)
        db = Database(engine)
        try:
            TENANT[0] = await db.write(lambda conn: ensure_tenant(conn, "bench", utcnow()))
            durable = build_gateway(settings, DatabaseLedger(db))
            await segments(durable, "database ledger", max(100, calls // 5))
        finally:
            db.close()
            await engine.dispose()


SECTIONS = ("overhead", "local", "concurrency")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="a smaller smoke version (< 45 s)")
    parser.add_argument(
        "--sections", default=",".join(SECTIONS), help=f"comma-separated subset of {SECTIONS}"
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the call order")
    parser.add_argument("--dir", type=Path, help="where the SQLite file goes (default: a temp dir)")
    parser.add_argument("--profile", type=Path, help="profile gateway calls into this file")
    args = parser.parse_args()
    sections = {name.strip() for name in args.sections.split(",") if name.strip()}
    unknown = sections - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {sorted(unknown)}")
    workdir = Path(tempfile.mkdtemp(prefix="batonflow-bench-gateway-", dir=args.dir))
    try:
        if args.profile is not None:
            asyncio.run(profile(args.profile, workdir, 500 if args.quick else 3000))
            return
        plan = QUICK if args.quick else FULL
        result = asyncio.run(bench(plan, workdir, args.seed, sections))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(result, separators=(",", ":")), flush=True)


if __name__ == "__main__":
    main()
