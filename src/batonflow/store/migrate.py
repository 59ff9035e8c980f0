"""Schema migrations (one Alembic tree, shipped inside the package).

Alembic is imported only when a migration runs: every CLI command checks the schema version, and
that check is one query against `alembic_version` compared with `HEAD` (a test keeps `HEAD` equal
to the tree's real head).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from batonflow.errors import ConfigError

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
HEAD = "0004"


def _config(connection: Any) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    from alembic import command

    async with engine.begin() as conn:
        await conn.run_sync(lambda sync: command.upgrade(_config(sync), revision))


async def downgrade(engine: AsyncEngine, revision: str = "base") -> None:
    from alembic import command

    async with engine.begin() as conn:
        await conn.run_sync(lambda sync: command.downgrade(_config(sync), revision))


async def current(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        if not await conn.run_sync(lambda sync: inspect(sync).has_table("alembic_version")):
            return None
        value = await conn.scalar(text("SELECT version_num FROM alembic_version"))
        return str(value) if value is not None else None


async def ensure_current(engine: AsyncEngine) -> None:
    """Bring an embedded SQLite database up to date; PostgreSQL is migrated on purpose."""
    now_at = await current(engine)
    if now_at == HEAD:
        return
    if engine.dialect.name == "sqlite":
        await upgrade(engine)
        return
    raise ConfigError(
        f"the database schema is at {now_at or 'nothing'}, not {HEAD}; "
        "run `batonflow db upgrade` first"
    )


def head() -> str:
    return HEAD


def tree_head() -> str | None:
    """The head of the Alembic tree itself (what `HEAD` must equal)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config(None)).get_current_head()
