"""The `batonflow` command. Each command reads settings once, then calls services.

Exit codes: 0 the run succeeded (or the command did what it said), 1 the run failed, died or was
cancelled, 2 the input was wrong (a spec, an input, an id), 3 the run waits for a person.
"""

from __future__ import annotations

import asyncio
import gc
import json
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.table import Table

from batonflow.cli import llm as llm_commands
from batonflow.cli.context import Context, open_context
from batonflow.cli.progress import Progress, follow
from batonflow.cli.terminal import JsonFlag, TenantOpt, console, errors
from batonflow.cli.terminal import dump as _dump
from batonflow.cli.terminal import fail as _fail
from batonflow.cli.terminal import run as _run
from batonflow.cli.terminal import settings_for as _settings
from batonflow.errors import InvalidInput
from batonflow.runs import reviews as review_service
from batonflow.runs import service as run_service
from batonflow.runs.run import RunStatus
from batonflow.runs.state import RunRow
from batonflow.store import migrate
from batonflow.store import reviews as review_store
from batonflow.store import runs as run_store
from batonflow.store import workflows as workflow_store
from batonflow.store.db import create_engine, reading
from batonflow.telemetry import logs
from batonflow.telemetry.metrics import serve_metrics
from batonflow.telemetry.sentry import init_sentry
from batonflow.telemetry.traces import starting_run
from batonflow.workflows.actions import Decision
from batonflow.workflows.spec import WorkflowSpec, load_spec

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    help="Batonflow: durable multi-agent workflows.",
)
runs_app = typer.Typer(no_args_is_help=True, help="Inspect and operate runs.")
workflows_app = typer.Typer(no_args_is_help=True, help="Validate and list workflows.")
reviews_app = typer.Typer(no_args_is_help=True, help="Decide review and input steps.")
db_app = typer.Typer(no_args_is_help=True, help="Database schema.")
app.add_typer(runs_app, name="runs")
app.add_typer(workflows_app, name="workflows")
app.add_typer(reviews_app, name="reviews")
app.add_typer(db_app, name="db")
app.add_typer(llm_commands.prompts_app, name="prompts")
app.add_typer(llm_commands.tenant_app, name="tenant")
runs_app.command("calls")(llm_commands.runs_calls)

T = TypeVar("T")

EXIT = {
    RunStatus.SUCCEEDED: 0,
    RunStatus.FAILED: 1,
    RunStatus.DEAD: 1,
    RunStatus.CANCELLED: 1,
    RunStatus.WAITING: 3,
    RunStatus.RUNNING: 0,
    RunStatus.QUEUED: 0,
}


def _parse_inputs(pairs: list[str], spec: WorkflowSpec) -> dict[str, Any]:
    inputs: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise InvalidInput(f"--input takes key=value, got '{pair}'")
        field = spec.inputs.get(key)
        if field is None:
            known = ", ".join(spec.inputs) or "none"
            raise InvalidInput(f"workflow '{spec.id}' has no input '{key}' (inputs: {known})")
        if field.type == "string":
            inputs[key] = raw
            continue
        try:
            inputs[key] = json.loads(raw)
        except json.JSONDecodeError:
            raise InvalidInput(
                f"--input {key}: '{raw}' is not a valid {field.type} (write it as JSON)"
            ) from None
    return inputs


async def _register(ctx: Context, path: Path) -> workflow_store.VersionRow:
    try:
        text = await asyncio.to_thread(path.read_text)
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None
    spec = load_spec(text, str(path), ctx.registry)
    async with ctx.engine.begin() as conn:
        await workflow_store.check_subworkflows(conn, ctx.tenant_id, spec, str(path))
        version, _ = await workflow_store.save_version(conn, ctx.tenant_id, spec, text, ctx.now())
    ctx.specs.put(version.id, spec)
    return version


