"""The sales app under test: the real API on SQLite and on PostgreSQL, and people of separate
tenants calling it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from fastapi import FastAPI

from batonflow.api.app import create_app
from batonflow.api.deps import ApiState
from batonflow.apps.app import Apps, load_apps
from batonflow.apps.sales import app as sales
from batonflow.settings import Settings
from tests.api.conftest import api_db_url, api_settings
from tests.apps.members import Join, Member, members

# The API tests' fixtures, for these tests too, and the tenants' members the tests join.
__all__ = ["Join", "Member", "api_db_url", "api_settings"]

SALES = "/api/v1/sales"


def sales_apps() -> Apps:
    """The sales app without its workflows: its tables, routes and commands."""
    return load_apps(["sales"], {"sales": replace(sales, workflows=None)})


@pytest.fixture
async def sales_api(api_settings: Settings) -> AsyncIterator[FastAPI]:
    app = create_app(api_settings, apps=sales_apps())
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
def sales_state(sales_api: FastAPI) -> ApiState:
    """The running API's state: its database, for reading what the app stored."""
    state: ApiState = sales_api.state.batonflow
    return state


@pytest.fixture
async def sales_member(sales_api: FastAPI) -> AsyncIterator[Join]:
    """`await sales_member("acme")`: the admin of a new tenant, signed in."""
    async with members(sales_api) as join:
        yield join
