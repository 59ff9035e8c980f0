"""The processes `bench/soak.py` runs and kills: a private Redis broker and Celery workers."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent


def log(message: str) -> None:
    print(f"[soak {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Broker:
    """A private redis-server without persistence: a restart loses every message it held."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None
        self.restarts = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        redis = shutil.which("redis-server")
        if redis is None:
            raise SystemExit("redis-server is not on PATH; install it or pass --broker")
        args = [redis, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        args += ["--appendonly", "no", "--dir", str(self.workdir), "--loglevel", "warning"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock,
            ):
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return
            await asyncio.sleep(0.05)
        raise SystemExit(f"the private redis-server did not answer on port {self.port}")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    async def restart(self, down: float) -> None:
        self.kill()
        await asyncio.sleep(down)
        await self.start()
        self.restarts += 1


class Workers:
    """`batonflow worker --queues <queue>` processes on Celery, each logging to a file."""

    def __init__(self, args: argparse.Namespace, url: str, broker: str, queue: str, workdir: Path):
        apps = workdir / "apps"
        dist = apps / "batonflow_soak_app-0.0.dist-info"  # makes bench/soak_app.py an app
        dist.mkdir(parents=True)
        (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: batonflow-soak-app\n")
        (dist / "entry_points.txt").write_text("[batonflow.apps]\nsoak = soak_app:app\n")
        self.args = args
        self.queue = queue
        self.workdir = workdir
        env = {k: v for k, v in os.environ.items() if not k.startswith("BATONFLOW_")}
        self.env = env | {
            "BATONFLOW_DATABASE_URL": url,
            "BATONFLOW_DATA_DIR": str(workdir / "data"),
            "BATONFLOW_APPS": "soak",
            "BATONFLOW_EXECUTOR": "celery",
            "BATONFLOW_BROKER_URL": broker,
            "BATONFLOW_DEFAULT_QUEUE": queue,
            "BATONFLOW_CONCURRENCY": str(args.concurrency),
            "BATONFLOW_LEASE_SECONDS": str(args.lease),
            "BATONFLOW_HEARTBEAT_SECONDS": str(max(args.lease / 5, 0.2)),
            "BATONFLOW_REAP_SECONDS": "1",
            "BATONFLOW_POLL_SECONDS": "0.2",
            "BATONFLOW_REPUBLISH_SECONDS": str(args.republish),
            "BATONFLOW_SCHEDULER": "false",
            "BATONFLOW_LOG_FORMAT": "json",
            "BATONFLOW_LOG_LEVEL": "WARNING",
            "PYTHONPATH": os.pathsep.join(map(str, [REPO / "src", REPO, BENCH, apps])),
        }
        self.procs: list[subprocess.Popen[bytes]] = []
        self.spawned = 0
        self.kills = 0
        self.crashes = 0  # exits nobody asked for

    def spawn(self) -> subprocess.Popen[bytes]:
        batonflow = Path(sys.executable).with_name("batonflow")
        out = self.workdir / f"worker-{self.spawned}.log"
        self.spawned += 1
        with out.open("wb") as sink:
            proc = subprocess.Popen(
                [str(batonflow), "worker", "--queues", self.queue, "--grace", "1"],
                env=self.env,
                cwd=REPO,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        self.procs.append(proc)
        return proc

    def replace_exited(self) -> None:
        for proc in [p for p in self.procs if p.poll() is not None]:
            self.procs.remove(proc)
            self.crashes += 1
            log(f"worker {proc.pid} exited by itself ({proc.returncode}); starting another")
            self.spawn()

    def kill_one(self) -> None:
        victim = random.choice(self.procs)
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        self.procs.remove(victim)
        self.kills += 1
        self.spawn()

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def delete_queue(url: str, queue: str) -> None:
    """Remove the soak's queue from a broker this script did not start."""
    from kombu import Connection

    with Connection(url) as conn, contextlib.suppress(Exception):
        conn.channel().queue_delete(queue)
