"""`batonflow worker --queues ...` with `BATONFLOW_EXECUTOR=celery`: one process, two threads.

The main thread runs the Celery worker (its signal handling: SIGTERM is a warm shutdown that
lets running tasks finish), with a pool of `concurrency` threads; each task hands its wake-up
to the event loop thread and waits for the attempt's checkpoint. The event loop thread runs the
platform: a `ClusterExecutor` (heartbeats, the reaper, the sweep, group commit), the scheduler
loop, and the metrics endpoint. When Celery stops, the loop hands back what is still running
and closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from celery.exceptions import Reject
from celery.signals import worker_shutting_down
from celery.worker.control import control_command
from opentelemetry.trace import SpanKind, Tracer

from batonflow.cluster.announce import stopping_runs
from batonflow.cluster.broker import TASK, Publisher, celery_app
from batonflow.cluster.executor import ClusterExecutor
from batonflow.cluster.metrics import QueueGauges
from batonflow.cluster.routes import Routes
from batonflow.errors import ConfigError
from batonflow.settings import Settings
from batonflow.telemetry import traces
from batonflow.workflows.attempts import Wake

log = logging.getLogger("batonflow.cluster")
T = TypeVar("T")


class Loop:
    """The event loop thread: the platform and the executor, until `stop`."""

    def __init__(
        self,
        settings: Settings,
        publisher: Publisher,
        queues: list[str],
        grace: float,
        port: int | None,
    ) -> None:
        self.settings = settings
        self.queues = queues
        self.publisher = publisher
        self.grace = grace
        self.port = port
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self.executor: ClusterExecutor | None = None
        self.tracer: Tracer = traces.NO_TRACER
        self._stop: asyncio.Event | None = None
        self.thread = threading.Thread(target=self._main, name="batonflow-loop", daemon=True)

    def start(self) -> None:
        self.thread.start()
        self.ready.wait()
        if self.error is not None:
            raise self.error

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run `coro` in the loop thread and wait for it (from a Celery pool thread)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def halt(self) -> None:
        """Begin stopping (from any thread): attempts in flight get `grace` seconds, then are
        handed back; wake-ups that arrive from now on go back to the broker."""
        if self.executor is not None:
            self.executor.closing = True
        if self._stop is not None and not self.loop.is_closed():
            with contextlib.suppress(RuntimeError):  # closed meanwhile: nothing left to stop
                self.loop.call_soon_threadsafe(self._stop.set)

    def stop(self) -> None:
        self.halt()
        self.thread.join()

    def _main(self) -> None:
        try:
            self.loop.run_until_complete(self._serve())
        except BaseException as exc:
            self.error = exc
            log.exception("the worker's event loop stopped")
        finally:
            self.ready.set()
            self.loop.close()

    async def _serve(self) -> None:
        from batonflow.platform import open_platform
        from batonflow.telemetry.metrics import serve_metrics

        settings = self.settings
        async with open_platform(settings, watch=True) as platform:
            self._stop = stop = asyncio.Event()
            routes = Routes(settings.queue_routes, settings.default_queue, platform.registry)
            executor = platform.executor(
                kind=ClusterExecutor, route=routes, publish=self.publisher, serves=self.queues
            )
            assert isinstance(executor, ClusterExecutor)
            self.executor = executor
            self.tracer = platform.telemetry.tracer
            server = None
            served = sorted({*routes.queues(), *self.queues})
            gauges = QueueGauges(self.publisher.app, platform.db, served)
            gauges.register(platform.telemetry.metrics)
            if self.port is not None:
                token = settings.metrics_token
                server = await serve_metrics(
                    platform.telemetry.metrics,
                    settings.host,
                    self.port,
                    token.get_secret_value() if token is not None else None,
                )
            firing = None
            if settings.scheduler:
                firing = asyncio.create_task(platform.scheduler().serve(stop))
            serving = asyncio.create_task(executor.serve(stop, grace=self.grace))
            self.ready.set()
            try:
                async with platform.bus.observing(stopping_runs(self.publisher)):
                    await serving
            finally:
                stop.set()
                if firing is not None:
                    await firing
                if server is not None:
                    server.close()
                gauges.close()


def run_worker(
    settings: Settings, queues: list[str], *, grace: float, metrics_port: int | None
) -> int:
    """Serve `queues` until a signal stops the Celery worker; returns its exit code."""
    if not queues:
        raise ConfigError("--queues names no queue; give one or more, comma separated")
    app = celery_app(settings)
    publisher = Publisher(app)
    loop = Loop(settings, publisher, queues, grace, metrics_port)
    loop.start()

    @control_command()  # type: ignore[untyped-decorator]
    def batonflow_check_leases(state: Any) -> dict[str, str]:
        executor = loop.executor
        if executor is not None:
            asyncio.run_coroutine_threadsafe(executor.leases.heartbeat(), loop.loop)
        return {"ok": "checking leases"}

    @app.task(name=TASK, bind=True)  # type: ignore[untyped-decorator]
    def execute_step(task: Any, tenant_id: str, run_id: str, key: str, dispatch: int) -> str:
        executor = loop.executor
        assert executor is not None
        queue = (task.request.delivery_info or {}).get("routing_key") or ""
        trace = task.request.get("traceparent")
        try:
            wake = Wake(str(tenant_id), str(run_id), str(key), int(dispatch), str(queue), trace)
        except (TypeError, ValueError):
            log.warning("dropping a malformed wake-up: %r", task.request.args)
            return "ignored"
        if executor.closing:
            raise Reject("the worker is stopping", requeue=True)
        with loop.tracer.start_as_current_span(
            f"wake {wake.key}",
            context=traces.parent({"traceparent": trace}),
            kind=SpanKind.CONSUMER,
            attributes={"batonflow.run_id": wake.run_id, "messaging.destination.name": queue},
        ) as span:
            happened = loop.call(executor.execute(wake))
            span.set_attribute("batonflow.wake", happened)
        if happened == "stopping":
            raise Reject("the worker is stopping", requeue=True)
        return happened

    # A warm shutdown (SIGTERM) waits for running tasks: give their attempts `--grace` seconds
    # and hand the rest back, as the polling worker does.
    worker_shutting_down.connect(lambda **_: loop.halt(), weak=False)

    worker = app.Worker(
        queues=queues,
        concurrency=settings.concurrency,
        pool="threads",
        hostname=f"batonflow@{settings.worker_id}".replace(":", "."),
        loglevel=(settings.log_level or "WARNING").upper(),
        without_mingle=True,
        without_gossip=True,
        task_events=True,
        quiet=True,
    )
    code: Any = None
    try:
        worker.start()
        code = worker.exitcode
    except SystemExit as exc:  # Celery leaves by SystemExit after a warm shutdown
        code = exc.code
    finally:
        loop.stop()
        publisher.close()
    return int(code) if isinstance(code, int) else 0
