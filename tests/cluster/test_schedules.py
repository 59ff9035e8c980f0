"""A cron schedule on a Celery cluster (Redis and RabbitMQ, both databases): two `batonflow
scheduler` processes and the scheduler loop of one worker race for each due time; each due time
starts exactly one run, and the Celery workers, not the schedulers, execute it to the end."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from batonflow.store.schedules import fires_t
from batonflow.store.tables import Run
from tests.cli.conftest import Cli
from tests.cluster.conftest import Cluster, Queues, worker_id

pytestmark = pytest.mark.slow


async def test_each_minute_of_a_cron_schedule_starts_one_run_that_celery_workers_execute(
    cluster_cli: Cli, tmp_path: Path, queues: Queues
) -> None:
    cli = cluster_cli
    default = queues("batonflow")
    cli.env |= {"BATONFLOW_DEFAULT_QUEUE": default, "BATONFLOW_SCHEDULER_POLL_SECONDS": "0.2"}
    added = cli.json(
        "schedules", "add", "minutely", "market-report", "--cron", "* * * * *", "-i", "delay_ms=0"
    )
    cluster = Cluster(cli, tmp_path)
    try:
        firing = [
            cluster.spawn("scheduler"),
            cluster.spawn("scheduler"),
            cluster.worker(default, scheduler="true"),
        ]
        executing = [cluster.procs[-1], cluster.worker(default)]
        # The first due time is the next whole minute: wait for its run to finish.
        fires: list[dict[str, Any]] = []
        for _ in range(int(150 / 0.2)):
            fires = await cli.query(select(fires_t).where(fires_t.c.schedule_id == added["id"]))
            if fires:
                break
            await asyncio.sleep(0.2)
        assert fires, f"no due time fired in 150 s:\n{cluster.output()}"
        first = str(fires[0]["run_id"])
        assert await cluster.wait(first, {"succeeded", "failed", "dead"}) == "succeeded"
    finally:
        cluster.close()
    # Stopped: what every scheduler did, and who executed it.
    fires = await cli.query(select(fires_t).where(fires_t.c.schedule_id == added["id"]))
    runs = await cli.query(select(Run.id, Run.status, Run.ctx, Run.created_by))
    assert all(f["error"] is None and f["due_at"].second == 0 for f in fires), fires
    assert {f["fired_by"] for f in fires} <= {worker_id(proc) for proc in firing}
    assert sorted(run["id"] for run in runs) == sorted(str(f["run_id"]) for f in fires)
    assert set(Counter(run["ctx"]["due_at"] for run in runs).values()) == {1}
    assert {run["created_by"] for run in runs} == {"schedule:minutely"}
    done = [run["id"] for run in runs if run["status"] == "succeeded"]
    assert first in done
    executed = [await cluster.executed(run_id) for run_id in done]
    assert {worker for steps in executed for _, _, worker, _ in steps} <= {
        worker_id(proc) for proc in executing
    }
    assert [
        sorted((key, queue, status) for key, queue, _, status in steps) for steps in executed
    ] == [
        [
            ("news", default, "succeeded"),
            ("quotes", default, "succeeded"),  # a map step runs its items where it runs
            *[(f"quotes[{n}]", None, "succeeded") for n in range(4)],
            ("report", default, "succeeded"),
        ]
    ] * len(done)
