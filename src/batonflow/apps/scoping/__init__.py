"""The scoping app: a person works through five stages of questions with agents that ask,
analyse each stage against its checklist, and end the session with a project charter
(JSON, Markdown and PDF, versioned, signed off by named stakeholders).

See docs/apps/scoping.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from batonflow.apps.app import App, Page
from batonflow.apps.scoping.agents import AGENTS
from batonflow.apps.scoping.settings import ScopingSettings
from batonflow.store.migrate import Branch

if TYPE_CHECKING:
    import typer
    from fastapi import APIRouter

HERE = Path(__file__).parent
HEAD = "scoping_0003"


def _router() -> APIRouter:
    from batonflow.apps.scoping.routes import build

    return build()


def _commands() -> typer.Typer:
    from batonflow.apps.scoping.commands import commands

    return commands


app = App(
    name="scoping",
    title="Scoping",
    description="Guided sessions through five stages of questions to a project charter",
    agents=AGENTS,
    workflows=HERE / "workflows",
    migrations=Branch(HERE / "migrations", HEAD),
    router=_router,
    commands=_commands,
    settings=ScopingSettings,
    pages=(Page("sessions", "Scoping sessions"),),
)
