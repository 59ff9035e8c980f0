"""`batonflow worker --queues ...` as an operator runs it: clear refusals of a bad setup, and the
demo's market report run by two Celery worker processes on their own queues, one of them serving
its metrics (queue depth and the age of the oldest unclaimed wake-up per queue)."""

from __future__ import annotations

import asyncio
import re
import socket
import subprocess
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from batonflow.cluster.broker import Publisher, celery_app
from batonflow.cluster.metrics import broker_depths
from batonflow.settings import Settings
from batonflow.store.tables import Run
from batonflow.workflows.attempts import Wake
from tests.cli.conftest import BATONFLOW, REPO, Cli, environment, said
from tests.cluster.conftest import BROKERS, Queues

TOKEN = "cluster-metrics-token-0123456789"


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    data = tmp_path / "data"
    return Cli(environment(data), f"sqlite:///{data / 'batonflow.db'}")


@pytest.mark.parametrize(
    ("env", "args", "error"),
    [
        ({}, ["--queues", "agents.sdr"], "--queues needs BATONFLOW_EXECUTOR=celery"),
        (
            {"BATONFLOW_EXECUTOR": "celery"},
            ["--queues", "agents.sdr"],
            "BATONFLOW_EXECUTOR=celery needs BATONFLOW_BROKER_URL (redis:// or amqp://)",
        ),
        (
            {"BATONFLOW_EXECUTOR": "celery", "BATONFLOW_BROKER_URL": "http://broker:80"},
            [],
            "BATONFLOW_BROKER_URL must start with redis:// or amqp://, got 'http://broker:80'",
        ),
        (
            {"BATONFLOW_EXECUTOR": "celery", "BATONFLOW_BROKER_URL": BROKERS["redis"]},
            ["--until-idle"],
            "--until-idle is for the polling worker; a Celery worker serves queues",
        ),
    ],
)
def test_a_worker_refuses_a_setup_it_cannot_serve_and_says_what_to_fix(
    cli: Cli, env: dict[str, str], args: list[str], error: str
) -> None:
    cli.env.update(env)
    done = cli("worker", *args)
    assert done.returncode == 2
    assert error in said(done.stderr)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
async def test_two_celery_workers_run_the_market_report_and_report_their_queues(
    db_url: str, engine: AsyncEngine, tmp_path: Path, queues: Queues
) -> None:
    data = tmp_path / "data"
    cli = Cli(environment(data), f"sqlite:///{data / 'batonflow.db'}")
    if engine.dialect.name != "sqlite":
        cli = Cli({**cli.env, "BATONFLOW_DATABASE_URL": db_url}, db_url)
    pricing, news, default = queues("agents.pricing"), queues("agents.news"), queues("batonflow")
    cli.env |= {
        "BATONFLOW_EXECUTOR": "celery",
        "BATONFLOW_BROKER_URL": queues.url,
        "BATONFLOW_QUEUE_ROUTES": f"quote.price={pricing},news.headline={news}",
        "BATONFLOW_DEFAULT_QUEUE": default,
        "BATONFLOW_POLL_SECONDS": "0.05",
        "BATONFLOW_METRICS_TOKEN": TOKEN,
    }
    runs = [
        cli.json("run", "market-report", "--detach", "-i", f"topic=t{n}")["run_id"]
        for n in range(2)
    ]
    expected = sorted(
        f'batonflow_broker_queue_{name}{{queue="{queue}"}} 0.0'
        for name in ("depth", "oldest_age_seconds")
        for queue in (pricing, news, default)
    )
    port = _free_port()
    procs = [
        subprocess.Popen(
            [str(BATONFLOW), "worker", *args],
            env=cli.env,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for args in (
            ["--queues", pricing, "--concurrency", "4", "--metrics-port", str(port)],
            ["--queues", f"{news},{default}", "--concurrency", "2"],
        )
    ]
    try:
        statuses: dict[str, str] = {}
        for _ in range(600):
            rows = await cli.query(select(Run.id, Run.status).where(Run.id.in_(runs)))
            statuses = {row["id"]: row["status"] for row in rows}
            if set(statuses.values()) == {"succeeded"} and len(statuses) == 2:
                break
            await asyncio.sleep(0.1)
        assert statuses == dict.fromkeys(runs, "succeeded")
        # The queue gauges are read every 5 seconds: wait for a reading after the runs ended.
        broker: list[str] = []
        for _ in range(150):
            scraped = httpx.get(
                f"http://127.0.0.1:{port}/metrics",
                headers={"Authorization": f"Bearer {TOKEN}"},
                timeout=10,
            ).text
            broker = sorted(
                line
                for line in scraped.splitlines()
                if re.match(r"batonflow_broker_queue_\w+\{", line)
            )
            if broker == expected:
                break
            await asyncio.sleep(0.1)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            assert proc.wait(timeout=30) == 0
    assert broker == expected


def test_queue_depth_counts_the_messages_waiting_on_the_broker(queues: Queues) -> None:
    waiting, never = queues("waiting"), queues("never-used")
    app = celery_app(Settings(broker_url=queues.url, default_queue=waiting))
    publisher = Publisher(app)
    publisher.send([Wake("t", f"run-{n}", "step", 1, waiting) for n in range(3)])
    publisher.close()
    assert broker_depths(app, [waiting, never]) == {waiting: 3, never: 0}
