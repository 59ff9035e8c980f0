"""`batonflow db`: move the database schema up or down (the one place the CLI uses an engine of
its own: the platform insists on a current schema). The core and every installed app's branch
move together; a revision may name one branch (`crm@base`, `crm@+1`)."""

from __future__ import annotations

from typing import Literal

import typer

from batonflow.cli.terminal import console, run, settings_for

db_app = typer.Typer(no_args_is_help=True, help="Migrate the database.")


def _move(direction: Literal["upgrade", "downgrade"], revision: str) -> int:
    """Move the schema up or down, the core and every installed app's branch together, and
    print where it ends."""
    from batonflow.apps.app import Apps, migration_branches
    from batonflow.store import migrate
    from batonflow.store.db import create_engine

    step = migrate.upgrade if direction == "upgrade" else migrate.downgrade

    async def main() -> int:
        settings = settings_for()
        engine = create_engine(settings.resolved_database_url)
        try:
            await step(engine, revision, migration_branches(Apps()))
            console.print(f"database at {await migrate.current(engine) or 'base'}")
        finally:
            await engine.dispose()
        return 0

    return run(main())


@db_app.command("upgrade")
def db_upgrade(revision: str = "heads") -> None:
    """Apply migrations up to REVISION (default: the newest of the core and of every app)."""
    raise typer.Exit(_move("upgrade", revision))


@db_app.command("downgrade")
def db_downgrade(
    revision: str = typer.Argument(..., help="Target revision, or 'base' for empty."),
) -> None:
    """Revert migrations down to REVISION."""
    raise typer.Exit(_move("downgrade", revision))
