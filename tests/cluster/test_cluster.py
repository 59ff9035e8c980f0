"""Celery execution with real worker processes on Redis and RabbitMQ, on both databases: steps
routed to three queues served by three processes; duplicated, stale and out-of-order wake-ups
that run nothing twice; a lost wake-up that the sweep sends again."""

from __future__ import annotations

import asyncio
import signal
import threading
from collections import Counter
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from batonflow.agents.registry import build_registry
from batonflow.apps.demo import agents as demo
from batonflow.cluster.broker import Publisher, celery_app
from batonflow.cluster.routes import Routes
from batonflow.runs.service import cancel_run, start_run
from batonflow.settings import Settings
from batonflow.store.db import reading
from batonflow.store.tables import Attempt, Step
from batonflow.store.tenants import ensure_tenant
from batonflow.store.workflows import save_version
from batonflow.workflows.attempts import Wake
from batonflow.workflows.checkpoint import Checkpointer, SpecCache
from batonflow.workflows.validation import load_spec
from tests.cluster.conftest import TENANT, Queues, Workers, settled, worker_id
from tests.conftest import ACTOR, now, start
from tests.workflows import crashapp

pytestmark = pytest.mark.slow

REGISTRY = build_registry([*demo.AGENTS, *crashapp.app.agents])

THREE = """
id: three-queues
version: 1
steps:
  - {id: greet, kind: agent, capability: demo.sleep, args: {value: hi}}
  - {id: price, kind: agent, capability: quote.price, needs: [greet], args: {symbol: abc}}
  - {id: close, kind: agent, capability: demo.noop, needs: [price]}
outputs: {price: "{{ state.price.price }}"}
"""

JOURNALLED = """
id: journalled
version: 1
inputs:
  journal: {type: string}
steps:
  - {id: fetch, kind: agent, capability: crash.work, args: {journal: "{{ inputs.journal }}"}}
  - {id: left, kind: agent, capability: crash.work, needs: [fetch],
     args: {journal: "{{ inputs.journal }}"}}
  - {id: right, kind: agent, capability: crash.work, needs: [fetch],
     args: {journal: "{{ inputs.journal }}"}}
  - {id: join, kind: agent, capability: crash.work, needs: [left, right],
     args: {journal: "{{ inputs.journal }}"}}
"""
JOURNAL_STEPS = ["fetch", "join", "left", "right"]


async def _tenant(engine: AsyncEngine) -> str:
    async with engine.begin() as conn:
        return await ensure_tenant(conn, TENANT, now())


async def _steps(engine: AsyncEngine, run_ids: list[str]) -> list[tuple[str, str, str | None]]:
    async with reading(engine) as conn:
        rows = await conn.execute(
            select(Step.run_id, Step.key, Step.queue).where(Step.run_id.in_(run_ids))
        )
        return sorted((row.run_id, row.key, row.queue) for row in rows)


async def _attempts(engine: AsyncEngine, run_ids: list[str]) -> list[tuple[str, str, int, str]]:
    async with reading(engine) as conn:
        rows = await conn.execute(
            select(Attempt.run_id, Attempt.step_key, Attempt.dispatch, Attempt.status).where(
                Attempt.run_id.in_(run_ids)
            )
        )
        return sorted((r.run_id, r.step_key, r.dispatch, r.status) for r in rows)


async def _start_announced(
    engine: AsyncEngine, tenant_id: str, spec: str, inputs: dict[str, str], count: int, queue: str
) -> tuple[list[str], list[Wake]]:
    """Queue runs and start them here, as a worker's commit would: their first steps are
    recorded as announced on `queue`. The wake-ups are returned, not sent."""
    run_ids = [(await start(engine, tenant_id, spec, inputs, REGISTRY)).id for _ in range(count)]
    checkpointer = Checkpointer(SpecCache(), worker="tester", lease_seconds=5)
    checkpointer.route = Routes({}, queue, REGISTRY)
    async with engine.begin() as conn:
        result = await checkpointer.commit(conn, now(), start_runs=run_ids)
    return run_ids, result.ready