async def _watch(ctx: Context, run_id: str, as_json: bool) -> RunStatus:
    """Drive the run in this process until it finishes or waits, showing progress."""
    executor = ctx.executor()
    async with reading(ctx.engine) as conn:
        steps = await run_store.list_steps(conn, ctx.tenant_id, run_id)
        events = await run_store.list_events(conn, ctx.tenant_id, run_id)
        run = await run_store.get_run(conn, ctx.tenant_id, run_id)
        spec = await ctx.specs.get(conn, ctx.tenant_id, run.workflow_version_pk)
    order = {step.id: index for index, step in enumerate(spec.steps)}
    progress = Progress(run_id)
    progress.seed(step["key"] for step in steps if step["parent_key"] is None)
    progress.steps = dict(sorted(progress.steps.items(), key=lambda kv: order.get(kv[0], 1 << 30)))
    for item in events:
        progress.apply(item)
    drained: asyncio.Task[dict[str, RunStatus]] = asyncio.create_task(executor.drain([run_id]))
    _on_signals(drained)
    if as_json:
        statuses = await drained
    else:
        await follow(ctx.bus, progress, console, drained)
        console.print()
        statuses = drained.result()
    return statuses[run_id]


def _on_signals(task: asyncio.Task[Any]) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)


async def _report(ctx: Context, run_id: str, status: RunStatus, as_json: bool) -> int:
    async with reading(ctx.engine) as conn:
        run = await run_store.get_run(conn, ctx.tenant_id, run_id)
        pending = await review_store.list_reviews(conn, ctx.tenant_id, run_id=run_id)
    if as_json:
        _dump(
            {
                "run_id": run.id,
                "status": run.status.value,
                "outputs": run.outputs,
                "error": run.error,
                "reviews": [{"id": r.id, "step": r.step_key, "kind": r.kind} for r in pending],
            }
        )
        return EXIT[run.status]
    if run.status is RunStatus.SUCCEEDED:
        console.print("[green]succeeded[/green]; outputs:")
        _dump(run.outputs)
    elif run.status is RunStatus.WAITING:
        for review in pending:
            verb = "approve" if review.kind == "review" else "submit"
            console.print(
                f"[magenta]waiting[/magenta] for {review.kind} of step '{review.step_key}': "
                f"batonflow reviews show {review.id}  ·  batonflow reviews {verb} {review.id}"
            )
    elif run.status.terminal:
        error = run.error or {}
        console.print(
            f"[red]{run.status}[/red] at step '{error.get('step')}': {error.get('code')}: {error.get('message')}"
        )
        if run.status is RunStatus.DEAD:
            console.print(f"retry it from the failed step with: batonflow runs retry {run.id}")
    return EXIT[status]


# -- run / worker -----------------------------------------------------------------------------


@app.command()
def run(
    workflow: Annotated[Path, typer.Argument(help="A workflow file (YAML or JSON).")],
    input_: Annotated[
        list[str] | None, typer.Option("--input", "-i", help="key=value (repeat).")
    ] = None,
    detach: Annotated[
        bool, typer.Option(help="Only record the run (queued) and print its id.")
    ] = False,
    as_json: JsonFlag = False,
    tenant: TenantOpt = None,
) -> None:
    """Validate a workflow, run it here with live progress, and print its outputs."""

    async def main() -> int:
        async with open_context(_settings(tenant)) as ctx:
            version = await _register(ctx, workflow)
            spec = WorkflowSpec.model_validate(version.spec)
            inputs = _parse_inputs(input_ or [], spec)
            with starting_run(ctx.telemetry.tracing, spec.id) as run_span:
                async with ctx.engine.begin() as conn:
                    row = await run_service.start_run(
                        conn,
                        tenant_id=ctx.tenant_id,
                        version=version,
                        inputs=inputs,
                        actor=ctx.actor,
                        now=ctx.now(),
                        ctx=run_span.carrier,
                    )
                run_span.started(row)
            if detach:
                if as_json:
                    _dump({"run_id": row.id, "status": "queued"})
                else:
                    console.print(row.id, highlight=False)
                return 0
            status = await _watch(ctx, row.id, as_json)
            return await _report(ctx, row.id, status, as_json)

    raise typer.Exit(_run(main()))


