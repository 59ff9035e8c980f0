"""`batonflow worker --metrics-port`: a worker with no API serves its metrics to the metrics
token, and counts the runs it executes."""

from __future__ import annotations

import socket
import subprocess
import time

import httpx
import pytest

from tests.cli.conftest import BATONFLOW, REPO, Cli

TOKEN = "worker-metrics-token-0123456789"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
def test_a_worker_serves_metrics_of_the_runs_it_executes(cli: Cli) -> None:
    queued = cli.json("run", "market-report", "--detach", "-i", "topic=tech")
    port = free_port()
    worker = subprocess.Popen(
        [str(BATONFLOW), "worker", "--metrics-port", str(port)],
        env={**cli.env, "BATONFLOW_METRICS_TOKEN": TOKEN, "BATONFLOW_POLL_SECONDS": "0.05"},
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        deadline = time.monotonic() + 60
        finished = ""
        while time.monotonic() < deadline:
            try:
                answer = httpx.get(url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=2)
            except httpx.TransportError:
                time.sleep(0.2)
                continue
            finished = "\n".join(
                line
                for line in answer.text.splitlines()
                if line.startswith("batonflow_runs_finished")
            )
            if finished:
                break
            time.sleep(0.2)
        refused = httpx.get(url, timeout=2)
    finally:
        worker.terminate()
        _, stderr = worker.communicate(timeout=30)
    assert (
        finished == 'batonflow_runs_finished_total{status="succeeded",workflow="market-report"} 1.0'
    )
    assert refused.status_code == 401
    assert stderr.splitlines()[0] == f"worker metrics at http://127.0.0.1:{port}/metrics"
    assert queued["status"] == "queued"