async def test_steps_go_to_three_queues_served_by_three_processes(
    store: tuple[str, AsyncEngine], workers: Workers, queues: Queues
) -> None:
    engine = store[1]
    tenant_id = await _tenant(engine)
    sdr, finance, pipeline = queues("agents.sdr"), queues("agents.finance"), queues("pipeline")
    # By capability (demo.sleep, demo.noop) and by the agent that provides one (demo-market).
    routes = f"demo.sleep={sdr},demo-market={finance},demo.noop={pipeline}"
    procs = {
        queue: workers.celery(queues, [queue], queue_routes=routes, default_queue=queues("none"))
        for queue in (sdr, finance, pipeline)
    }
    run_ids = [(await start(engine, tenant_id, THREE, {}, REGISTRY)).id for _ in range(4)]
    assert await settled(engine, run_ids, workers) == dict.fromkeys(run_ids, "succeeded")
    by_step = {"greet": sdr, "price": finance, "close": pipeline}
    assert await _steps(engine, run_ids) == sorted(
        (run_id, key, queue) for run_id in run_ids for key, queue in by_step.items()
    )
    async with reading(engine) as conn:
        rows = await conn.execute(
            select(Attempt.step_key, Attempt.worker).where(Attempt.run_id.in_(run_ids))
        )
        ran = sorted({(row.step_key, row.worker) for row in rows})
    assert ran == sorted((key, worker_id(procs[queue])) for key, queue in by_step.items())
    assert [queues.depth(q) for q in (sdr, finance, pipeline)] == [0, 0, 0]


async def test_a_step_on_a_queue_the_worker_serves_is_handed_over_and_others_published(
    store: tuple[str, AsyncEngine], workers: Workers, queues: Queues
) -> None:
    engine = store[1]
    tenant_id = await _tenant(engine)
    sdr, finance, pipeline = queues("agents.sdr"), queues("agents.finance"), queues("pipeline")
    routes = f"demo.sleep={sdr},demo-market={finance},demo.noop={pipeline}"
    both = workers.celery(queues, [sdr, finance], queue_routes=routes, default_queue=sdr)
    last = workers.celery(queues, [pipeline], queue_routes=routes, default_queue=sdr)
    run_ids = [(await start(engine, tenant_id, THREE, {}, REGISTRY)).id for _ in range(3)]
    assert await settled(engine, run_ids, workers) == dict.fromkeys(run_ids, "succeeded")
    # `price` was claimed by the commit of `greet` in the worker serving its queue (no wake-up
    # was sent for it; it records its route). `close` goes to a queue that worker does not
    # serve: published.
    by_step = {"greet": sdr, "price": finance, "close": pipeline}
    assert await _steps(engine, run_ids) == sorted(
        (run_id, key, queue) for run_id in run_ids for key, queue in by_step.items()
    )
    async with reading(engine) as conn:
        rows = await conn.execute(
            select(Attempt.step_key, Attempt.worker).where(Attempt.run_id.in_(run_ids))
        )
        ran = sorted({(row.step_key, row.worker) for row in rows})
    assert ran == sorted(
        [("greet", worker_id(both)), ("price", worker_id(both)), ("close", worker_id(last))]
    )
    assert [queues.depth(q) for q in (sdr, finance, pipeline)] == [0, 0, 0]


HANDED = """
id: handed
version: 1
inputs:
  journal: {type: string}
steps:
  - {id: fetch, kind: agent, capability: crash.work, args: {journal: "{{ inputs.journal }}"}}
  - {id: nap, kind: agent, capability: crash.work, needs: [fetch],
     args: {journal: "{{ inputs.journal }}", ms: 3000}}
  - {id: close, kind: agent, capability: crash.work, needs: [nap],
     args: {journal: "{{ inputs.journal }}"}}
"""


