"""The sales app: leads to cash. Companies, contacts and leads; deals moving through pipelines
of stages; negotiation within the tenant's discount policy; contracts and invoices; and email
really sent, once, by agents whose every decision a person can review.

See docs/apps/sales.md.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from batonflow.apps.app import App, Page
from batonflow.apps.sales.finance_agent import AGENTS as FINANCE
from batonflow.apps.sales.mail_agent import MAIL_AGENTS
from batonflow.apps.sales.negotiation_agent import AGENTS as NEGOTIATION
from batonflow.apps.sales.pipeline import AGENTS as PIPELINE
from batonflow.apps.sales.sales_agent import AGENTS as SALES_AGENTS
from batonflow.apps.sales.sdr_agent import AGENTS as SDR_AGENTS
from batonflow.apps.sales.settings import SalesSettings
from batonflow.store.migrate import Branch

if TYPE_CHECKING:
    import typer
    from fastapi import APIRouter

    from batonflow.api.deps import ApiState

HERE = Path(__file__).parent
HEAD = "sales_0006"


def _router() -> APIRouter:
    from batonflow.apps.sales.routes import build

    return build()


async def _demo(state: ApiState, tenant_id: str) -> list[str]:
    from batonflow.apps.sales.demo import seed

    return await seed(state, tenant_id)


def _commands() -> typer.Typer:
    from batonflow.apps.sales.commands import commands

    return commands


@asynccontextmanager
async def _beside_api(state: ApiState) -> AsyncIterator[None]:
    """With `BATONFLOW_SALES_SMTP_CATCHER=1`, the local SMTP catcher runs in the API process,
    on the SMTP host and port the app sends to."""
    settings: SalesSettings = state.apps.settings_of("sales")
    if not settings.smtp_catcher:
        yield
        return
    from batonflow.apps.sales.catcher import serving

    async with serving(state.transact, settings.smtp_host, settings.smtp_port):
        yield


app = App(
    name="sales",
    title="Sales",
    description="Leads to cash: qualify, reach out, propose, negotiate, contract, invoice",
    agents=(*SDR_AGENTS, *SALES_AGENTS, *NEGOTIATION, *FINANCE, *MAIL_AGENTS, *PIPELINE),
    workflows=HERE / "workflows",
    migrations=Branch(HERE / "migrations", HEAD),
    router=_router,
    commands=_commands,
    settings=SalesSettings,
    lifespan=_beside_api,
    demo=_demo,
    pages=(
        Page("leads", "Leads"),
        Page("board", "Pipeline board"),
        Page("deals", "Deals"),
        Page("products", "Products"),
        Page("emails", "Emails"),
        Page("invoices", "Invoices"),
        Page("contracts", "Contracts"),
        Page("settings", "Settings"),
    ),
)