@app.command()
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
) -> None:
    """Run the executor without any API: pick up queued runs and runs a crash interrupted."""

    async def main() -> int:
        settings = _settings(command="worker")
        if concurrency is not None:
            settings = settings.model_copy(update={"concurrency": concurrency})
        port = metrics_port if metrics_port is not None else settings.worker_metrics_port
        reporting = init_sentry(settings)
        try:
            async with open_context(settings) as ctx:
                stop = asyncio.Event()
                loop = asyncio.get_running_loop()
                for sig in (signal.SIGINT, signal.SIGTERM):
                    loop.add_signal_handler(sig, stop.set)
                executor = ctx.executor()
                counting = asyncio.create_task(
                    ctx.telemetry.watch(
                        ctx.engine,
                        bus=ctx.bus,
                        registry=ctx.registry,
                        gateway=ctx.gateway,
                        specs=ctx.specs,
                    )
                )
                server = None
                if port is not None:
                    token = settings.metrics_token
                    server = await serve_metrics(
                        ctx.telemetry.metrics,
                        settings.host,
                        port,
                        token.get_secret_value() if token is not None else None,
                    )
                    errors.print(
                        f"worker metrics at http://{settings.host}:{port}/metrics", highlight=False
                    )
                errors.print(f"worker {settings.worker_id} started", highlight=False)
                try:
                    await executor.serve(stop, grace=grace, until_idle=until_idle)
                finally:
                    counting.cancel()
                    if server is not None:
                        server.close()
                errors.print(f"worker {settings.worker_id} stopped", highlight=False)
        finally:
            if reporting is not None:
                reporting.close()
        return 0

    raise typer.Exit(_run(main(), serving=True))


@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option(help="Address to bind (default BATONFLOW_HOST).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (default BATONFLOW_PORT, 8420).")] = None,
    dev: Annotated[
        bool, typer.Option("--dev", help="Development mode: allows the built-in secret key.")
    ] = False,
    demo: Annotated[
        bool,
        typer.Option(
            "--demo",
            help="Seed the 'demo' tenant (an admin, a reviewer, the example workflows) and print "
            "how to sign in. Implies --dev.",
        ),
    ] = False,
    workflows: Annotated[
        list[Path] | None,
        typer.Option("--workflow", "-w", help="With --demo: a workflow file to store (repeat)."),
    ] = None,
) -> None:
    """Serve the HTTP API (and the in-process executor, unless BATONFLOW_EXECUTOR=none)."""
    import uvicorn

    from batonflow.api.app import create_app
    from batonflow.api.demo import seed_demo

    settings = _settings(command="serve")
    updates: dict[str, Any] = {"dev": settings.dev or dev or demo}
    if host is not None:
        updates["host"] = host
    if port is not None:
        updates["port"] = port
    settings = settings.model_copy(update=updates)
    if settings.dev:
        logs.configure(settings, command="serve")  # development mode reads better on a console
    sources = []
    for path in workflows or []:
        try:
            sources.append((str(path), path.read_text()))
        except OSError as exc:
            _fail(InvalidInput(f"cannot read {path}: {exc.strerror}"))

    async def main() -> int:
        async def ready(state: Any) -> None:
            # What start-up built (modules, the app, the model registry) lives as long as the
            # process: out of the collector's sight, a full collection no longer walks it, which
            # took tens of milliseconds from whichever requests were in flight.
            gc.collect()
            gc.freeze()
            url = f"http://{settings.host}:{settings.port}"
            console.print(f"Batonflow API at {url} (docs at {url}/docs)", highlight=False)
            if demo:
                seeded = await seed_demo(state, sources)
                console.print(seeded.describe(url), highlight=False)

        reporting = init_sentry(settings)
        try:
            application = create_app(settings, on_ready=ready)
            config = uvicorn.Config(
                application,
                host=settings.host,
                port=settings.port,
                log_level="warning",
                log_config=None,  # Uvicorn's lines go through the process's log handler
                access_log=False,  # each request logs its own line (api/telemetry.py)
                lifespan="on",
            )
            await uvicorn.Server(config).serve()
        finally:
            if reporting is not None:
                reporting.close()
        return 0

    raise typer.Exit(_run(main(), serving=True))