async def _running_here(engine: AsyncEngine, run_id: str, key: str, workers: Workers) -> None:
    """Wait until step `key` runs, claimed in the commit that made it ready: never announced."""
    for _ in range(600):
        async with reading(engine) as conn:
            found = (
                await conn.execute(
                    select(Step.status, Step.published_at).where(
                        Step.run_id == run_id, Step.key == key
                    )
                )
            ).one()
        if found.status == "running":
            break
        await asyncio.sleep(0.05)
    assert tuple(found) == ("running", None), workers.output()


async def test_a_worker_killed_after_a_hand_over_loses_nothing_and_runs_nothing_twice(
    store: tuple[str, AsyncEngine], workers: Workers, queues: Queues, tmp_path: Path
) -> None:
    engine = store[1]
    tenant_id = await _tenant(engine)
    queue = queues("work")
    journal = tmp_path / "journal.txt"
    first = workers.celery(queues, [queue], default_queue=queue)
    run = await start(engine, tenant_id, HANDED, {"journal": str(journal)}, REGISTRY)
    await _running_here(engine, run.id, "nap", workers)
    first.kill()  # kill -9 while `nap`, claimed by `fetch`'s commit, sleeps
    first.wait(timeout=10)
    workers.procs.remove(first)
    second = workers.celery(queues, [queue], default_queue=queue)
    # The lease expires (5 s), the reaper makes `nap` ready, the sweep publishes it.
    assert await settled(engine, [run.id], workers) == {run.id: "succeeded"}
    executions = Counter(line.split(" ")[1] for line in journal.read_text().splitlines())
    assert dict(executions) == {"fetch": 1, "nap": 1, "close": 1}
    async with reading(engine) as conn:
        rows = await conn.execute(
            select(Attempt.step_key, Attempt.dispatch, Attempt.status, Attempt.worker).where(
                Attempt.run_id == run.id
            )
        )
        attempts = sorted((r.step_key, r.dispatch, r.status, r.worker) for r in rows)
    assert attempts == [
        ("close", 1, "succeeded", worker_id(second)),
        ("fetch", 1, "succeeded", worker_id(first)),
        ("nap", 1, "lost", worker_id(first)),
        ("nap", 2, "succeeded", worker_id(second)),
    ]
    assert queues.depth(queue) == 0


async def test_duplicated_stale_and_reordered_wake_ups_run_no_step_twice(
    store: tuple[str, AsyncEngine], workers: Workers, queues: Queues, tmp_path: Path
) -> None:
    engine = store[1]
    tenant_id = await _tenant(engine)
    queue = queues("work")
    journal = tmp_path / "journal.txt"
    run_ids, wakes = await _start_announced(
        engine, tenant_id, JOURNALLED, {"journal": str(journal)}, 6, queue
    )
    assert sorted((w.key, w.dispatch, w.queue) for w in wakes) == [("fetch", 1, queue)] * 6
    publisher = Publisher(celery_app(Settings(broker_url=queues.url, default_queue=queue)))
    stale = [Wake(w.tenant_id, w.run_id, w.key, 0, queue) for w in wakes]
    ahead = [Wake(w.tenant_id, w.run_id, w.key, 2, queue) for w in wakes]
    other_tenant = [Wake("another-tenant", w.run_id, w.key, 1, queue) for w in wakes]
    # Out of order: a wake-up for a later dispatch, and another tenant's, come first.
    publisher.send([*ahead, *other_tenant, *wakes, *wakes, *stale, *wakes])
    publisher.close()
    # Two processes, and wake-ups announced again whenever a step waits half a second.
    for _ in range(2):
        workers.celery(queues, [queue], default_queue=queue, republish_seconds="0.5")
    assert await settled(engine, run_ids, workers) == dict.fromkeys(run_ids, "succeeded")

    executions = Counter(tuple(line.split(" ")[:2]) for line in journal.read_text().splitlines())
    expected = {(run_id, key): 1 for run_id in run_ids for key in JOURNAL_STEPS}
    assert dict(executions) == expected
    assert await _attempts(engine, run_ids) == sorted(
        (run_id, key, 1, "succeeded") for run_id in run_ids for key in JOURNAL_STEPS
    )
    assert queues.depth(queue) == 0


