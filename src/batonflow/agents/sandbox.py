"""The sandbox for code a model wrote or a user supplied, and the platform's `python` tool.

`run_python(code, limits)` runs the code in a new `python -I` process with an empty environment,
in a fresh scratch directory and its own process group, under the limits and audit hook that
`sandbox_boot.py` installs; the whole group is killed when the wall-clock limit passes. The hook
is a guard for Python code, not a boundary against a native exploit (docs/security.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, Field

from batonflow.agents.agent import CallContext, Toolbox
from batonflow.agents.needs import ANY_GRANTED, ToolNeeds
from batonflow.errors import SandboxStopped

BOOT = Path(__file__).with_name("sandbox_boot.py")
REFUSED, NO_MEMORY = 98, 97
OUTPUT_CAP = 64 * 1024


@dataclass(frozen=True, slots=True)
class Limits:
    wall_seconds: float = 10.0
    cpu_seconds: int = 10
    memory_mb: int = 256
    file_mb: int = 16
    hosts: tuple[str, ...] = ()  # hosts the code may connect to (no network by default)


@dataclass(frozen=True, slots=True)
class Finished:
    exit_code: int
    stdout: str
    stderr: str


def _text(data: bytes) -> str:
    text = data.decode("utf-8", errors="replace")
    return text if len(text) <= OUTPUT_CAP else "[...]" + text[-OUTPUT_CAP:]


async def run_python(code: str, limits: Limits) -> Finished:
    """Run `code`; `SandboxStopped` (with the reason) if a limit or a refusal stopped it."""
    config = {
        "hosts": list(limits.hosts),
        "memory_bytes": limits.memory_mb * 1024 * 1024,
        "cpu_seconds": limits.cpu_seconds,
        "file_bytes": limits.file_mb * 1024 * 1024,
    }
    with tempfile.TemporaryDirectory(prefix="batonflow-sandbox-") as scratch:
        await asyncio.to_thread(Path(scratch, "main.py").write_text, code, encoding="utf-8")
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-I",
            str(BOOT),
            json.dumps(config),
            cwd=scratch,
            env={},
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
        try:
            async with asyncio.timeout(limits.wall_seconds):
                out, err = await process.communicate()
        except TimeoutError:
            _kill(process.pid)
            out, err = await process.communicate()
            raise _stopped("wall_clock", f"ran past {limits.wall_seconds}s", out, err) from None
        except BaseException:
            _kill(process.pid)
            await process.wait()
            raise
        finally:
            _kill(process.pid)  # anything the code left running in its group
    code_ = process.returncode
    if code_ == REFUSED:
        reason = err.decode(errors="replace").rsplit("batonflow-sandbox: refused: ", 1)[-1]
        raise _stopped("refused", reason.strip(), out, err)
    if code_ == NO_MEMORY:
        raise _stopped("memory", f"passed its memory limit of {limits.memory_mb} MB", out, err)
    if code_ in (-signal.SIGXCPU, -signal.SIGKILL):  # the kernel's CPU limit (we kill only above)
        raise _stopped("cpu", f"passed its CPU limit of {limits.cpu_seconds}s", out, err)
    assert code_ is not None
    return Finished(exit_code=code_, stdout=_text(out), stderr=_text(err))


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _stopped(reason: str, what: str, out: bytes, err: bytes) -> SandboxStopped:
    return SandboxStopped(
        f"the python sandbox stopped the code: {what}",
        details={"reason": reason, "stdout": _text(out)[-4000:], "stderr": _text(err)[-4000:]},
    )


python_tools = Toolbox("platform-python", "Runs Python code in a sandboxed process")
PYTHON_NEEDS = ToolNeeds(hosts=(ANY_GRANTED,), files="scratch", timeout=60.0, memory_mb=512)


class PythonIn(BaseModel):
    code: str = Field(min_length=1, max_length=100_000, description="a Python 3 program")
    timeout: float = Field(10.0, gt=0, le=60, description="wall-clock seconds")
    memory_mb: int = Field(256, ge=32, le=512)


class PythonOut(BaseModel):
    exit_code: int
    stdout: str
    stderr: str


@python_tools.tool("python", needs=PYTHON_NEEDS)
async def python(ctx: CallContext, args: PythonIn) -> PythonOut:
    """Run a Python program in a sandboxed process (standard library and installed packages;
    no network unless granted; a scratch directory; time and memory limits) and return what it
    printed. Print the answer."""
    hosts = ctx.http.hosts if ctx.http is not None and ctx.http.hosts is not None else ()
    limits = Limits(
        wall_seconds=args.timeout,
        cpu_seconds=max(1, int(args.timeout)),
        memory_mb=args.memory_mb,
        hosts=tuple(h for h in hosts if h != ANY_GRANTED),
    )
    done = await run_python(args.code, limits)
    return PythonOut(exit_code=done.exit_code, stdout=done.stdout, stderr=done.stderr)