# -- runs -------------------------------------------------------------------------------------


def _run_summary(run: RunRow) -> dict[str, Any]:
    duration = None
    if run.started_at and run.finished_at:
        duration = round((run.finished_at - run.started_at).total_seconds(), 3)
    return {
        "id": run.id,
        "workflow": f"{run.workflow_id}@{run.workflow_version}",
        "status": run.status.value,
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "duration_s": duration,
    }


@runs_app.command("list")
def runs_list(
    status: Annotated[
        list[str] | None, typer.Option(help="Only runs in this status (repeat).")
    ] = None,
    workflow: Annotated[str | None, typer.Option(help="Only runs of this workflow id.")] = None,
    dead: Annotated[bool, typer.Option("--dead", help="The dead-letter list.")] = False,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    as_json: JsonFlag = False,
    tenant: TenantOpt = None,
) -> None:
    """List runs, newest first."""
    wanted = list(status or []) + (["dead"] if dead else [])
    for item in wanted:
        if item not in RunStatus.__members__.values():
            _fail(
                InvalidInput(
                    f"unknown status '{item}'; use one of {', '.join(s.value for s in RunStatus)}"
                )
            )

    async def main() -> int:
        async with open_context(_settings(tenant)) as ctx, reading(ctx.engine) as conn:
            rows = await run_store.list_runs(
                conn, ctx.tenant_id, status=wanted, workflow_id=workflow, limit=limit
            )
        summaries = [_run_summary(row) for row in rows]
        if as_json:
            _dump(summaries)
            return 0
        table = Table("id", "workflow", "status", "started", "duration")
        for item in summaries:
            table.add_row(
                item["id"],
                item["workflow"],
                item["status"],
                item["started_at"] or "",
                f"{item['duration_s'] or ''}",
            )
        console.print(table)
        return 0

    raise typer.Exit(_run(main()))


@runs_app.command("show")
def runs_show(run_id: str, as_json: JsonFlag = False, tenant: TenantOpt = None) -> None:
    """A run with its steps, attempts and outputs."""

    async def main() -> int:
        async with open_context(_settings(tenant)) as ctx, reading(ctx.engine) as conn:
            full = await run_store.find_run_by_prefix(conn, ctx.tenant_id, run_id)
            run = await run_store.get_run(conn, ctx.tenant_id, full)
            steps = await run_store.list_steps(conn, ctx.tenant_id, full)
            attempts = await run_store.list_attempts(conn, ctx.tenant_id, full)
        data = {
            **_run_summary(run),
            "inputs": run.inputs,
            "outputs": run.outputs,
            "error": run.error,
            "steps": [
                {
                    k: step[k]
                    for k in (
                        "key",
                        "kind",
                        "status",
                        "attempt",
                        "result",
                        "error",
                        "overridden_by",
                        "override_reason",
                    )
                }
                for step in steps
            ],
            "attempts": [
                {
                    "step": a["step_key"],
                    "attempt": a["attempt"],
                    "dispatch": a["dispatch"],
                    "status": a["status"],
                    "worker": a["worker"],
                    "duration_ms": a["duration_ms"],
                    "error": a["error"],
                }
                for a in attempts
            ],
        }
        if as_json:
            _dump(data)
            return 0
        console.print(
            f"run {run.id} · {run.workflow_id}@{run.workflow_version} · [bold]{run.status}[/bold]"
        )
        table = Table("step", "kind", "status", "attempt", "result / error")
        for step in data["steps"]:
            detail = (
                step["error"]["message"]
                if step["error"]
                else json.dumps(step["result"], default=str)
            )
            table.add_row(
                step["key"], step["kind"], step["status"], str(step["attempt"]), detail[:100]
            )
        console.print(table)
        if run.outputs is not None:
            console.print("outputs:")
            _dump(run.outputs)
        return 0

    raise typer.Exit(_run(main()))