async def test_a_lost_wake_up_is_sent_again_by_the_sweep(
    store: tuple[str, AsyncEngine], workers: Workers, queues: Queues, tmp_path: Path
) -> None:
    engine = store[1]
    tenant_id = await _tenant(engine)
    queue = queues("work")
    journal = tmp_path / "journal.txt"
    # Announced, never sent: the process that committed died before publishing.
    run_ids, wakes = await _start_announced(
        engine, tenant_id, JOURNALLED, {"journal": str(journal)}, 3, queue
    )
    async with reading(engine) as conn:
        rows = await conn.execute(select(Step.published_at).where(Step.key == "fetch"))
        announced: set[datetime] = {row.published_at for row in rows}
    assert (len(wakes), len(announced), queues.depth(queue)) == (3, 1, 0)

    workers.celery(queues, [queue], default_queue=queue, republish_seconds="1")
    assert await settled(engine, run_ids, workers) == dict.fromkeys(run_ids, "succeeded")
    async with reading(engine) as conn:
        rows = await conn.execute(select(Step.published_at).where(Step.key == "fetch"))
        again = {row.published_at for row in rows}
    assert again.isdisjoint(announced)  # each was announced anew, then claimed
    assert await _attempts(engine, run_ids) == sorted(
        (run_id, key, 1, "succeeded") for run_id in run_ids for key in JOURNAL_STEPS
    )


async def test_cancelling_a_run_stops_its_attempt_on_the_worker_at_once(
    store: tuple[str, AsyncEngine], workers: Workers, queues: Queues, tmp_path: Path
) -> None:
    engine = store[1]
    tenant_id = await _tenant(engine)
    queue = queues("work")
    # Heartbeats too far apart to be what stops the attempt: the broadcast must.
    workers.celery(
        queues, [queue], default_queue=queue, heartbeat_seconds="60", lease_seconds="120"
    )
    journal = str(tmp_path / "journal.txt")
    # `nap` is claimed by the commit of `fetch`, in the same worker: no message names it.
    spec = f"""
id: long
version: 1
steps:
  - {{id: fetch, kind: agent, capability: crash.work, args: {{journal: '{journal}'}}}}
  - {{id: nap, kind: agent, capability: crash.work, needs: [fetch],
     args: {{journal: '{journal}', ms: 10000}}}}
"""
    run = await start(engine, tenant_id, spec, {}, REGISTRY)
    await _running_here(engine, run.id, "nap", workers)
    async with engine.begin() as conn:
        await cancel_run(
            conn, tenant_id=tenant_id, run_id=run.id, actor=ACTOR, reason="stop", now=now()
        )
    publisher = Publisher(celery_app(Settings(broker_url=queues.url)))
    publisher.check_leases()  # what the API's announcer does when a run is cancelled
    publisher.close()
    gone = f"lease on step nap of run {run.id} is gone; stopping the attempt"
    for _ in range(200):
        if gone in workers.output():
            break
        await asyncio.sleep(0.05)
    assert gone in workers.output()
    assert await settled(engine, [run.id], workers) == {run.id: "cancelled"}


class Collector(ThreadingHTTPServer):
    """An OTLP/HTTP collector on loopback: keeps the spans workers export."""

    def __init__(self) -> None:
        self.spans: list[Any] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                request = trace_service_pb2.ExportTraceServiceRequest.FromString(body)
                for resource in request.resource_spans:
                    for scope in resource.scope_spans:
                        collector.spans.extend(scope.spans)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


