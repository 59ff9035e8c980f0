"""Runs inside the sandbox's child process, before the untrusted code: not imported by Batonflow.

    python -I sandbox_boot.py '<config json>'   (cwd: the scratch directory; code in main.py)

It lowers its resource limits, soft and hard, then installs an audit hook that stops the process
(exit code 98, the reason on stderr) on a socket to an address not granted, a new process,
ctypes, or a file outside the scratch directory (reads of Python's own paths excepted); then it
runs main.py. A MemoryError ends it with exit code 97.
"""

import contextlib
import json
import os
import resource
import runpy
import socket
import sys
from typing import Any

REFUSED, NO_MEMORY = 98, 97
config = json.loads(sys.argv[1])
scratch = os.path.realpath(os.getcwd())
readable = tuple(
    os.path.realpath(p) for p in {*sys.path, sys.prefix, sys.base_prefix, sys.exec_prefix} if p
)
allowed: set[str] = set()
for host in config["hosts"]:
    with contextlib.suppress(OSError):
        allowed.update(str(info[4][0]) for info in socket.getaddrinfo(host, None))

cpu = config["cpu_seconds"]
limits = {
    resource.RLIMIT_AS: (config["memory_bytes"], config["memory_bytes"]),
    # SIGXCPU at the limit, and SIGKILL a second later should the code catch SIGXCPU.
    resource.RLIMIT_CPU: (cpu, cpu + 1),
    resource.RLIMIT_FSIZE: (config["file_bytes"], config["file_bytes"]),
    resource.RLIMIT_NOFILE: (64, 64),
}
for which, pair in limits.items():
    resource.setrlimit(which, pair)


def stop(reason: str) -> None:
    sys.stderr.write(f"\nbatonflow-sandbox: refused: {reason}\n")
    sys.stderr.flush()
    os._exit(REFUSED)


def inside(path: str, roots: tuple[str, ...]) -> bool:
    return any(path == root or path.startswith(root + os.sep) for root in roots)


def hook(event: str, args: tuple[Any, ...]) -> None:
    if event in ("socket.connect", "socket.sendto", "socket.sendmsg"):
        address = args[1]
        host = address[0] if isinstance(address, tuple) else str(address)
        if host not in allowed:
            stop(f"network: connecting to {host} is not granted")
    elif event == "socket.bind":
        stop("network: listening on a socket is not granted")
    elif event in ("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn"):
        stop(f"process: {event} is not allowed")
    elif event in ("os.fork", "os.forkpty", "ctypes.dlopen", "ctypes.dlsym", "ctypes.cdata"):
        stop(f"native: {event} is not allowed")
    elif event == "open" and isinstance(args[0], str | bytes):
        path = os.path.realpath(os.fsdecode(args[0]))
        mode = args[1] if isinstance(args[1], str) else "r"
        writing = any(c in mode for c in "wax+") or (
            isinstance(args[2], int) and args[2] & (os.O_WRONLY | os.O_RDWR | os.O_CREAT)
        )
        if writing and not inside(path, (scratch,)):
            stop(f"files: writing {path} is outside the scratch directory")
        if not writing and not inside(path, (scratch, *readable, "/dev/urandom", "/dev/null")):
            stop(f"files: reading {path} is not allowed")


sys.addaudithook(hook)
try:
    runpy.run_path(os.path.join(scratch, "main.py"), run_name="__main__")
except MemoryError:
    sys.stderr.write("\nbatonflow-sandbox: out of memory\n")
    sys.stderr.flush()
    os._exit(NO_MEMORY)