@runs_app.command("cancel")
def runs_cancel(
    run_id: str,
    reason: Annotated[str, typer.Option(help="Why (kept in the run's events).")] = "",
    tenant: TenantOpt = None,
) -> None:
    """Cancel a queued, running or waiting run."""

    async def main() -> int:
        async with open_context(_settings(tenant)) as ctx:
            async with ctx.engine.begin() as conn:
                full = await run_store.find_run_by_prefix(conn, ctx.tenant_id, run_id)
                await run_service.cancel_run(
                    conn,
                    tenant_id=ctx.tenant_id,
                    run_id=full,
                    actor=ctx.actor,
                    reason=reason,
                    now=ctx.now(),
                )
            console.print(f"run {full} cancelled")
        return 0

    raise typer.Exit(_run(main()))


async def _act_then_watch(
    ctx: Context,
    run_id: str,
    act: Callable[[Any], Awaitable[Any]],
    detach: bool,
    as_json: bool,
) -> int:
    async with ctx.engine.begin() as conn:
        await act(conn)
    if detach:
        return 0
    status = await _watch(ctx, run_id, as_json)
    return await _report(ctx, run_id, status, as_json)


@runs_app.command("retry")
def runs_retry(
    run_id: str,
    detach: Annotated[bool, typer.Option(help="Leave the run to a worker.")] = False,
    as_json: JsonFlag = False,
    tenant: TenantOpt = None,
) -> None:
    """Retry a failed or dead run from its failed step."""

    async def main() -> int:
        async with open_context(_settings(tenant)) as ctx:
            async with reading(ctx.engine) as conn:
                full = await run_store.find_run_by_prefix(conn, ctx.tenant_id, run_id)

            async def act(conn: Any) -> Any:
                return await run_service.retry_run(
                    conn,
                    ctx.specs,
                    tenant_id=ctx.tenant_id,
                    run_id=full,
                    actor=ctx.actor,
                    now=ctx.now(),
                )

            return await _act_then_watch(ctx, full, act, detach, as_json)

    raise typer.Exit(_run(main()))


@runs_app.command("override")
def runs_override(
    run_id: str,
    step: str,
    output: Annotated[str, typer.Option(help="The step's output as JSON.")],
    reason: Annotated[str, typer.Option(help="Why the output is set by hand.")],
    detach: Annotated[bool, typer.Option(help="Leave the run to a worker.")] = False,
    as_json: JsonFlag = False,
    tenant: TenantOpt = None,
) -> None:
    """Set a step's output by hand (recorded with who and why), then continue the run."""
    try:
        value = json.loads(output)
    except json.JSONDecodeError as exc:
        _fail(InvalidInput(f"--output is not JSON: {exc.msg} at column {exc.colno}"))

    async def main() -> int:
        async with open_context(_settings(tenant)) as ctx:
            async with reading(ctx.engine) as conn:
                full = await run_store.find_run_by_prefix(conn, ctx.tenant_id, run_id)

            async def act(conn: Any) -> Any:
                return await run_service.override_step(
                    conn,
                    ctx.specs,
                    tenant_id=ctx.tenant_id,
                    run_id=full,
                    step_key=step,
                    output=value,
                    reason=reason,
                    actor=ctx.actor,
                    now=ctx.now(),
                )

            return await _act_then_watch(ctx, full, act, detach, as_json)

    raise typer.Exit(_run(main()))


