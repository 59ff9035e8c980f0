"""`batonflow db`: move the database schema up or down (the one place the CLI uses an engine of
its own: the platform insists on a current schema). The core and every installed app's branch
move together; a revision may name one branch (`crm@base`, `crm@+1`)."""

from __future__ import annotations

import typer

from batonflow.apps.app import Apps, migration_branches
from batonflow.cli.terminal import console, run, settings_for
from batonflow.store import migrate
from batonflow.store.db import create_engine


def installed_branches() -> list[migrate.Branch]:
    return migration_branches(Apps())


db_app = typer.Typer(no_args_is_help=True, help="Database schema.")


@db_app.command("upgrade")
def db_upgrade(revision: str = "heads") -> None:
    """Apply migrations up to REVISION (default: the newest of the core and of every app)."""

    async def main() -> int:
        settings = settings_for()
        engine = create_engine(settings.resolved_database_url)
        try:
            await migrate.upgrade(engine, revision, installed_branches())
            console.print(f"database at {await migrate.current(engine)}")
        finally:
            await engine.dispose()
        return 0

    raise typer.Exit(run(main()))


@db_app.command("downgrade")
def db_downgrade(
    revision: str = typer.Argument(..., help="Target revision, or 'base' for empty."),
) -> None:
    """Revert migrations down to REVISION."""

    async def main() -> int:
        settings = settings_for()
        engine = create_engine(settings.resolved_database_url)
        try:
            await migrate.downgrade(engine, revision, installed_branches())
            console.print(f"database at {await migrate.current(engine) or 'base'}")
        finally:
            await engine.dispose()
        return 0

    raise typer.Exit(run(main()))
