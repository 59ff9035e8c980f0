"""The `batonflow` command: the Typer app and its wiring, with one module per command group
(`COMMANDS`) and one group per enabled app (`batonflow demo ...`). Each command reads settings
once, then calls services on the platform (`batonflow.platform`).

The root group imports only the module of the command being run, so a command starts (or prints
its help) without loading the platform, the database layer or the apps.

Exit codes: 0 the run succeeded (or the command did what it said), 1 the run failed, died or was
cancelled, 2 the input was wrong (a spec, an input, an id), 3 the run waits for a person.
"""

from __future__ import annotations

import importlib
from typing import Any

import typer
from typer.core import TyperGroup

from batonflow.errors import ConfigError

APPS_GROUP = "batonflow.apps"  # the entry-point group of apps (batonflow.apps.app.GROUP)

# name: (module, attribute, the help `batonflow --help` shows: how the command's own help starts)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "run": (
        "batonflow.cli.workflows",
        "run_workflow",
        "Validate a workflow, run it here with live progress, and print its outputs.",
    ),
    "runs": ("batonflow.cli.runs", "runs_app", "Inspect and operate runs."),
    "workflows": ("batonflow.cli.workflows", "workflows_app", "Validate and list workflows."),
    "reviews": ("batonflow.cli.reviews", "reviews_app", "Decide review and input steps."),
    "db": ("batonflow.cli.db", "db_app", "Migrate the database."),
    "kb": ("batonflow.cli.kb", "kb_app", "Knowledge bases: documents agents search."),
    "audit": ("batonflow.cli.audit", "audit_app", "The tenant's audit log: who did what, when."),
    "schedules": ("batonflow.cli.schedules", "schedules_app", "Schedules that start runs."),
    "hooks": ("batonflow.cli.schedules", "hooks_app", "Webhook URLs that start runs."),
    "prompts": ("batonflow.cli.llm", "prompts_app", "The prompt registry."),
    "tenant": ("batonflow.cli.llm", "tenant_app", "The tenant's LLM policy: budgets, logging."),
    "worker": (
        "batonflow.cli.serve",
        "worker",
        "Execute queued runs, and runs a crash interrupted, until stopped (no API).",
    ),
    "serve": ("batonflow.cli.serve", "serve", "Serve the API and the dashboard"),
    "scheduler": (
        "batonflow.cli.schedules",
        "scheduler",
        "Fire due schedules (any number of schedulers may run: each due time starts one run).",
    ),
}


def to_click(name: str, target: Any) -> Any:
    """A click command for a Typer group or a command function."""
    if not isinstance(target, typer.Typer):
        single = typer.Typer(add_completion=False)
        single.command(name)(target)
        target = single
    command = typer.main.get_command(target)
    command.name = name
    return command


class Commands(TyperGroup):
    """The root group: built-in commands and app groups, each loaded when it is run."""

    def list_commands(self, ctx: Any) -> list[str]:
        return [*COMMANDS, *(name for name in _app_names() if name not in COMMANDS)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        if cmd_name in COMMANDS:  # for the help listing; `resolve_command` loads the real one
            return typer.core.TyperCommand(cmd_name, help=COMMANDS[cmd_name][2])
        if cmd_name in _app_names():
            return typer.core.TyperCommand(
                cmd_name, help=f"The {cmd_name} app's commands (batonflow {cmd_name} --help)."
            )
        return None

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        if args and args[0] not in self.commands:
            self._load(args[0])
        return super().resolve_command(ctx, args)

    def _load(self, name: str) -> None:
        if name in COMMANDS:
            module, attribute, _ = COMMANDS[name]
            self.commands[name] = to_click(
                name, getattr(importlib.import_module(module), attribute)
            )
        elif name in _app_names():
            for app_name, group in app_groups().items():
                self.commands[app_name] = to_click(app_name, group)


def _app_names() -> list[str]:
    """The enabled apps' names, from the installed entry points and `BATONFLOW_APPS` (unset:
    every installed app) without importing any app; a name there that is not installed stops
    the command when the apps load (`app_groups`), with the installed ones."""
    import os
    from importlib.metadata import entry_points

    installed = {point.name for point in entry_points(group=APPS_GROUP)}
    chosen = os.environ.get("BATONFLOW_APPS")
    if chosen is None:
        return sorted(installed)
    return sorted({name.strip() for name in chosen.split(",") if name.strip()})


def app_groups() -> dict[str, typer.Typer]:
    """The command group of each enabled app that has one (this loads the apps)."""
    from batonflow.apps.app import load_apps
    from batonflow.cli.terminal import settings_for

    groups: dict[str, typer.Typer] = {}
    for enabled in load_apps(settings_for().apps):
        if enabled.commands is None:
            continue
        if enabled.name in COMMANDS:
            raise ConfigError(
                f"the app '{enabled.name}' would hide the command 'batonflow {enabled.name}'; "
                "rename the app"
            )
        groups[enabled.name] = enabled.commands()
    return groups


app = typer.Typer(
    cls=Commands,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    help="Batonflow: durable multi-agent workflows.",
)


@app.callback()
def _root() -> None:
    """Batonflow: durable multi-agent workflows."""


def main() -> None:
    try:
        app()
    except ConfigError as exc:
        from batonflow.cli.terminal import errors

        errors.print(f"error ({exc.code}): {exc.message}", markup=False, highlight=False)
        raise SystemExit(2) from None
