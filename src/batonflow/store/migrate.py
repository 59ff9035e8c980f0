"""Schema migrations: one Alembic tree, shipped inside the package, with a branch per app.

The core's revisions live in `migrations/versions`; an app adds a `Branch`: its own versions folder
whose first revision carries the app's name as its branch label and depends on a core revision.
Alembic is imported only when a migration runs: every CLI command checks the schema version, and
that check is one query against `alembic_version` compared with the heads (a test keeps `HEAD`
equal to the core tree's real head, and each app's test keeps its branch's head).

A database with app branches has one `alembic_version` row per branch; `current()` and `head()`
name them sorted and comma separated ("0004,crm_0002").
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from batonflow.errors import ConfigError

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
HEAD = "0011"


@dataclass(frozen=True, slots=True)
class Branch:
    """An app's migrations: a versions folder and its newest revision."""

    path: Path
    head: str


def _config(connection: Any, branches: Sequence[Branch] = ()) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    locations = [MIGRATIONS / "versions", *(branch.path for branch in branches)]
    config.set_main_option("version_locations", os.pathsep.join(map(str, locations)))
    config.attributes["connection"] = connection
    return config


async def upgrade(
    engine: AsyncEngine, revision: str = "heads", branches: Sequence[Branch] = ()
) -> None:
    from alembic import command

    async with engine.begin() as conn:
        await conn.run_sync(lambda sync: command.upgrade(_config(sync, branches), revision))


async def downgrade(
    engine: AsyncEngine, revision: str = "base", branches: Sequence[Branch] = ()
) -> None:
    from alembic import command

    async with engine.begin() as conn:
        await conn.run_sync(lambda sync: command.downgrade(_config(sync, branches), revision))


async def current(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        if not await conn.run_sync(lambda sync: inspect(sync).has_table("alembic_version")):
            return None
        values = (await conn.scalars(text("SELECT version_num FROM alembic_version"))).all()
        return ",".join(sorted(map(str, values))) or None


async def is_current(engine: AsyncEngine, branches: Sequence[Branch] = ()) -> bool:
    """Whether the schema is at the core's head and at every branch's head."""
    now_at = await current(engine)
    if now_at == head(branches):
        return True
    if now_at is None or not branches:
        return False
    # A branch that depends on a core revision absorbs it: Alembic then records only the branch's
    # head, so ask the tree whether the recorded heads reach every head we need.
    return _reaches(now_at.split(","), {HEAD, *(branch.head for branch in branches)}, branches)


def _reaches(recorded: list[str], wanted: set[str], branches: Sequence[Branch]) -> bool:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(_config(None, branches))
    try:
        reached = {rev.revision for rev in script.iterate_revisions(tuple(recorded), "base")}
    except Exception:  # a recorded revision this tree does not know
        return False
    return wanted <= reached


async def ensure_current(engine: AsyncEngine, branches: Sequence[Branch] = ()) -> None:
    """Bring an embedded SQLite database up to date; PostgreSQL is migrated on purpose."""
    if await is_current(engine, branches):
        return
    if engine.dialect.name == "sqlite":
        await upgrade(engine, branches=branches)
        return
    now_at = await current(engine)
    raise ConfigError(
        f"the database schema is at {now_at or 'nothing'}, not {head(branches)}; "
        "run `batonflow db upgrade` first"
    )


def head(branches: Sequence[Branch] = ()) -> str:
    return ",".join(sorted({HEAD, *(branch.head for branch in branches)}))


def tree_head() -> str | None:
    """The head of the Alembic tree itself (what `HEAD` must equal)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config(None)).get_current_head()
