"""`batonflow serve` as a person runs it: the demo server in its own process, then the README's
API walk-through over real HTTP — sign in, start the outreach example, follow its events live,
approve its review, see it succeed with its cost — and the refusal to serve with the built-in
secret outside development mode."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cli.conftest import BATONFLOW, REPO

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path, subprocess.Popen[str]]]:
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("BATONFLOW_")} | {
        "BATONFLOW_DATA_DIR": str(tmp_path),
        "BATONFLOW_POLL_SECONDS": "0.05",
        "BATONFLOW_SALES_SMTP_PORT": str(free_port()),  # the demo's mail catcher
    }
    proc = subprocess.Popen(
        [
            str(BATONFLOW),
            "demo",
            "serve",
            "--port",
            str(port),
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health/live", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.2)
    else:
        proc.kill()
        raise AssertionError(f"the server did not come up: {proc.communicate()[0]}")
    try:
        yield url, tmp_path, proc
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        assert proc.stdout is not None
        proc.stdout.close()


def frames(response: httpx.Response) -> Iterator[dict[str, Any]]:
    """Server-sent events as {id, event, data}; comments (keepalives) are skipped."""
    frame: dict[str, Any] = {}
    for line in response.iter_lines():
        if not line:
            if frame:
                yield frame
            frame = {}
        elif line.startswith(":"):
            continue
        else:
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            frame[field] = json.loads(value) if field == "data" else value


def test_the_demo_server_walk_through(server: tuple[str, Path, subprocess.Popen[str]]) -> None:
    url, data_dir, _ = server
    credentials = json.loads((data_dir / "demo-credentials.json").read_text())
    admin = next(u for u in credentials["users"] if u["role"] == "admin")
    api = f"{url}/api/v1"
    login = httpx.post(
        f"{api}/auth/login", json={"email": admin["email"], "password": admin["password"]}
    )
    assert login.status_code == 200, login.text
    auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
    with httpx.Client(base_url=api, headers=auth, timeout=30) as client:
        started = client.post(
            "/runs",
            headers={"Idempotency-Key": "lead-ada"},
            json={
                "workflow_id": "outreach",
                "inputs": {"name": "Ada", "email": "ada@example.com", "company": "Analytical"},
            },
        )
        assert started.status_code == 201, started.text
        run_id = started.json()["id"]

        seen = []
        with client.stream("GET", f"/runs/{run_id}/events") as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            for frame in frames(stream):
                seen.append(frame["event"])
                if frame["event"] == "run.waiting":
                    break
        assert seen[0] == "run.queued"
        assert "review.requested" in seen
        assert [e for e in seen if e == "step.completed"] == ["step.completed"] * 2

        (review,) = client.get("/reviews", params={"run_id": run_id}).json()["items"]
        decided = client.post(
            f"/reviews/{review['id']}/decision", json={"decision": "approve", "comment": "ok"}
        )
        assert decided.status_code == 200

        with client.stream("GET", f"/runs/{run_id}/events", headers={"Last-Event-ID": "0"}) as s:
            last = [frame["event"] for frame in frames(s)][-1]
        assert last == "run.succeeded"
        run = client.get(f"/runs/{run_id}").json()
        assert (run["status"], run["cost_usd"], run["outputs"]["tier"]) == ("succeeded", "0", "C")


def test_serve_refuses_the_built_in_secret_outside_dev_mode(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("BATONFLOW_")} | {
        "BATONFLOW_DATA_DIR": str(tmp_path)
    }
    done = subprocess.run(
        [str(BATONFLOW), "serve", "--port", str(free_port())],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "BATONFLOW_SECRET_KEY is the built-in development secret" in " ".join(
        done.stderr.split()
    )
