"""Metrics from events, scrape-time readings (queue, breakers, rate limits) and the worker's
small /metrics server."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

import httpx
from prometheus_client.parser import text_string_to_metric_families

from batonflow.apps.demo import registry as demo_registry
from batonflow.events.bus import EventBus
from batonflow.events.contracts import StoredEvent
from batonflow.store.metrics import QueueStats, RunLabels
from batonflow.telemetry.metrics import Metrics, serve_metrics
from batonflow.workflows.validation import load_spec

NOW = datetime(2026, 12, 1, tzinfo=UTC)
LABELS = RunLabels("outreach", "acme", {"draft": "agent", "pitch": "llm", "items[0]": "map_item"})


def event(type_: str, step: str | None = None, run_id: str = "r1", **data: object) -> StoredEvent:
    return StoredEvent(1, type_, 1, "t1", run_id, 1, step, dict(data), NOW)


def values(text: str, prefix: str) -> dict[str, float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.startswith(prefix) and not sample.name.endswith("_bucket"):
                labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
                found[f"{sample.name}{{{labels}}}"] = sample.value
    return found


LLM_CALL = {
    "provider": "openai",
    "model": "gpt-4.1-mini",
    "status": "ok",
    "latency_ms": 250.0,
    "ttft_ms": None,
    "input_tokens": 100,
    "output_tokens": 20,
    "cached_input_tokens": 40,
    "cache_write_tokens": 0,
    "reasoning_tokens": 0,
    "cost_usd": "0.000072",
}


def follow_recording(metrics: Metrics, bus: EventBus) -> tuple[asyncio.Task[None], list[list[str]]]:
    """`metrics` following `bus`, and the run ids of every label lookup it makes."""
    asked: list[list[str]] = []

    async def labels(run_ids: Sequence[str]) -> dict[str, RunLabels]:
        asked.append(list(run_ids))
        return dict.fromkeys(run_ids, LABELS)

    return asyncio.create_task(metrics.follow(bus, labels)), asked


async def test_events_on_the_bus_move_bounded_metrics() -> None:
    metrics = Metrics()
    bus = EventBus()
    following, asked = follow_recording(metrics, bus)
    await asyncio.sleep(0)
    bus.publish(
        [
            event("run.started"),
            event(
                "step.completed", "draft", attempt=1, duration_ms=1500.0, capability="email.draft"
            ),
            event("step.failed", "pitch", attempt=1, error={}, retry_in=1.0, exhausted=False),
            event("step.lease_expired", "pitch", attempt=1, dispatch=1, worker="w"),
            event("llm.delta", "pitch", call_id="c", model="m", index=0, text="x"),
            event("llm.call", "pitch", **LLM_CALL),
            event("run.dead", step="pitch", error={}),
        ]
    )
    text = (await metrics.render()).decode()
    following.cancel()
    assert asked == [["r1"]]
    assert values(text, "batonflow_runs_") | values(text, "batonflow_step_") | values(
        text, "batonflow_leases"
    ) == {
        "batonflow_runs_started_total{workflow=outreach}": 1.0,
        "batonflow_runs_finished_total{status=dead,workflow=outreach}": 1.0,
        "batonflow_step_duration_seconds_count{capability=email.draft,kind=agent,workflow=outreach}": 1.0,
        "batonflow_step_duration_seconds_sum{capability=email.draft,kind=agent,workflow=outreach}": 1.5,
        "batonflow_step_attempts_total{kind=agent,status=succeeded,workflow=outreach}": 1.0,
        "batonflow_step_attempts_total{kind=llm,status=failed,workflow=outreach}": 1.0,
        "batonflow_leases_reaped_total{workflow=outreach}": 1.0,
    }
    assert values(text, "batonflow_llm_") == {
        "batonflow_llm_calls_total{model=gpt-4.1-mini,provider=openai,status=ok}": 1.0,
        "batonflow_llm_latency_seconds_count{model=gpt-4.1-mini,provider=openai}": 1.0,
        "batonflow_llm_latency_seconds_sum{model=gpt-4.1-mini,provider=openai}": 0.25,
        "batonflow_llm_tokens_total{kind=input,model=gpt-4.1-mini,provider=openai}": 100.0,
        "batonflow_llm_tokens_total{kind=output,model=gpt-4.1-mini,provider=openai}": 20.0,
        "batonflow_llm_tokens_total{kind=cached_input,model=gpt-4.1-mini,provider=openai}": 40.0,
        "batonflow_llm_cost_usd_total{model=gpt-4.1-mini,provider=openai,tenant=acme}": 7.2e-05,
    }


async def test_scrape_time_readings_are_cached_and_never_stop_the_scrape() -> None:
    clock = [0.0]
    metrics = Metrics(queue_ttl=5.0, clock=lambda: clock[0])
    reads = []

    async def queue() -> QueueStats:
        reads.append(clock[0])
        return QueueStats(ready_steps=len(reads), oldest_ready_seconds=2.5, queued_runs=1)

    metrics.watch_queue(queue)
    metrics.watch_breakers(lambda: [("capability", "email.draft", "open")])
    metrics.watch_rejections(lambda: {"tenant": 3, "user": 1})
    first = (await metrics.render()).decode()
    clock[0] = 4.0
    cached = (await metrics.render()).decode()
    clock[0] = 5.0
    fresh = (await metrics.render()).decode()
    assert reads == [0.0, 5.0]
    assert (
        values(first, "batonflow_queue")
        == values(cached, "batonflow_queue")
        == {
            "batonflow_queue_depth{queue=steps}": 1.0,
            "batonflow_queue_depth{queue=runs}": 1.0,
            "batonflow_queue_oldest_age_seconds{queue=steps}": 2.5,
            "batonflow_queue_oldest_age_seconds{queue=runs}": 0.0,
        }
    )
    assert values(fresh, "batonflow_queue_depth")["batonflow_queue_depth{queue=steps}"] == 2.0
    assert values(first, "batonflow_breaker") | values(first, "batonflow_rate") == {
        "batonflow_breaker_state{name=email.draft,scope=capability,state=closed}": 0.0,
        "batonflow_breaker_state{name=email.draft,scope=capability,state=open}": 1.0,
        "batonflow_breaker_state{name=email.draft,scope=capability,state=half_open}": 0.0,
        "batonflow_rate_limit_rejections_total{limit=tenant}": 3.0,
        "batonflow_rate_limit_rejections_total{limit=user}": 1.0,
    }


async def test_the_worker_serves_metrics_to_the_token_only() -> None:
    metrics = Metrics()
    metrics.runs_started.labels("quick").inc(2)
    server = await serve_metrics(metrics, "127.0.0.1", 0, token="scrape-me")
    port = server.sockets[0].getsockname()[1]
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            good = await client.get("/metrics", headers={"Authorization": "Bearer scrape-me"})
            bad = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
            other = await client.get("/", headers={"Authorization": "Bearer scrape-me"})
    finally:
        server.close()
        await server.wait_closed()
    assert [(r.status_code, r.headers["content-type"]) for r in (good, bad, other)] == [
        (200, "text/plain; version=0.0.4; charset=utf-8"),
        (401, "text/plain"),
        (404, "text/plain"),
    ]
    assert values(good.text, "batonflow_runs_started") == {
        "batonflow_runs_started_total{workflow=quick}": 2.0
    }


async def test_runs_learned_from_their_spec_are_counted_without_a_read() -> None:
    metrics = Metrics()
    bus = EventBus()
    spec = load_spec(
        "id: quick\nversion: '1'\nsteps:\n  - {id: echo, kind: agent, capability: demo.noop}\n",
        "quick.yaml",
        demo_registry(),
    )
    following, asked = follow_recording(metrics, bus)
    await asyncio.sleep(0)
    metrics.learn("r1", "t1", spec)  # the tenant's slug is not known yet: nothing learned
    bus.publish([event("run.started", run_id="r1")])
    await asyncio.sleep(0)
    metrics.learn("r2", "t1", spec)  # now it is, from the first run's read
    bus.publish(
        [
            event("run.started", run_id="r2"),
            event(
                "step.completed", "echo", "r2", attempt=1, duration_ms=2.0, capability="demo.noop"
            ),
        ]
    )
    text = (await metrics.render()).decode()
    following.cancel()
    assert asked == [["r1"]]
    assert values(text, "batonflow_runs_started") | values(text, "batonflow_step_attempts") == {
        "batonflow_runs_started_total{workflow=outreach}": 1.0,
        "batonflow_runs_started_total{workflow=quick}": 1.0,
        "batonflow_step_attempts_total{kind=agent,status=succeeded,workflow=quick}": 1.0,
    }
