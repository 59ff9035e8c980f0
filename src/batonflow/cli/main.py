"""The `batonflow` command: the Typer app and its wiring. Each command reads settings once,
then calls services on the platform (`batonflow.platform`); one module per command group:

    runs.py       run, runs list/show/cancel/retry/override
    llm.py        runs calls, prompts, tenant
    reviews.py    reviews list/show/approve/reject/edit/submit
    workflows.py  workflows validate/add/list
    db.py         db upgrade/downgrade
    kb.py         kb create/list/add/search
    schedules.py  schedules add/list/pause/resume/delete, hooks create/list/rotate/delete,
                  scheduler
    serve.py      serve, worker

and one group per enabled app (`batonflow demo ...`), added when the command starts.

Exit codes: 0 the run succeeded (or the command did what it said), 1 the run failed, died or was
cancelled, 2 the input was wrong (a spec, an input, an id), 3 the run waits for a person.
"""

from __future__ import annotations

import typer

from batonflow.apps.app import Apps, load_apps
from batonflow.cli import llm, serve
from batonflow.cli import runs as runs_commands
from batonflow.cli.db import db_app
from batonflow.cli.kb import kb_app
from batonflow.cli.reviews import reviews_app
from batonflow.cli.schedules import hooks_app, scheduler, schedules_app
from batonflow.cli.terminal import errors
from batonflow.cli.workflows import workflows_app
from batonflow.errors import ConfigError
from batonflow.settings import Settings

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    help="Batonflow: durable multi-agent workflows.",
)
app.add_typer(runs_commands.runs_app, name="runs")
app.add_typer(workflows_app, name="workflows")
app.add_typer(reviews_app, name="reviews")
app.add_typer(db_app, name="db")
app.add_typer(kb_app, name="kb")
app.add_typer(schedules_app, name="schedules")
app.add_typer(hooks_app, name="hooks")
app.add_typer(llm.prompts_app, name="prompts")
app.add_typer(llm.tenant_app, name="tenant")
app.command()(runs_commands.run)
app.command()(serve.worker)
app.command()(serve.serve)
app.command()(scheduler)


def add_apps(cli: typer.Typer, apps: Apps) -> None:
    """Add each enabled app's command group, named after the app."""
    taken = {group.name for group in cli.registered_groups}
    taken |= {
        command.name or command.callback.__name__
        for command in cli.registered_commands
        if command.callback
    }
    for enabled in apps:
        if enabled.commands is None:
            continue
        if enabled.name in taken:
            raise ConfigError(
                f"the app '{enabled.name}' would hide the command 'batonflow {enabled.name}'; "
                "rename the app"
            )
        cli.add_typer(enabled.commands(), name=enabled.name)


def main() -> None:
    try:
        add_apps(app, load_apps(Settings().apps))
    except ConfigError as exc:
        errors.print(f"error ({exc.code}): {exc.message}", markup=False, highlight=False)
        raise SystemExit(2) from None
    app()
