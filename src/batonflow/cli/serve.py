"""`batonflow serve` (the HTTP API, and the in-process executor unless BATONFLOW_EXECUTOR=none)
and `batonflow worker` (the executor alone). Both also run a scheduler loop
(`BATONFLOW_SCHEDULER`; `worker --until-idle` does not)."""

from __future__ import annotations

import asyncio
import gc
import signal
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer

from batonflow.cli.terminal import console, errors, fail, run, settings_for
from batonflow.errors import BatonflowError, UserError

if TYPE_CHECKING:
    import uvicorn

    from batonflow.api.deps import ApiState
    from batonflow.settings import Settings


def worker(
    until_idle: Annotated[
        bool, typer.Option("--until-idle", help="Exit when no run has work left.")
    ] = False,
    concurrency: Annotated[int | None, typer.Option(help="Attempts in flight at once.")] = None,
    grace: Annotated[
        float, typer.Option(help="Seconds in-flight attempts get to finish on SIGTERM.")
    ] = 10.0,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            help="Serve /metrics on BATONFLOW_HOST at this port (or BATONFLOW_WORKER_METRICS_PORT)."
        ),
    ] = None,
    queues: Annotated[
        str | None,
        typer.Option(
            help="Celery queues to serve, comma separated (agents.sdr,agents.finance); "
            "default: BATONFLOW_DEFAULT_QUEUE. Needs BATONFLOW_EXECUTOR=celery."
        ),
    ] = None,
) -> None:
    """Execute queued runs, and runs a crash interrupted, until stopped (no API). With
    BATONFLOW_EXECUTOR=celery, a Celery worker serving the steps routed to `--queues`."""
    settings = settings_for(command="worker")
    if concurrency is not None:
        settings = settings.model_copy(update={"concurrency": concurrency})
    names = [name.strip() for name in (queues or "").split(",") if name.strip()]
    if settings.executor == "celery":
        raise typer.Exit(celery_worker(settings, names, until_idle, grace, metrics_port))
    if queues is not None:
        fail(UserError("--queues needs BATONFLOW_EXECUTOR=celery (and BATONFLOW_BROKER_URL)"))
    from batonflow.platform import open_platform
    from batonflow.telemetry.metrics import serve_metrics
    from batonflow.telemetry.process import init_sentry

    async def main() -> int:
        port = metrics_port if metrics_port is not None else settings.worker_metrics_port
        reporting = init_sentry(settings)
        try:
            async with open_platform(settings, watch=True) as platform:
                stop = asyncio.Event()
                loop = asyncio.get_running_loop()
                for sig in (signal.SIGINT, signal.SIGTERM):
                    loop.add_signal_handler(sig, stop.set)
                executor = platform.executor()
                server = None
                if port is not None:
                    token = settings.metrics_token
                    server = await serve_metrics(
                        platform.telemetry.metrics,
                        settings.host,
                        port,
                        token.get_secret_value() if token is not None else None,
                    )
                    errors.print(
                        f"worker metrics at http://{settings.host}:{port}/metrics", highlight=False
                    )
                errors.print(f"worker {settings.worker_id} started", highlight=False)
                firing = None
                if settings.scheduler and not until_idle:
                    firing = asyncio.create_task(platform.scheduler().serve(stop))
                try:
                    await executor.serve(stop, grace=grace, until_idle=until_idle)
                finally:
                    stop.set()
                    if firing is not None:
                        await firing
                    if server is not None:
                        server.close()
                errors.print(f"worker {settings.worker_id} stopped", highlight=False)
        finally:
            if reporting is not None:
                reporting.close()
        return 0

    raise typer.Exit(run(main(), serving=True))


def celery_worker(
    settings: Settings, queues: list[str], until_idle: bool, grace: float, metrics_port: int | None
) -> int:
    """`worker` with BATONFLOW_EXECUTOR=celery (see cluster/worker.py)."""
    from batonflow.cluster.worker import run_worker
    from batonflow.telemetry.process import init_sentry

    if until_idle:
        fail(UserError("--until-idle is for the polling worker; a Celery worker serves queues"))
    port = metrics_port if metrics_port is not None else settings.worker_metrics_port
    reporting = init_sentry(settings)
    queues = queues or [settings.default_queue]
    try:
        errors.print(f"worker {settings.worker_id} serving {', '.join(queues)}", highlight=False)
        code = run_worker(settings, queues, grace=grace, metrics_port=port)
        errors.print(f"worker {settings.worker_id} stopped", highlight=False)
        return code
    except BatonflowError as exc:
        fail(exc)
    finally:
        if reporting is not None:
            reporting.close()


HostOpt = Annotated[str | None, typer.Option(help="Address to bind (default BATONFLOW_HOST).")]
PortOpt = Annotated[int | None, typer.Option(help="Port (default BATONFLOW_PORT, 8420).")]
DevFlag = Annotated[
    bool, typer.Option("--dev", help="Development mode: allows the built-in secret key.")
]


def serve(host: HostOpt = None, port: PortOpt = None, dev: DevFlag = False) -> None:
    """Serve the API and the dashboard (and the in-process executor, unless
    BATONFLOW_EXECUTOR=none)."""
    raise typer.Exit(serve_api(host, port, dev))


def serve_api(
    host: str | None,
    port: int | None,
    dev: bool,
    on_ready: Callable[[ApiState, str], Awaitable[None]] | None = None,
) -> int:
    """Serve the API until stopped; `on_ready(state, url)` runs once it is built (an app's
    command seeds data there). Returns the exit code."""
    import uvicorn

    from batonflow.api.app import create_app
    from batonflow.telemetry import logs
    from batonflow.telemetry.process import init_sentry

    settings = settings_for(command="serve")
    updates: dict[str, Any] = {"dev": settings.dev or dev}
    if host is not None:
        updates["host"] = host
    if port is not None:
        updates["port"] = port
    settings = settings.model_copy(update=updates)
    if settings.dev:
        logs.configure(settings, command="serve")  # development mode reads better on a console

    async def main() -> int:
        async def ready(state: ApiState) -> None:
            # What start-up built (modules, the app, the model registry) lives as long as the
            # process: out of the collector's sight, a full collection no longer walks it, which
            # took tens of milliseconds from whichever requests were in flight.
            gc.collect()
            gc.freeze()
            url = f"http://{settings.host}:{settings.port}"
            console.print(f"Batonflow API at {url} (docs at {url}/docs)", highlight=False)
            if on_ready is not None:
                await on_ready(state, url)

        reporting = init_sentry(settings)
        try:
            application = create_app(settings, on_ready=ready)
            await uvicorn.Server(server_config(settings, application)).serve()
        finally:
            if reporting is not None:
                reporting.close()
        return 0

    return run(main(), serving=True)


def server_config(settings: Settings, application: Any) -> uvicorn.Config:
    """How Uvicorn serves the API. `X-Forwarded-For` is believed only from the proxies in
    `BATONFLOW_TRUSTED_PROXIES`; by default no one's, so a client cannot pick its own address
    (and escape the per-address login limit) by sending the header."""
    import uvicorn

    trusted = settings.trusted_proxies.strip()
    return uvicorn.Config(
        application,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        log_config=None,  # Uvicorn's lines go through the process's log handler
        access_log=False,  # each request logs its own line (api/telemetry.py)
        lifespan="on",
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or None,
    )
