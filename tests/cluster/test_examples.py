"""The README's examples as an operator runs them on a cluster: `batonflow run ... --detach`
queues them, three `batonflow worker --queues ...` processes on Celery execute their steps, each
on the queue its route names (Redis and RabbitMQ, both databases). `lead-brief` calls the local
model from two processes (its `llm` step and its `brief.write` agent); `outreach` waits for a
person, whose `batonflow reviews approve --detach` leaves the send to whichever worker serves its
queue. (`market-report` runs on two worker processes in test_worker_cli.py.)"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from dirty_equals import IsStr

from tests.cli.conftest import Cli
from tests.cluster.conftest import Cluster, Queues

pytestmark = pytest.mark.slow

OUTREACH = ["examples/outreach.yaml", "-i", "name=Ada", "-i", "email=ada@example.com"]
LEAD_BRIEF = ["examples/lead-brief.yaml", "--input", "company=Analytical Engines"]


@pytest.fixture
def cluster(cluster_cli: Cli, tmp_path: Path, queues: Queues) -> Iterator[Cluster]:
    """Three worker processes on their own queues: sales agents and the default queue; the
    `llm` steps; the writer agent and the mail tool."""
    cli = cluster_cli
    sdr, llm, writer = queues("agents.sdr"), queues("agents.llm"), queues("agents.writer")
    default = queues("batonflow")
    routes = f"demo-sales={sdr},llm={llm},demo-writer={writer},email.send={writer}"
    cli.env |= {"BATONFLOW_QUEUE_ROUTES": routes, "BATONFLOW_DEFAULT_QUEUE": default}
    made = Cluster(cli, tmp_path)
    made.queues = {"sdr": sdr, "llm": llm, "writer": writer, "default": default}
    made.worker(sdr, default)
    made.worker(llm)
    made.worker(writer)
    yield made
    made.close()


async def test_the_readme_examples_run_their_steps_on_three_worker_processes(
    cluster: Cluster,
) -> None:
    brief_id = cluster.cli.json("run", *LEAD_BRIEF, "--detach")["run_id"]
    run_id = cluster.cli.json("run", *OUTREACH, "-i", "company=Analytical", "--detach")["run_id"]

    # outreach: a person approves the drafted email; a worker sends it, once.
    assert await cluster.wait(run_id, {"waiting", "failed", "dead"}) == "waiting"
    reviews = cluster.cli.json("reviews", "list")
    assert [(r["run_id"], r["step"]) for r in reviews] == [(run_id, "approve")]
    approved = cluster.cli("reviews", "approve", reviews[0]["id"], "--detach")
    assert (approved.returncode, approved.stdout) == (0, f"review {reviews[0]['id']}: approve\n")
    assert await cluster.wait(run_id, {"succeeded", "failed", "dead"}) == "succeeded"
    assert cluster.cli.json("runs", "show", run_id)["outputs"] == {
        "tier": "C",
        "score": 32,
        "message_id": f"{run_id}:send:1",
    }
    assert [(m["run_id"], m["to"]) for m in cluster.cli.json("demo", "outbox")] == [
        (run_id, "ada@example.com")
    ]
    assert await cluster.executed(run_id) == cluster.on(
        ("approve", "default", "waiting"),  # the review's attempt ends waiting for a person
        ("draft", "sdr", "succeeded"),
        ("score", "sdr", "succeeded"),
        ("send", "writer", "succeeded"),
    )

    # lead-brief: code scores the lead; the local model writes in two other processes.
    assert await cluster.wait(brief_id, {"succeeded", "failed", "dead"}) == "succeeded"
    assert cluster.cli.json("runs", "show", brief_id)["outputs"] == {
        "score": 75,
        "fit": "good",
        "subject": IsStr(min_length=1),
        "brief": IsStr(
            regex=r"Analytical Engines: a good fit, scored 75/100 \(450 employees, a budget of "
            r"60000(\.0)?\)\.\nOpening line: .+"
        ),
    }
    assert await cluster.executed(brief_id) == cluster.on(
        ("brief", "writer", "succeeded"),
        ("score", "sdr", "succeeded"),
        ("subject", "llm", "succeeded"),
    )
