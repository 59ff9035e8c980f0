"""CLI start-up: how long `batonflow --help` and `batonflow runs list --help` take, and how long
their imports take, in fresh processes.

    .venv/bin/python bench/cli_startup.py                 # this checkout's sources
    .venv/bin/python bench/cli_startup.py --src OTHER/src # another checkout's, to compare
    .venv/bin/python bench/cli_startup.py --repeat 10

Each command runs `--repeat` times as `python -m batonflow.cli` would: a new interpreter with the
sources first on PYTHONPATH, calling `batonflow.cli.main.main()`. Wall time is the median and the
best of the runs; import time is the sum of `python -X importtime`'s self times (one more run),
and `python -c pass` is measured the same way as the floor every process pays. Prints exactly one
JSON line on stdout; no database is touched (help needs none).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ENTRY = "import sys; from batonflow.cli.main import main; sys.argv[0] = 'batonflow'; main()"
COMMANDS = {"help": ["--help"], "runs_list_help": ["runs", "list", "--help"]}


def environment(src: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATONFLOW_")}
    env["PYTHONPATH"] = os.pathsep.join([str(src), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def wall(args: list[str], env: dict[str, str], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(args, env=env, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return times


def import_ms(args: list[str], env: dict[str, str]) -> float:
    done = subprocess.run(
        [args[0], "-X", "importtime", *args[1:]], env=env, capture_output=True, text=True
    )
    total = 0
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            field = line.split(":", 1)[1].split("|")[0].strip()
            if field.isdigit():
                total += int(field)
    return round(total / 1000, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, default=REPO / "src")
    parser.add_argument("--repeat", type=int, default=5)
    options = parser.parse_args()
    env = environment(options.src.resolve())
    python = sys.executable
    result: dict[str, object] = {"bench": "cli_startup", "src": str(options.src)}
    floor = wall([python, "-c", "pass"], env, options.repeat)
    result["python_pass_s"] = round(min(floor), 3)
    for name, argv in COMMANDS.items():
        args = [python, "-c", ENTRY, *argv]
        times = wall(args, env, options.repeat)
        result[name] = {
            "median_s": round(statistics.median(times), 3),
            "best_s": round(min(times), 3),
            "imports_ms": import_ms(args, env),
        }
        print(f"{name}: {result[name]}", file=sys.stderr)
    result["load_average_1min"] = round(os.getloadavg()[0], 2)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