# -- reviews ----------------------------------------------------------------------------------


@reviews_app.command("list")
def reviews_list(as_json: JsonFlag = False, tenant: TenantOpt = None) -> None:
    """Reviews and inputs waiting for a decision."""

    async def main() -> int:
        async with open_context(_settings(tenant)) as ctx, reading(ctx.engine) as conn:
            rows = await review_store.list_reviews(conn, ctx.tenant_id)
        items = [
            {
                "id": r.id,
                "run_id": r.run_id,
                "step": r.step_key,
                "kind": r.kind,
                "subject": r.subject,
                "reviewers": r.reviewers,
                "created_at": r.created_at.isoformat(),
            }
            for r in rows
        ]
        if as_json:
            _dump(items)
            return 0
        if not items:
            console.print("no reviews are waiting")
        table = Table("id", "run", "step", "kind", "subject")
        for item in items:
            table.add_row(
                item["id"],
                item["run_id"],
                item["step"],
                item["kind"],
                json.dumps(item["subject"])[:80],
            )
        if items:
            console.print(table)
        return 0

    raise typer.Exit(_run(main()))


@reviews_app.command("show")
def reviews_show(review_id: str, tenant: TenantOpt = None) -> None:
    """Everything a reviewer needs to decide."""

    async def main() -> int:
        async with open_context(_settings(tenant)) as ctx, reading(ctx.engine) as conn:
            full = await review_store.find_review_by_prefix(conn, ctx.tenant_id, review_id)
            review = await review_store.get_review(conn, ctx.tenant_id, full)
        _dump({k: getattr(review, k) for k in review.__slots__})
        return 0

    raise typer.Exit(_run(main()))


def _decide_command(decision: Decision, doc: str) -> Callable[..., None]:
    def command(
        review_id: str,
        comment: Annotated[str | None, typer.Option(help="A note kept with the decision.")] = None,
        data: Annotated[
            str | None, typer.Option(help="JSON: the edited subject (edit) or the input (submit).")
        ] = None,
        detach: Annotated[
            bool, typer.Option(help="Record the decision and leave the run to a worker.")
        ] = False,
        as_json: JsonFlag = False,
        tenant: TenantOpt = None,
    ) -> None:
        payload = None
        if data is not None:
            try:
                payload = json.loads(data)
            except json.JSONDecodeError as exc:
                _fail(InvalidInput(f"--data is not JSON: {exc.msg} at column {exc.colno}"))
        elif decision in ("edit", "submit"):
            _fail(InvalidInput(f"'{decision}' needs --data with JSON"))

        async def main() -> int:
            async with open_context(_settings(tenant)) as ctx:
                async with reading(ctx.engine) as conn:
                    full = await review_store.find_review_by_prefix(conn, ctx.tenant_id, review_id)
                    review = await review_store.get_review(conn, ctx.tenant_id, full)

                async def act(conn: Any) -> Any:
                    return await review_service.decide(
                        conn,
                        ctx.specs,
                        tenant_id=ctx.tenant_id,
                        review_id=full,
                        decision=decision,
                        actor=ctx.actor,
                        now=ctx.now(),
                        data=payload,
                        comment=comment,
                    )

                async def act_and_say(conn: Any) -> Any:
                    result = await act(conn)
                    if not as_json:
                        console.print(f"review {full}: {decision}", highlight=False)
                    return result

                return await _act_then_watch(ctx, review.run_id, act_and_say, detach, as_json)

        raise typer.Exit(_run(main()))

    command.__doc__ = doc
    return command


reviews_app.command("approve")(
    _decide_command("approve", "Approve a review step; the run continues here.")
)
reviews_app.command("reject")(_decide_command("reject", "Reject a review step."))
reviews_app.command("edit")(
    _decide_command("edit", "Approve a review step with an edited subject (--data).")
)
reviews_app.command("submit")(_decide_command("submit", "Give an input step its data (--data)."))


