"""The composition root: what a Batonflow process (the API, every CLI command, `batonflow
worker`, the engine benchmark) runs on, built in one place by `open_platform(settings)` and
closed in reverse: telemetry; the database engine with two `Database`s, `db` (reads, the LLM
ledger) and `writer` (every write that moves runs: on SQLite one thread queues them in turn
instead of a second connection waiting on the file lock); the migrations check (SQLite is
migrated on first use, PostgreSQL must be current); the LLM gateway and retrieval's models; the
enabled apps and their agent registry; the event bus and spec cache; executors and scheduler
loops on demand; and with `watch=True` the metrics task.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from opentelemetry.trace import Tracer

from batonflow.agents.registry import Registry, build_registry
from batonflow.agents.sandbox import python_tools
from batonflow.apps import workflows as app_workflows
from batonflow.apps.app import Apps, load_apps, migration_branches
from batonflow.events.bus import EventBus
from batonflow.events.contracts import StoredEvent
from batonflow.llm.gateway import Gateway
from batonflow.llm.registry import build_gateway
from batonflow.retrieval.embeddings import Embedders
from batonflow.retrieval.rerank import Rerankers
from batonflow.retrieval.tools import kb_tools
from batonflow.schedules.service import Scheduler
from batonflow.settings import Settings
from batonflow.store import migrate
from batonflow.store.db import Conn, Database, Hooks, create_engine
from batonflow.store.llm_calls import DatabaseLedger
from batonflow.telemetry.process import Telemetry, build_telemetry
from batonflow.telemetry.traces import NO_TRACER
from batonflow.workflows.checkpoint import SpecCache
from batonflow.workflows.executor import Executor

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from batonflow.auth.ratelimit import RateLimiter

T = TypeVar("T")


def build_agents(
    apps: Apps, settings: Settings, models: Gateway, tracer: Tracer = NO_TRACER
) -> Registry:
    """The agent registry of this deployment: the agents and tools of the enabled apps, and the
    platform's tools: `kb.search`, `kb.ingest` and `python` (the sandbox; only steps granted it
    may call it)."""
    return build_registry(
        [*apps.agents(), kb_tools, python_tools],
        breaker_failures=settings.breaker_failures,
        breaker_reset_seconds=settings.breaker_reset_seconds,
        models=models,
        tracer=tracer,
    )


@dataclass
class Platform:
    """The parts one process shares, built by `open_platform`."""

    settings: Settings
    engine: AsyncEngine
    db: Database  # reads and the LLM ledger
    writer: Database  # writes that move runs, in turn with the executors' checkpoints
    gateway: Gateway
    registry: Registry
    bus: EventBus
    specs: SpecCache
    telemetry: Telemetry
    embedders: Embedders = field(default_factory=Embedders)
    rerankers: Rerankers = field(default_factory=Rerankers)
    apps: Apps = field(default_factory=Apps)
    branches: list[migrate.Branch] = field(default_factory=list)  # every installed app's
    executors: list[Executor] = field(default_factory=list)

    def executor(
        self,
        settings: Settings | None = None,
        *,
        kind: Callable[..., Executor] = Executor,
        **extra: Any,
    ) -> Executor:
        """An executor on the platform's parts, writing through `writer`; closed with the
        platform. `settings` replaces the platform's for this executor (a benchmark's
        concurrency, say); `kind` is the executor class (a Celery worker's), `extra` more of
        its arguments."""
        executor = kind(
            self.engine,
            self.registry,
            settings or self.settings,
            bus=self.bus,
            specs=self.specs,
            gateway=self.gateway,
            telemetry=self.telemetry,
            db=self.writer,
            embedders=self.embedders,
            rerankers=self.rerankers,
            **extra,
        )
        self.executors.append(executor)
        return executor

    def scheduler(self) -> Scheduler:
        """A scheduler loop firing due schedules through `writer` (see schedules/service.py);
        the runs it starts wake this process's executors."""
        return Scheduler(
            self.writer,
            worker=self.settings.worker_id,
            poll_seconds=self.settings.scheduler_poll_seconds,
            max_active_runs=self.settings.tenant_max_active_runs,
            on_fired=lambda _fired: self.committed([]),
        )

    async def write(self, work: Callable[[Conn], Awaitable[T]]) -> T:
        """Run `work` in a write transaction and commit it (the caller is the edge that owns
        the transaction), in turn with the executors' checkpoints."""
        return await self.writer.write(work)

    async def read(self, work: Callable[[Conn], Awaitable[T]]) -> T:
        """Run `work` in a read-only transaction (on SQLite it never waits behind a writer)."""
        return await self.db.read(work)

    async def install_workflows(self, conn: Conn, tenant_id: str) -> None:
        """Store the enabled apps' workflows in the tenant (one that was just created)."""
        await app_workflows.install(conn, [tenant_id], self.apps, self.registry, self.now())

    def committed(self, events: Iterable[StoredEvent]) -> None:
        """After a commit that moved runs: tell live subscribers and wake the executors."""
        self.bus.publish(list(events))
        for executor in self.executors:
            executor.wake()

    @staticmethod
    def now() -> datetime:
        return datetime.now(UTC)

    def _close_executors(self) -> None:
        for executor in self.executors:
            executor.close()


async def _stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


@asynccontextmanager
async def open_platform(
    settings: Settings,
    *,
    telemetry: Telemetry | None = None,
    watch: bool = False,
    limiter: RateLimiter | None = None,
    apps: Apps | None = None,
) -> AsyncIterator[Platform]:
    """The platform for `settings` (see the module docstring). `telemetry` is built from the
    settings unless given; `watch` starts counting metrics (with `limiter`'s state, for the API);
    `apps` are the enabled apps, by default those `settings.apps` names."""
    enabled = load_apps(settings.apps) if apps is None else apps
    async with contextlib.AsyncExitStack() as stack:
        if telemetry is None:
            telemetry = build_telemetry(settings)
            stack.callback(telemetry.close)
        engine = create_engine(
            settings.resolved_database_url, sqlite_synchronous=settings.sqlite_synchronous
        )
        stack.push_async_callback(engine.dispose)
        # A span per write transaction of a SQLite database thread, inside a trace.
        tracer = telemetry.tracer if telemetry.tracing.enabled else None
        db = Database(
            engine, sqlite_synchronous=settings.sqlite_synchronous, hooks=Hooks(tracer=tracer)
        )
        stack.callback(db.close)
        # The attempts' lines are written as the executors' checkpoints commit.
        lines = telemetry.lines.flush if watch else None
        writer = Database(
            engine,
            sqlite_synchronous=settings.sqlite_synchronous,
            hooks=Hooks(tracer=tracer, idle=lines),
        )
        stack.callback(writer.close)
        branches = migration_branches(enabled)
        await migrate.ensure_current(engine, branches)
        gateway = build_gateway(settings, DatabaseLedger(db), tracer=telemetry.tracer)
        stack.push_async_callback(gateway.aclose)
        platform = Platform(
            settings=settings,
            engine=engine,
            db=db,
            writer=writer,
            gateway=gateway,
            registry=build_agents(enabled, settings, gateway, telemetry.tracer),
            bus=EventBus(),
            specs=SpecCache(),
            telemetry=telemetry,
            embedders=Embedders.of(settings, gateway.accounts),
            rerankers=Rerankers.of(settings),
            apps=enabled,
            branches=branches,
        )
        stack.callback(platform._close_executors)
        if watch:
            counting = telemetry.watch(
                platform.db,
                bus=platform.bus,
                registry=platform.registry,
                gateway=gateway,
                limiter=limiter,
                specs=platform.specs,
            )  # spans for the engine's statements too
            stack.push_async_callback(
                _stop, asyncio.create_task(counting, name="batonflow-metrics")
            )
        else:
            telemetry.tracing.instrument_engine(engine)
        yield platform
