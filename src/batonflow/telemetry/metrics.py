"""Prometheus metrics of one process, in a registry of its own (tests build many apps); the
README's "Operating Batonflow" shows a scrape. Run, step and model metrics come from the
committed events on the bus (`follow`), so they count what happened, once, in the process that
committed it. Label values are bounded: never run, user or request ids.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from batonflow.events.bus import EventBus
from batonflow.events.contracts import StoredEvent
from batonflow.store.metrics import QueueStats, RunLabels
from batonflow.telemetry.logs import get_logger

if TYPE_CHECKING:
    from batonflow.workflows.spec import WorkflowSpec

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
STEP_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0)
LLM_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
FINISHED = {f"run.{status}": status for status in ("succeeded", "failed", "dead", "cancelled")}
STEP_ENDS = {"step.completed": "succeeded", "step.failed": "failed", "step.skipped": "skipped"}
TOKEN_KINDS = ("input", "output", "cached_input", "cache_write", "reasoning")
UNKNOWN = RunLabels(workflow="unknown", tenant="unknown")

log = get_logger(__name__)
LabelSource = Callable[[Sequence[str]], Awaitable[dict[str, RunLabels]]]
QueueSource = Callable[[], Awaitable[QueueStats]]


class _Callback(Collector):
    def __init__(self, collect: Callable[[], Iterable[Any]]) -> None:
        self._collect = collect

    def collect(self) -> Iterator[Any]:
        yield from self._collect()


class Metrics:
    def __init__(self, *, queue_ttl: float = 5.0, clock: Callable[[], float] = time.monotonic):
        disable_created_metrics()  # type: ignore[no-untyped-call]  # no `_created` series (process-wide)
        self.registry = CollectorRegistry()
        r = self.registry

        def counter(name: str, doc: str, *labels: str) -> Counter:
            return Counter(f"batonflow_{name}", doc, labels, registry=r)

        def histogram(name: str, doc: str, buckets: Sequence[float], *labels: str) -> Histogram:
            return Histogram(f"batonflow_{name}", doc, labels, buckets=buckets, registry=r)

        http = ("method", "route", "status")
        model = ("provider", "model")
        self.http_requests = counter("http_requests", "HTTP requests answered", *http)
        self.http_duration = histogram(
            "http_request_duration_seconds", "Time to answer an HTTP request", HTTP_BUCKETS, *http
        )
        self.runs_started = counter("runs_started", "Runs started", "workflow")
        self.runs_finished = counter("runs_finished", "Runs that ended", "workflow", "status")
        self.step_duration = histogram(
            "step_duration_seconds",
            "Duration of succeeded step attempts",
            STEP_BUCKETS,
            *("workflow", "kind", "capability"),
        )
        self.step_attempts = counter(
            "step_attempts", "Step attempts that ended", "workflow", "kind", "status"
        )
        self.leases_reaped = counter(
            "leases_reaped", "Expired leases returned to the queue", "workflow"
        )
        self.llm_calls = counter("llm_calls", "Model calls (hops)", *model, "status")
        self.llm_latency = histogram(
            "llm_latency_seconds", "Model call latency, retries included", LLM_BUCKETS, *model
        )
        self.llm_ttft = histogram(
            "llm_time_to_first_token_seconds",
            "Time to the first streamed token",
            LLM_BUCKETS,
            *model,
        )
        self.llm_tokens = counter("llm_tokens", "Model tokens by kind", *model, "kind")
        self.llm_cost = counter("llm_cost_usd", "Model spend in US dollars", *model, "tenant")
        self._watched: dict[str, Callable[[], Iterable[Any]]] = {}
        self.registry.register(_Callback(self._families))
        self._labels: dict[str, RunLabels] = {}
        self._tenants: dict[str, str] = {}  # tenant id -> slug
        self._kinds: dict[str, dict[str, str]] = {}  # spec content hash -> step kinds
        self._queue_source: QueueSource | None = None
        self._queue_stats = QueueStats()
        self._queue_read_at: float | None = None
        self._queue_ttl = queue_ttl
        self._clock = clock
        self._pending: list[asyncio.Queue[StoredEvent]] = []  # one per bus followed
        self._source: LabelSource | None = None

    # -- scrape-time readings -------------------------------------------------------------------

    def watch_queue(self, source: QueueSource) -> None:
        """Report the queue from `source`, read at most once per `queue_ttl` seconds."""
        self._queue_source = source
        self._watched["queue"] = self._queue_families

    def watch(self, name: str, families: Callable[[], Iterable[Any]]) -> None:
        """Report what `families` yields at each scrape (a gauge read elsewhere, say)."""
        self._watched[name] = families

    def watch_breakers(self, source: Callable[[], Iterable[tuple[str, str, str]]]) -> None:
        """Report `(scope, name, state)` of every circuit breaker `source` yields."""
        states = ("closed", "open", "half_open")

        def families() -> Iterator[Any]:
            family = GaugeMetricFamily(
                "batonflow_breaker_state",
                "Circuit breaker state (1 for the state each breaker is in)",
                labels=["scope", "name", "state"],
            )
            for scope, name, state in source():
                for candidate in states:
                    family.add_metric([scope, name, candidate], 1.0 if candidate == state else 0.0)
            yield family

        self._watched["breakers"] = families

    def watch_rejections(self, source: Callable[[], Mapping[str, int]]) -> None:
        """Report the rate limiter's rejection counts by limit."""

        def families() -> Iterator[Any]:
            family = CounterMetricFamily(
                "batonflow_rate_limit_rejections",
                "Requests refused by a rate limit",
                labels=["limit"],
            )
            for name, count in sorted(source().items()):
                family.add_metric([name], float(count))
            yield family

        self._watched["rejections"] = families

    def _families(self) -> Iterator[Any]:
        for families in list(self._watched.values()):
            yield from families()

    def _queue_families(self) -> Iterator[Any]:
        stats = self._queue_stats
        depth = GaugeMetricFamily(
            "batonflow_queue_depth", "Work waiting for a worker", labels=["queue"]
        )
        depth.add_metric(["steps"], float(stats.ready_steps))
        depth.add_metric(["runs"], float(stats.queued_runs))
        age = GaugeMetricFamily(
            "batonflow_queue_oldest_age_seconds",
            "How long the oldest waiting item has waited",
            labels=["queue"],
        )
        age.add_metric(["steps"], stats.oldest_ready_seconds)
        age.add_metric(["runs"], stats.oldest_queued_seconds)
        yield depth
        yield age

    async def render(self) -> bytes:
        """The exposition text, after counting every event published so far and reading the
        queue if its reading is older than `queue_ttl`."""
        await self.drain()
        source = self._queue_source
        now = self._clock()
        if source is not None and (
            self._queue_read_at is None or now - self._queue_read_at >= self._queue_ttl
        ):
            self._queue_stats = await source()
            self._queue_read_at = now
        return generate_latest(self.registry)

    # -- events ---------------------------------------------------------------------------------

    async def follow(self, bus: EventBus, labels: LabelSource) -> None:
        """Count the bus's events until cancelled. `labels` reads the runs' labels."""
        self._source = labels
        queue: asyncio.Queue[StoredEvent] = asyncio.Queue()

        def observe(events: Sequence[StoredEvent]) -> None:
            # Count at once what needs no read (the runs' labels are known, nothing is waiting
            # ahead of it); the rest waits, in order, for this task to read the labels.
            known = queue.empty() and all(item.run_id in self._labels for item in events)
            for item in events:
                if item.type == "llm.delta":
                    continue
                if not known:
                    queue.put_nowait(item)
                    continue
                try:
                    self._count_known(item)
                except Exception:  # never let counting break the commit that published it
                    log.warning("metrics.uncounted", event=item.type, exc_info=True)

        self._pending.append(queue)
        try:
            async with bus.observing(observe):
                while True:
                    first = await queue.get()
                    await self._count([first, *self._take()])
        finally:
            self._pending.remove(queue)

    async def drain(self) -> None:
        """Count what has been published and not yet counted."""
        await self._count(self._take())

    def _take(self) -> list[StoredEvent]:
        taken: list[StoredEvent] = []
        for queue in self._pending:
            while not queue.empty():
                taken.append(queue.get_nowait())
        return taken

    async def _count(self, events: list[StoredEvent]) -> None:
        if not events:
            return
        missing = {e.run_id for e in events if e.run_id not in self._labels}
        if missing and self._source is not None:
            try:
                found = await self._source(sorted(missing))
            except Exception:  # metrics must never stop: count these as unknown
                log.warning("metrics.labels_unread", exc_info=True)
            else:
                self._labels.update(found)
                for item in events:
                    if item.run_id in found:
                        self._tenants[item.tenant_id] = found[item.run_id].tenant
        for item in events:
            self._count_known(item)

    def _count_known(self, item: StoredEvent) -> None:
        self.count(item, self._labels.get(item.run_id, UNKNOWN))
        if item.type in FINISHED:
            self._labels.pop(item.run_id, None)

    def learn(self, run_id: str, tenant_id: str, spec: WorkflowSpec) -> None:
        """Take a run's labels from its spec, as an attempt of it starts, so that counting its
        events needs no read (its tenant's slug is read once, with the first run)."""
        tenant = self._tenants.get(tenant_id)
        if tenant is None or run_id in self._labels:
            return
        kinds = self._kinds.get(spec.content_hash)
        if kinds is None:
            kinds = self._kinds[spec.content_hash] = {step.id: step.kind for step in spec.steps}
        if len(self._labels) >= 100_000:  # runs that never end here (they wait, or moved on)
            self._labels.clear()
        self._labels[run_id] = RunLabels(spec.id, tenant, kinds)

    def count(self, item: StoredEvent, run: RunLabels) -> None:
        """Move the metrics one committed event moves."""
        data = item.data
        key = item.step_key or ""
        kind = run.kinds.get(key) or run.kinds.get(key.split("[", 1)[0], "unknown")
        if item.type == "run.started":
            self.runs_started.labels(run.workflow).inc()
        elif item.type in FINISHED:
            self.runs_finished.labels(run.workflow, FINISHED[item.type]).inc()
        elif item.type in STEP_ENDS:
            self.step_attempts.labels(run.workflow, kind, STEP_ENDS[item.type]).inc()
            if item.type == "step.completed":
                self.step_duration.labels(run.workflow, kind, data.get("capability") or "").observe(
                    data["duration_ms"] / 1000
                )
        elif item.type == "step.lease_expired":
            self.leases_reaped.labels(run.workflow).inc()
        elif item.type == "llm.call":
            provider, model = data["provider"], data["model"]
            self.llm_calls.labels(provider, model, data["status"]).inc()
            if data["latency_ms"] is not None:
                self.llm_latency.labels(provider, model).observe(data["latency_ms"] / 1000)
            if data["ttft_ms"] is not None:
                self.llm_ttft.labels(provider, model).observe(data["ttft_ms"] / 1000)
            for token_kind in TOKEN_KINDS:
                tokens = data[f"{token_kind}_tokens"]
                if tokens:
                    self.llm_tokens.labels(provider, model, token_kind).inc(tokens)
            if data["cost_usd"] is not None:
                self.llm_cost.labels(provider, model, run.tenant).inc(
                    float(Decimal(data["cost_usd"]))
                )


async def serve_metrics(
    metrics: Metrics, host: str, port: int, token: str | None = None
) -> asyncio.Server:
    """A small HTTP server answering `GET /metrics` (for `batonflow worker --metrics-port`),
    which has no API to hang it on. With `token`, it wants `Authorization: Bearer <token>`."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=10)
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            writer.close()
            return
        lines = head.decode("latin-1").split("\r\n")
        method, _, rest = lines[0].partition(" ")
        path = rest.partition(" ")[0].partition("?")[0]
        headers = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in lines[1:] if line)
        }
        if method != "GET" or path != "/metrics":
            status, body, kind = "404 Not Found", b"not found\n", "text/plain"
        elif token is not None and not hmac.compare_digest(
            headers.get("authorization", "").encode(), f"Bearer {token}".encode()
        ):
            status, body, kind = "401 Unauthorized", b"unauthorized\n", "text/plain"
        else:
            status, body, kind = "200 OK", await metrics.render(), CONTENT_TYPE
        writer.write(
            f"HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n".encode()
            + body
        )
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()

    return await asyncio.start_server(answer, host, port)