# -- workflows and db --------------------------------------------------------------------------


@workflows_app.command("validate")
def workflows_validate(files: list[Path], as_json: JsonFlag = False) -> None:
    """Check workflow files without running them."""
    from batonflow.agents.registry import build_registry
    from batonflow.errors import SpecError
    from batonflow.llm.ledger import MemoryLedger
    from batonflow.llm.registry import build_gateway

    settings = _settings()
    registry = build_registry(settings.apps, models=build_gateway(settings, MemoryLedger()))
    failed = 0
    report = []
    for path in files:
        try:
            spec = load_spec(path.read_text(), str(path), registry)
        except SpecError as exc:
            failed += 1
            report.append({"file": str(path), "valid": False, "issues": exc.issues})
            if not as_json:
                errors.print(exc.message, highlight=False, markup=False)
        except OSError as exc:
            failed += 1
            report.append({"file": str(path), "valid": False, "issues": [exc.strerror]})
            if not as_json:
                errors.print(f"{path}: cannot read: {exc.strerror}", highlight=False)
        else:
            report.append(
                {
                    "file": str(path),
                    "valid": True,
                    "id": spec.id,
                    "version": spec.version,
                    "hash": spec.content_hash,
                }
            )
            if not as_json:
                console.print(
                    f"{path}: ok ({spec.id}@{spec.version}, {len(spec.steps)} steps)",
                    highlight=False,
                )
    if as_json:
        _dump(report)
    raise typer.Exit(2 if failed else 0)


@workflows_app.command("add")
def workflows_add(files: list[Path], tenant: TenantOpt = None) -> None:
    """Store workflow versions without running them (e.g. sub-workflows)."""

    async def main() -> int:
        async with open_context(_settings(tenant)) as ctx:
            for path in files:
                version = await _register(ctx, path)
                console.print(
                    f"{path}: stored {version.workflow_id}@{version.version} ({version.content_hash[:19]})",
                    highlight=False,
                )
        return 0

    raise typer.Exit(_run(main()))


@workflows_app.command("list")
def workflows_list(as_json: JsonFlag = False, tenant: TenantOpt = None) -> None:
    """Stored workflow versions."""

    async def main() -> int:
        async with open_context(_settings(tenant)) as ctx, reading(ctx.engine) as conn:
            rows = await workflow_store.list_versions(conn, ctx.tenant_id)
        items = [
            {
                "id": r.workflow_id,
                "version": r.version,
                "hash": r.content_hash,
                "created_at": r.created_at.isoformat(),
            }
            for r in rows
        ]
        if as_json:
            _dump(items)
            return 0
        table = Table("workflow", "version", "hash", "created")
        for item in items:
            table.add_row(item["id"], item["version"], item["hash"][:19], item["created_at"])
        console.print(table)
        return 0

    raise typer.Exit(_run(main()))


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply migrations up to REVISION (default: the newest)."""

    async def main() -> int:
        settings = _settings()
        engine = create_engine(settings.resolved_database_url)
        try:
            await migrate.upgrade(engine, revision)
            console.print(f"database at {await migrate.current(engine)}")
        finally:
            await engine.dispose()
        return 0

    raise typer.Exit(_run(main()))


@db_app.command("downgrade")
def db_downgrade(
    revision: str = typer.Argument(..., help="Target revision, or 'base' for empty."),
) -> None:
    """Revert migrations down to REVISION."""

    async def main() -> int:
        settings = _settings()
        engine = create_engine(settings.resolved_database_url)
        try:
            await migrate.downgrade(engine, revision)
            console.print(f"database at {await migrate.current(engine) or 'base'}")
        finally:
            await engine.dispose()
        return 0

    raise typer.Exit(_run(main()))


def main() -> None:
    app()
