"""The python sandbox: code runs in a separate process with an empty environment, a scratch
directory, resource limits and no network unless granted; what passes a limit is stopped and
the reason reported."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

import pytest

from batonflow.agents.sandbox import Finished, Limits, run_python
from batonflow.errors import SandboxStopped


async def stopped(code: str, limits: Limits) -> dict[str, str]:
    with pytest.raises(SandboxStopped) as caught:
        await run_python(code, limits)
    return {"reason": caught.value.details["reason"], "message": caught.value.message}


async def test_code_runs_and_returns_what_it_printed() -> None:
    done = await run_python("import sys; print(sum(range(10))); sys.exit(3)", Limits())
    assert done == Finished(exit_code=3, stdout="45\n", stderr="")


async def test_no_secret_of_the_worker_reaches_the_code(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BATONFLOW_SECRET_KEY", "a-secret-the-sandbox-must-not-see")
    code = "import os, json; print(json.dumps(sorted(os.environ))); print(os.getcwd())"
    done = await run_python(code, Limits())
    names, cwd = done.stdout.splitlines()
    assert "BATONFLOW_SECRET_KEY" not in names
    assert os.path.basename(cwd).startswith("batonflow-sandbox-")
    assert not os.path.exists(cwd)  # the scratch directory is removed afterwards


async def test_a_loop_that_never_ends_is_killed_at_the_wall_clock_limit() -> None:
    started = asyncio.get_running_loop().time()
    found = await stopped("while True:\n    pass\n", Limits(wall_seconds=1.0, cpu_seconds=30))
    assert found == {
        "reason": "wall_clock",
        "message": "the python sandbox stopped the code: ran past 1.0s",
    }
    assert asyncio.get_running_loop().time() - started < 10


async def test_a_sleeping_child_process_group_is_killed_too() -> None:
    found = await stopped("import time\ntime.sleep(60)\n", Limits(wall_seconds=0.5))
    assert found["reason"] == "wall_clock"


async def test_cpu_time_is_limited() -> None:
    found = await stopped("while True:\n    pass\n", Limits(wall_seconds=60, cpu_seconds=1))
    assert found == {
        "reason": "cpu",
        "message": "the python sandbox stopped the code: passed its CPU limit of 1s",
    }


async def test_allocating_too_much_memory_is_stopped() -> None:
    found = await stopped("block = bytearray(1024 * 1024 * 1024)\n", Limits(memory_mb=128))
    assert found == {
        "reason": "memory",
        "message": "the python sandbox stopped the code: passed its memory limit of 128 MB",
    }


@pytest.fixture
async def listener() -> AsyncIterator[int]:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"hello from the granted host\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


CONNECT = """
import socket
with socket.create_connection(("127.0.0.1", {port}), timeout=5) as conn:
    print(conn.recv(100).decode().strip())
"""


async def test_a_socket_without_a_grant_is_stopped_and_with_one_connects(listener: int) -> None:
    found = await stopped(CONNECT.format(port=listener), Limits())
    assert found == {
        "reason": "refused",
        "message": "the python sandbox stopped the code: "
        "network: connecting to 127.0.0.1 is not granted",
    }
    done = await run_python(CONNECT.format(port=listener), Limits(hosts=("127.0.0.1",)))
    assert done.stdout == "hello from the granted host\n"


async def test_processes_native_code_and_files_outside_scratch_are_refused() -> None:
    cases = {
        "import subprocess; subprocess.run(['id'])": "process: subprocess.Popen is not allowed",
        "import os; os.system('id')": "process: os.system is not allowed",
        "import ctypes; ctypes.CDLL(None)": "native: ctypes.dlopen is not allowed",
        "open('/etc/hostname').read()": "files: reading /etc/hostname is not allowed",
        "open('/tmp/escape.txt', 'w')": "files: writing /tmp/escape.txt is outside the scratch "
        "directory",
    }
    for code, reason in cases.items():
        found = await stopped(code, Limits())
        assert found == {
            "reason": "refused",
            "message": f"the python sandbox stopped the code: {reason}",
        }, code
    done = await run_python(
        "open('note.txt', 'w').write('kept'); print(open('note.txt').read())", Limits()
    )
    assert done.stdout == "kept\n"
