"""The portfolio app: a ledger of transactions per portfolio (its state named by a hash chain),
pricing packs (immutable, dated snapshots of prices, FX, corporate actions and macro series,
built from the configured data providers), patterns (workflows) that compute analytics on a
fresh pack, and data rights that decide what may be exported and with which attribution.

See docs/apps/portfolio.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from batonflow.apps.app import App, Page
from batonflow.apps.portfolio.agents import AGENTS
from batonflow.apps.portfolio.settings import PortfolioSettings
from batonflow.store.migrate import Branch

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager

    import typer
    from fastapi import APIRouter

    from batonflow.api.deps import ApiState

HERE = Path(__file__).parent
HEAD = "portfolio_0001"


def _router() -> APIRouter:
    from batonflow.apps.portfolio.routes import build

    return build()


async def _demo(state: ApiState, tenant_id: str) -> list[str]:
    from batonflow.apps.portfolio.demo import seed

    return await seed(state, tenant_id)


def _gauges(state: ApiState) -> AbstractAsyncContextManager[None]:
    from batonflow.apps.portfolio.gauges import following

    return following(state)


def _commands() -> typer.Typer:
    from batonflow.apps.portfolio.commands import commands

    return commands


app = App(
    name="portfolio",
    title="Portfolio",
    description="Analytics on pricing packs: a hash-chained ledger, a freshness gate, data rights",
    agents=AGENTS,
    workflows=HERE / "workflows",
    migrations=Branch(HERE / "migrations", HEAD),
    router=_router,
    commands=_commands,
    settings=PortfolioSettings,
    pages=(Page("portfolios", "Portfolios"), Page("packs", "Pricing packs")),
    demo=_demo,
    lifespan=_gauges,
)
