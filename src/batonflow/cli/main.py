"""The `batonflow` command: the Typer app and its wiring. Each command reads settings once,
then calls services on the platform (`batonflow.platform`); one module per command group:

    runs.py       run, runs list/show/cancel/retry/override
    llm.py        runs calls, prompts, tenant
    reviews.py    reviews list/show/approve/reject/edit/submit
    workflows.py  workflows validate/add/list
    db.py         db upgrade/downgrade
    serve.py      serve, worker

Exit codes: 0 the run succeeded (or the command did what it said), 1 the run failed, died or was
cancelled, 2 the input was wrong (a spec, an input, an id), 3 the run waits for a person.
"""

from __future__ import annotations

import typer

from batonflow.cli import llm, serve
from batonflow.cli import runs as runs_commands
from batonflow.cli.db import db_app
from batonflow.cli.reviews import reviews_app
from batonflow.cli.workflows import workflows_app

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
app.add_typer(llm.prompts_app, name="prompts")
app.add_typer(llm.tenant_app, name="tenant")
app.command()(runs_commands.run)
app.command()(serve.worker)
app.command()(serve.serve)


def main() -> None:
    app()
