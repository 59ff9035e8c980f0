"""The processes `bench/soak.py` runs and kills: a private broker (Redis or RabbitMQ) and Celery
workers."""

from __future__ import annotations

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
    script = Path(sys.argv[0]).stem  # soak, engine_celery
    print(f"[{script} {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Broker:
    """A private redis-server without persistence: a restart loses every message it held."""

    name = "redis (private, no persistence)"

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


RABBITMQ_SCRIPT = "/usr/lib/rabbitmq/bin/rabbitmq-server"
AMQP_HEADER = b"AMQP\x00\x00\x09\x01"


class RabbitBroker:
    """A private RabbitMQ node: its own node name, ports, data and log folders, Erlang cookie
    (its HOME) and configuration files (no plugins), so the machine's own RabbitMQ is never
    touched. A restart after `kill -9` keeps its data folder, as a crashed broker's would:
    persistent messages it had written survive, the rest are lost."""

    name = "rabbitmq (private node)"

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.dist_port = free_port()
        self.home = workdir / "rabbitmq"
        self.proc: subprocess.Popen[bytes] | None = None
        self.restarts = 0

    @property
    def url(self) -> str:
        return f"amqp://127.0.0.1:{self.port}//"  # the node's default user, from loopback

    @staticmethod
    def _server() -> str:
        # As root, the packaged wrapper (/usr/sbin) would switch to the `rabbitmq` user and its
        # HOME, the machine node's cookie: the script it wraps is started directly instead.
        if os.geteuid() == 0 and os.access(RABBITMQ_SCRIPT, os.X_OK):
            return RABBITMQ_SCRIPT
        server = shutil.which("rabbitmq-server", path=f"{os.environ.get('PATH', '')}:/usr/sbin")
        if server is None:
            raise SystemExit("rabbitmq-server is not installed; install it or pass --broker URL")
        return server

    def _env(self) -> dict[str, str]:
        home = self.home
        home.mkdir(exist_ok=True)
        (home / "rabbitmq.conf").write_text(f"listeners.tcp.local = 127.0.0.1:{self.port}\n")
        (home / "enabled_plugins").write_text("[].\n")
        (home / "rabbitmq-env.conf").write_text("")  # not the machine's (its node name, port)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "ERL_"))}
        return env | {
            "HOME": str(home),  # the node's own Erlang cookie
            "RABBITMQ_NODENAME": f"batonflow-soak-{self.port}@localhost",
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(home / "mnesia"),
            "RABBITMQ_LOG_BASE": str(home / "log"),
            "RABBITMQ_CONFIG_FILE": str(home / "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(home / "enabled_plugins"),
            "RABBITMQ_CONF_ENV_FILE": str(home / "rabbitmq-env.conf"),
            "ERL_FLAGS": "-kernel inet_dist_use_interface {127,0,0,1}",
        }

    async def start(self) -> None:
        with (self.home.parent / "rabbitmq.log").open("ab") as out:
            self.proc = subprocess.Popen(
                [self._server()],
                env=self._env(),
                cwd=self.home,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: `kill -9` reaches the VM too
            )
        for _ in range(1200):  # 60 s: a node takes 4-10 s to boot on a busy machine
            if self.proc.poll() is not None:
                raise SystemExit(f"the private RabbitMQ exited; see {self.home.parent}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock,
            ):
                sock.sendall(AMQP_HEADER)
                if sock.recv(1) == b"\x01":  # a method frame: Connection.Start
                    return
            await asyncio.sleep(0.05)
        raise SystemExit(f"the private RabbitMQ did not answer on port {self.port}")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    async def restart(self, down: float) -> None:
        self.kill()
        await asyncio.sleep(down)
        await self.start()
        self.restarts += 1


def installed_soak_app(workdir: Path) -> Path:
    """A folder that, on PYTHONPATH, makes bench/soak_app.py the installed app `soak`."""
    apps = workdir / "apps"
    dist = apps / "batonflow_soak_app-0.0.dist-info"
    dist.mkdir(parents=True, exist_ok=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: batonflow-soak-app\n")
    (dist / "entry_points.txt").write_text("[batonflow.apps]\nsoak = soak_app:app\n")
    return apps


def worker_env(settings: dict[str, str], *paths: Path) -> dict[str, str]:
    """This process's environment without its BATONFLOW_ settings, with `settings` (names
    without the prefix) and the checkout's code (and `paths`) on PYTHONPATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATONFLOW_")}
    env |= {f"BATONFLOW_{key.upper()}": value for key, value in settings.items()}
    env["PYTHONPATH"] = os.pathsep.join(map(str, [REPO / "src", REPO, BENCH, *paths]))
    return env


def batonflow_worker(queue: str) -> list[str]:
    """`batonflow worker --queues <queue>` (with BATONFLOW_EXECUTOR=celery: a Celery worker)."""
    return [str(Path(sys.executable).with_name("batonflow")), "worker", "--queues", queue]


class Workers:
    """Worker processes of one command, each logging to a file; killed and replaced on demand.
    `{n}` in the command becomes the process's number (for names that must differ)."""

    def __init__(self, command: list[str], env: dict[str, str], workdir: Path) -> None:
        self.command = command
        self.env = env
        self.workdir = workdir
        self.procs: list[subprocess.Popen[bytes]] = []
        self.spawned = 0
        self.kills = 0
        self.crashes = 0  # exits nobody asked for

    def spawn(self) -> subprocess.Popen[bytes]:
        out = self.workdir / f"worker-{self.spawned}.log"
        with out.open("wb") as sink:
            proc = subprocess.Popen(
                [part.replace("{n}", str(self.spawned)) for part in self.command],
                env=self.env,
                cwd=BENCH,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        self.spawned += 1
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
            if proc.poll() is None:
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
