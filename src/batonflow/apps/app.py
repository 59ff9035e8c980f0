"""The app seam: what an app declares, and how a process finds the apps it runs.

An app is a Python package that hands Batonflow one `App` object through the `batonflow.apps`
entry-point group (in its `pyproject.toml`):

    [project.entry-points."batonflow.apps"]
    crm = "crm_for_batonflow:app"

The object declares everything the app adds: its agents and tools, a folder of workflow files
(stored as versions in every tenant on start-up), its Alembic migrations (a branch of its own in
the one migration tree), a factory for its API router (mounted under `/api/v1/<name>/`), a factory
for its CLI group (`batonflow <name> ...`), its settings class (read from `BATONFLOW_<NAME>_*`) and
its dashboard pages (React components under `web/src/apps/<name>/`), and optionally what it runs
beside the API while the API serves (`lifespan`).

`BATONFLOW_APPS` names the enabled apps (comma separated); unset, every installed app is enabled.
A disabled app's agents, routes, commands and pages are absent; its migrations still run, so its
tables survive being switched off and on again.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from pydantic_settings import BaseSettings

from batonflow.agents.agent import Agent
from batonflow.errors import ConfigError
from batonflow.store.migrate import Branch

if TYPE_CHECKING:
    import typer
    from fastapi import APIRouter

    from batonflow.api.deps import ApiState

# What an app runs beside the API while it serves (a local mail catcher, a listener): entered
# once the API's state is built, left when the API stops.
AppLifespan = Callable[["ApiState"], AbstractAsyncContextManager[object]]

# Seeds an app's demo data in the demo tenant (the API's state, the tenant's id): idempotent, a
# second start finds what the first seeded; the lines say what there is to try.
DemoSeeder = Callable[["ApiState", str], Awaitable[list[str]]]

GROUP = "batonflow.apps"
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}$")


@dataclass(frozen=True, slots=True)
class Page:
    """A dashboard page: `web/src/apps/<app>/` exports a component under `key`, shown at
    `/apps/<app>/<key>` and in the navigation as `title`."""

    key: str
    title: str


@dataclass(frozen=True)
class App:
    name: str
    title: str
    description: str = ""
    agents: Sequence[Agent] = ()
    workflows: Path | None = None
    migrations: Branch | None = None  # its revisions carry the app's name as branch label
    router: Callable[[], APIRouter] | None = None
    commands: Callable[[], typer.Typer] | None = None
    settings: type[BaseSettings] | None = None
    pages: Sequence[Page] = ()
    demo: DemoSeeder | None = None
    lifespan: AppLifespan | None = None

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ConfigError(
                f"an app is named {self.name!r}; app names are lower-case letters, digits and "
                "dashes, starting with a letter (they become URL paths and CLI commands)"
            )

    def workflow_files(self) -> list[Path]:
        if self.workflows is None:
            return []
        return sorted(
            path
            for path in self.workflows.iterdir()
            if path.suffix in (".yaml", ".yml", ".json") and path.is_file()
        )


@dataclass
class Apps:
    """The enabled apps of a process, in a stable order, with each one's settings read once."""

    enabled: dict[str, App] = field(default_factory=dict)
    settings: dict[str, BaseSettings] = field(default_factory=dict)

    def __iter__(self) -> Iterator[App]:
        return iter(self.enabled.values())

    def names(self) -> list[str]:
        return list(self.enabled)

    def agents(self) -> Iterator[Agent]:
        for app in self:
            yield from app.agents

    def settings_of(self, name: str) -> Any:
        return self.settings[name]


def migration_branches(enabled: Apps) -> list[Branch]:
    """The migration branches of every installed app and of `enabled` (a disabled app's tables
    stay, so switching it off and on again loses nothing). It reads the installed packages'
    entry points: compute it once per process (`Platform.branches`)."""
    apps = {**installed(), **enabled.enabled}
    return [app.migrations for app in apps.values() if app.migrations is not None]


def installed() -> dict[str, App]:
    """Every app installed in this environment, by name."""
    found: dict[str, App] = {}
    for point in sorted(entry_points(group=GROUP), key=lambda p: p.name):
        try:
            app = point.load()
        except Exception as exc:
            raise ConfigError(
                f"the app '{point.name}' ({point.value}) cannot be loaded: {exc}"
            ) from exc
        if not isinstance(app, App):
            raise ConfigError(
                f"the entry point '{point.name}' ({point.value}) in the group '{GROUP}' is a "
                f"{type(app).__name__}, not a batonflow App"
            )
        if app.name != point.name:
            raise ConfigError(
                f"the entry point '{point.name}' ({point.value}) holds the app '{app.name}'; "
                "name the entry point after the app"
            )
        found[app.name] = app
    return found


def load_apps(selection: Iterable[str] | None, available: dict[str, App] | None = None) -> Apps:
    """The enabled apps: those `selection` names (from `BATONFLOW_APPS`), or all installed."""
    available = installed() if available is None else available
    names = list(available) if selection is None else [n for n in selection if n]
    unknown = [name for name in names if name not in available]
    if unknown:
        choices = ", ".join(available) or "none"
        raise ConfigError(
            f"BATONFLOW_APPS names {', '.join(map(repr, unknown))}, which is not installed; "
            f"installed apps: {choices}"
        )
    apps = Apps()
    for name in dict.fromkeys(names):
        app = available[name]
        apps.enabled[name] = app
        if app.settings is not None:
            try:
                apps.settings[name] = app.settings()
            except ValidationError as exc:
                problems = "; ".join(
                    f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()
                )
                raise ConfigError(
                    f"the settings of the app '{name}' are invalid: {problems}"
                ) from None
    return apps
