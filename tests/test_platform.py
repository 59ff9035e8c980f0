"""The composition root: what `open_platform` builds, what it shares, and what it refuses."""

from __future__ import annotations

import functools
import uuid
from pathlib import Path

import pytest

from batonflow.apps import demo
from batonflow.apps.app import App, Apps, load_apps, migration_branches
from batonflow.errors import ConfigError
from batonflow.platform import open_platform
from batonflow.settings import Settings
from batonflow.store import migrate
from batonflow.store.tenants import ensure_tenant, find_tenant
from batonflow.telemetry.process import Telemetry
from tests.agents.test_registry import extra
from tests.conftest import _create_pg_database, _drop_pg_database, pg_url

EXTRA = App(name="extra", title="Extra", agents=(extra,))


async def test_sqlite_is_migrated_and_executors_share_the_platforms_parts(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    apps = load_apps(["demo", "extra"], {"demo": demo.app, "extra": EXTRA})
    async with open_platform(settings, telemetry=Telemetry(), apps=apps) as platform:
        # the core and every installed app's branch
        assert await migrate.is_current(platform.engine, platform.branches)
        executor = platform.executor()
        shared = (executor.db, executor.registry, executor.gateway, executor.bus, executor.specs)
        assert shared == (
            platform.writer,
            platform.registry,
            platform.gateway,
            platform.bus,
            platform.specs,
        )
        assert platform.executors == [executor]
        assert "greet" in platform.registry.capability_names()  # the enabled app's agent
        assert platform.apps is apps
        tenant_id = await platform.write(
            functools.partial(ensure_tenant, slug="acme", now=platform.now())
        )
        assert await platform.db.read(functools.partial(find_tenant, slug="acme")) == tenant_id


async def test_postgresql_must_be_at_the_current_revision() -> None:
    name = f"batonflow_platform_{uuid.uuid4().hex[:8]}"
    await _create_pg_database(name)
    try:
        settings = Settings(database_url=pg_url(name))
        with pytest.raises(ConfigError) as refused:
            async with open_platform(settings, telemetry=Telemetry()):
                pass
        assert refused.value.message == (
            f"the database schema is at nothing, not {migrate.head(migration_branches(Apps()))}; "
            "run `batonflow db upgrade` first"
        )
    finally:
        await _drop_pg_database(name)
