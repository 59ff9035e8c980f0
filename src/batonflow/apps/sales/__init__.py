"""The sales app: leads to cash. Companies, contacts and leads; deals moving through pipelines
of stages; negotiation within the tenant's discount policy; contracts and invoices; and email
really sent, once, by agents whose every decision a person can review.

See docs/apps/sales.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from batonflow.apps.app import App
from batonflow.apps.sales.sales_agent import AGENTS
from batonflow.apps.sales.settings import SalesSettings
from batonflow.store.migrate import Branch

if TYPE_CHECKING:
    import typer
    from fastapi import APIRouter

HERE = Path(__file__).parent
HEAD = "sales_0006"


def _router() -> APIRouter:
    from batonflow.apps.sales.routes import build

    return build()


def _commands() -> typer.Typer:
    from batonflow.apps.sales.commands import commands

    return commands


app = App(
    name="sales",
    title="Sales",
    description="Leads to cash: qualify, reach out, propose, negotiate, contract, invoice",
    agents=AGENTS,
    migrations=Branch(HERE / "migrations", HEAD),
    router=_router,
    commands=_commands,
    settings=SalesSettings,
)
