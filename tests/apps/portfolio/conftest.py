"""The portfolio app under test: the real API on SQLite and on PostgreSQL, people of separate
tenants calling it, and the ledger's functions run in the app's own transactions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from fastapi import FastAPI

from batonflow.api.app import create_app
from batonflow.api.deps import ApiState
from batonflow.apps.app import Apps, load_apps
from batonflow.apps.portfolio import app as portfolio
from batonflow.settings import Settings
from tests.api.conftest import api_db_url, api_settings
from tests.apps.members import Join, Member, members

# The API tests' fixtures, for these tests too, and the tenants' members the tests join.
__all__ = ["Join", "Member", "api_db_url", "api_settings"]

PORTFOLIO = "/api/v1/portfolio/portfolios"


def portfolio_apps() -> Apps:
    """The portfolio app without its workflows: its tables, routes and commands."""
    return load_apps(["portfolio"], {"portfolio": replace(portfolio, workflows=None)})


@pytest.fixture
async def portfolio_api(api_settings: Settings) -> AsyncIterator[FastAPI]:
    app = create_app(api_settings, apps=portfolio_apps())
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
def portfolio_state(portfolio_api: FastAPI) -> ApiState:
    """The running API's state: `transact`/`query` run ledger functions on its database."""
    state: ApiState = portfolio_api.state.batonflow
    return state


@pytest.fixture
async def portfolio_member(portfolio_api: FastAPI) -> AsyncIterator[Join]:
    """`await portfolio_member("acme")`: the admin of a new tenant, signed in."""
    async with members(portfolio_api) as join:
        yield join
