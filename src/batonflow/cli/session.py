"""Whom a CLI command acts for: the platform it runs on, its tenant (created on first use, with
the enabled apps' workflows) and the actor (`BATONFLOW_ACTOR`, a local admin)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TypeVar

from batonflow.platform import Platform, open_platform
from batonflow.runs.service import Actor
from batonflow.settings import Settings
from batonflow.store.db import Conn
from batonflow.store.tenants import ensure_tenant

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Session:
    platform: Platform
    tenant_id: str
    actor: Actor

    async def read(self, work: Callable[[Conn, str], Awaitable[T]]) -> T:
        """Run `work(conn, tenant_id)` in a read-only transaction of the session's tenant."""
        return await self.platform.read(lambda conn: work(conn, self.tenant_id))


@asynccontextmanager
async def open_session(settings: Settings) -> AsyncIterator[Session]:
    async with open_platform(settings) as platform:

        async def enter(conn: Conn) -> str:
            tenant_id = await ensure_tenant(conn, settings.tenant, platform.now())
            await platform.install_workflows(conn, tenant_id)
            return tenant_id

        tenant_id = await platform.write(enter)
        yield Session(platform, tenant_id, Actor(settings.actor))
