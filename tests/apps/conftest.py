"""What the apps' tests share: an empty database to migrate."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import _create_pg_database, _drop_pg_database, pg_url


@pytest.fixture(params=["sqlite", "postgresql"])
async def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database: a new SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'apps.db'}"
        return
    name = f"batonflow_apps_{tmp_path.name[-12:].replace('-', '_').lower()}"
    await _create_pg_database(name)
    yield pg_url(name)
    await _drop_pg_database(name)
