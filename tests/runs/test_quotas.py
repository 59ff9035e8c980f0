"""The active-run quota holds in the service, whoever starts the run."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from batonflow.errors import QuotaExceeded
from batonflow.runs.service import cancel_run, start_run
from batonflow.store.workflows import get_version
from tests.conftest import ACTOR, now, start

ONE_STEP = """
id: one
version: 1
steps:
  - {id: only, kind: agent, capability: demo.sleep, args: {ms: 0}}
"""


async def test_a_run_over_the_active_run_quota_is_refused(engine: AsyncEngine, tenant: str) -> None:
    first = await start(engine, tenant, ONE_STEP)
    await start(engine, tenant, ONE_STEP)
    async with engine.begin() as conn:
        version = await get_version(conn, tenant, "one", None)
        with pytest.raises(QuotaExceeded) as refused:
            await start_run(
                conn,
                tenant_id=tenant,
                version=version,
                inputs={},
                actor=ACTOR,
                now=now(),
                max_active_runs=2,
            )
    assert (refused.value.code, refused.value.message, refused.value.details) == (
        "quota_exceeded",
        "this tenant already has 2 queued, running or waiting runs (the limit is 2); "
        "wait for some to finish or cancel them",
        {"active_runs": 2, "limit": 2},
    )

    async with engine.begin() as conn:
        await cancel_run(conn, tenant_id=tenant, run_id=first.id, actor=ACTOR, reason="", now=now())
        third = await start_run(
            conn,
            tenant_id=tenant,
            version=version,
            inputs={},
            actor=ACTOR,
            now=now(),
            max_active_runs=2,
        )
    assert third.status == "queued"