async def test_the_runs_trace_continues_across_the_broker(
    store: tuple[str, AsyncEngine], workers: Workers, queues: Queues
) -> None:
    engine = store[1]
    tenant_id = await _tenant(engine)
    queue = queues("work")
    trace_id, run_span = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    traceparent = f"00-{trace_id}-{run_span}-01"
    spec = load_spec(THREE, "three.yaml", REGISTRY)
    async with engine.begin() as conn:
        version, _ = await save_version(conn, tenant_id, spec, THREE, now())
        run = await start_run(
            conn,
            tenant_id=tenant_id,
            version=version,
            inputs={},
            actor=ACTOR,
            now=now(),
            ctx={"traceparent": traceparent},
        )
    collector = Collector()
    threading.Thread(target=collector.serve_forever, daemon=True).start()
    try:
        proc = workers.celery(queues, [queue], default_queue=queue, otlp_endpoint=collector.url)
        assert await settled(engine, [run.id], workers) == {run.id: "succeeded"}
        proc.terminate()  # a worker exports what is left as it stops
        proc.wait(timeout=30)
    finally:
        collector.shutdown()
        collector.server_close()
    wakes = sorted(
        (span.name, span.trace_id.hex(), span.parent_span_id.hex())
        for span in collector.spans
        if span.name.startswith(("wake ", "step "))
    )
    # One wake-up crossed the broker (`greet`'s); its commit claimed `price` in the worker, and
    # that one's `close`. Each attempt's span is a child of the run's wherever it was claimed.
    assert wakes == [
        ("step close", trace_id, run_span),
        ("step greet", trace_id, run_span),
        ("step price", trace_id, run_span),
        ("wake greet", trace_id, run_span),
    ]


@pytest.mark.parametrize("handed", [False, True], ids=["woken", "handed-over"])
async def test_sigterm_hands_the_attempt_back_within_grace_and_another_worker_finishes(
    store: tuple[str, AsyncEngine], workers: Workers, queues: Queues, handed: bool
) -> None:
    engine = store[1]
    tenant_id = await _tenant(engine)
    queue = queues("work")
    first = workers.celery(queues, [queue], default_queue=queue)
    # Handed over: `nap` is claimed by the commit of `lead`, with no message of its own.
    lead = "  - {id: lead, kind: agent, capability: demo.noop}\n" if handed else ""
    spec = f"id: nap\nversion: 1\nsteps:\n{lead}  - {{id: nap, kind: agent, capability: demo.sleep,"
    spec += " needs: [lead]," if handed else ""
    spec += " args: {ms: 4000, value: rested}}\noutputs: {value: '{{ state.nap.value }}'}\n"
    run = await start(engine, tenant_id, spec, {}, REGISTRY)
    for _ in range(600):
        async with reading(engine) as conn:
            found = (
                await conn.execute(
                    select(Step.status, Step.published_at).where(
                        Step.run_id == run.id, Step.key == "nap"
                    )
                )
            ).one()
        if found.status == "running":
            break
        await asyncio.sleep(0.05)
    assert found.status == "running", workers.output()
    assert (found.published_at is None) is handed
    first.send_signal(signal.SIGTERM)
    # `--grace 0.5`: the 4-second attempt is handed back, not waited for.
    assert await asyncio.to_thread(first.wait, 3) == 0, workers.output()
    async with reading(engine) as conn:
        status = await conn.scalar(
            select(Step.status).where(Step.run_id == run.id, Step.key == "nap")
        )
    assert status == "ready"
    assert queues.depth(queue) == 1  # its wake-up, published again as it was handed back
    second = workers.celery(queues, [queue], default_queue=queue)
    assert await settled(engine, [run.id], workers) == {run.id: "succeeded"}
    async with reading(engine) as conn:
        rows = await conn.execute(
            select(Attempt.step_key, Attempt.dispatch, Attempt.status, Attempt.worker).where(
                Attempt.run_id == run.id
            )
        )
        attempts = sorted((row.step_key, row.dispatch, row.status, row.worker) for row in rows)
    assert attempts == [
        *([("lead", 1, "succeeded", worker_id(first))] if handed else []),
        ("nap", 1, "cancelled", worker_id(first)),
        ("nap", 2, "succeeded", worker_id(second)),
    ]
