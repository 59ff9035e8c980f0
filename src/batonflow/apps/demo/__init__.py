"""The demo app: deterministic agents, a mail tool with an outbox, and four example workflows
(`market-report`, `outreach`, `lead-brief`, `kb-answer`), with the outbox in the API, the CLI and the dashboard.

It is the smallest complete app, and the one the README's tour and the test suite run on.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from batonflow.agents.registry import Registry, build_registry
from batonflow.apps.app import App, Page
from batonflow.apps.demo.agents import AGENTS

if TYPE_CHECKING:
    import typer
    from fastapi import APIRouter


def _router() -> APIRouter:
    from batonflow.apps.demo.routes import router

    return router


def _commands() -> typer.Typer:
    from batonflow.apps.demo.commands import commands

    return commands


app = App(
    name="demo",
    title="Demo",
    description="Example agents and workflows: price symbols, score and email a lead, write a brief",
    agents=AGENTS,
    workflows=Path(__file__).parent / "workflows",
    router=_router,
    commands=_commands,
    pages=(Page("outbox", "Outbox"),),
)


def registry(**options: Any) -> Registry:
    """A registry of the demo's agents alone (for tests, benchmarks and examples)."""
    return build_registry(AGENTS, **options)
