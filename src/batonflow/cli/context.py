"""What a CLI command works with: the settings, a database engine, the registry, the executor
and the process's telemetry."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from batonflow.agents.registry import Registry, build_registry
from batonflow.apps import workflows as app_workflows
from batonflow.apps.app import load_apps, migration_branches
from batonflow.events.bus import EventBus
from batonflow.llm.gateway import Gateway
from batonflow.llm.registry import build_gateway
from batonflow.runs.service import Actor
from batonflow.settings import Settings
from batonflow.store import migrate
from batonflow.store.db import Database, create_engine
from batonflow.store.llm_calls import DatabaseLedger
from batonflow.store.tenants import ensure_tenant
from batonflow.telemetry.process import Telemetry, build_telemetry
from batonflow.workflows.checkpoint import SpecCache
from batonflow.workflows.executor import Executor


@dataclass
class Context:
    settings: Settings
    engine: AsyncEngine
    registry: Registry
    bus: EventBus
    specs: SpecCache
    tenant_id: str
    actor: Actor
    gateway: Gateway
    telemetry: Telemetry = field(default_factory=Telemetry)
    executors: list[Executor] = field(default_factory=list)

    def executor(self) -> Executor:
        executor = Executor(
            self.engine,
            self.registry,
            self.settings,
            bus=self.bus,
            specs=self.specs,
            gateway=self.gateway,
            telemetry=self.telemetry,
        )
        self.executors.append(executor)
        return executor

    @staticmethod
    def now() -> datetime:
        return datetime.now(UTC)


@asynccontextmanager
async def open_context(settings: Settings) -> AsyncIterator[Context]:
    engine = create_engine(
        settings.resolved_database_url, sqlite_synchronous=settings.sqlite_synchronous
    )
    ledger_db = Database(engine, sqlite_synchronous=settings.sqlite_synchronous)
    telemetry = build_telemetry(settings)
    telemetry.tracing.instrument_engine(engine)
    context: Context | None = None
    try:
        apps = load_apps(settings.apps)
        await migrate.ensure_current(engine, migration_branches(apps))
        gateway = build_gateway(settings, DatabaseLedger(ledger_db), tracer=telemetry.tracer)
        registry = build_registry(
            apps.agents(),
            breaker_failures=settings.breaker_failures,
            breaker_reset_seconds=settings.breaker_reset_seconds,
            models=gateway,
            tracer=telemetry.tracer,
        )
        async with engine.begin() as conn:
            tenant_id = await ensure_tenant(conn, settings.tenant, datetime.now(UTC))
            await app_workflows.install(conn, tenant_id, apps, registry, datetime.now(UTC))
        context = Context(
            settings=settings,
            engine=engine,
            registry=registry,
            bus=EventBus(),
            specs=SpecCache(),
            tenant_id=tenant_id,
            actor=Actor(settings.actor),
            gateway=gateway,
            telemetry=telemetry,
        )
        yield context
    finally:
        for executor in context.executors if context else ():
            executor.close()
        if context is not None:
            await context.gateway.aclose()
        ledger_db.close()
        await engine.dispose()
        telemetry.close()
