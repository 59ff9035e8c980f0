"""Old code against new, side by side in one run: wall-clock figures and CPU instruction counts.

    .venv/bin/python bench/compare.py                    # the old side is commit e777ead
    .venv/bin/python bench/compare.py --old REF --new REF --parts instructions --keep

Prints one JSON line (and the table on stderr). The old commit (and `--new`, else this checkout)
is extracted with `git archive`; each side runs in this virtual environment with its own `src/`
and package metadata first on `PYTHONPATH`, through its own benchmark scripts. wall: each side's
`bench/engine.py --quick` (SQLite and PostgreSQL) and `bench/api.py --quick`, old and new in
alternate turns for `--rounds`, medians per side. instructions: `bench/compare_work.py` under
`valgrind --tool=callgrind`, both sides at once, each figure counted in three turns and the
least kept (`*_spread`: most over least); callgrind sees this process, not PostgreSQL's server.
A figure meets the line when new costs at most 1.10 times old (for runs/s: old/new). Needs git,
valgrind and a C compiler with valgrind's headers. See the README's "bench/compare.py".
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
LIMIT = 1.10
ENGINE_SYSTEMS = {"batonflow_sqlite": "sqlite", "batonflow_postgresql": "postgresql"}
ENGINE_FIGURES = {  # JSON key in bench/engine.py's line -> (figure name, higher is better)
    "per_step_us": ("per_step_us", False),
    "fanout_100x50ms_ms": ("fanout_ms", False),
    "throughput_runs_per_s": ("throughput_runs_per_s", True),
}
API_FIGURES = ("get_run", "list_first", "list_deep")
MARKS_C = """#include <valgrind/callgrind.h>
void bf_start(void) { CALLGRIND_START_INSTRUMENTATION; }
void bf_stop(void) { CALLGRIND_STOP_INSTRUMENTATION; }
void bf_zero(void) { CALLGRIND_ZERO_STATS; }
void bf_dump(const char *name) { CALLGRIND_DUMP_STATS_AT(name); }
"""


def log(message: str) -> None:
    print(f"[compare {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class CompareError(Exception):
    """Something this comparison needs is missing or a side's script failed."""


@dataclass(frozen=True)
class Side:
    name: str  # "old" or "new"
    root: Path
    commit: str
    metadata: Path | None = None  # the side's own package metadata (see own_metadata)

    def env(self, **extra: str) -> dict[str, str]:
        paths = [self.root / "src", *([self.metadata] if self.metadata else [])]
        return {**os.environ, "PYTHONPATH": os.pathsep.join(map(str, paths)), **extra}


def own_metadata(side: Side, into: Path) -> Side:
    """The side's package metadata, ahead of the installed one on its path: the environment's
    `batonflow` entry points name the apps of the code it was installed from, which a side
    from another commit may not have (importlib.metadata takes the first `batonflow` found)."""
    project = tomllib.loads((side.root / "pyproject.toml").read_text())["project"]
    groups = dict(project.get("entry-points", {}))
    if "scripts" in project:
        groups["console_scripts"] = project["scripts"]
    dist = into / f"batonflow-{project['version']}.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: batonflow\nVersion: {project['version']}\n"
    )
    lines = [
        line
        for group, entries in groups.items()
        for line in (f"[{group}]", *(f"{name} = {target}" for name, target in entries.items()))
    ]
    (dist / "entry_points.txt").write_text("\n".join(lines) + "\n")
    return dataclasses.replace(side, metadata=into)


def git(*args: str) -> str:
    done = subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise CompareError(f"git {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout.strip()


def checkout(ref: str, into: Path, name: str = "old") -> Side:
    """The commit `ref` as files in `into`, through `git archive` (no worktree to clean up)."""
    commit = git("rev-parse", "--verify", f"{ref}^{{commit}}")
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", commit], capture_output=True
    )
    if archive.returncode != 0:
        raise CompareError(f"git archive {commit}: {archive.stderr.decode().strip()}")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="data")
    return Side(name, into, commit)


def check_imports(side: Side) -> None:
    """The side's `batonflow` must be its own, not the one installed in the environment."""
    probe = "import batonflow; print(batonflow.__file__)"
    done = subprocess.run(
        [sys.executable, "-c", probe], env=side.env(), capture_output=True, text=True
    )
    if done.returncode != 0:
        raise CompareError(f"{side.name}: cannot import batonflow: {done.stderr.strip()[-800:]}")
    found = Path(done.stdout.strip()).resolve()
    if side.root.resolve() not in found.parents:
        raise CompareError(f"{side.name}: batonflow comes from {found}, not {side.root}")


def run_json(side: Side, command: list[str], what: str, timeout: float) -> dict[str, Any]:
    """Run one of the side's scripts in its folder; its last stdout line is the JSON result."""
    done = subprocess.run(
        command, cwd=side.root, env=side.env(), capture_output=True, text=True, timeout=timeout
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = "\n".join(done.stderr.strip().splitlines()[-15:])
        raise CompareError(f"{side.name} {what} exited {done.returncode}:\n{tail}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def wall_once(side: Side, api_dir: Path) -> dict[str, float]:
    """One round of one side: its engine and API benchmarks, quick modes, the same flags."""
    systems = ",".join(ENGINE_SYSTEMS)
    engine = run_json(
        side,
        [sys.executable, "bench/engine.py", "--quick", "--systems", systems],
        "bench/engine.py",
        timeout=900,
    )
    api = run_json(
        side,
        [sys.executable, "bench/api.py", "--quick", "--data-dir", str(api_dir)],
        "bench/api.py",
        timeout=1800,  # the first run seeds 100,000 runs
    )
    figures: dict[str, float] = {}
    for key, (name, _) in ENGINE_FIGURES.items():
        for system, database in ENGINE_SYSTEMS.items():
            figures[f"engine.{database}.{name}"] = float(engine[key][system])
    for workload in API_FIGURES:
        for quantile in ("p50_ms", "p99_ms"):
            figures[f"api.sqlite.{workload}.{quantile}"] = float(api[workload][quantile])
    return figures


def wall(sides: list[Side], rounds: int, api_root: Path) -> dict[str, Any]:
    found: dict[str, list[dict[str, float]]] = {side.name: [] for side in sides}
    for index in range(rounds):
        order = sides if index % 2 == 0 else sides[::-1]
        for side in order:
            began = time.perf_counter()
            api_dir = api_root / (side.commit if side.root != REPO else "worktree")
            found[side.name].append(wall_once(side, api_dir))
            log(
                f"wall round {index + 1}/{rounds}: {side.name} in {time.perf_counter() - began:.0f} s"
            )
    table: dict[str, Any] = {}
    for figure in found["new"][0]:
        higher_better = figure.endswith("runs_per_s")
        old = [one[figure] for one in found["old"]]
        new = [one[figure] for one in found["new"]]
        table[figure] = row(statistics.median(old), statistics.median(new), higher_better)
        table[figure] |= {"old_runs": old, "new_runs": new}
    return table


def row(old: float, new: float, higher_better: bool = False) -> dict[str, Any]:
    """old, new, new/old, and the cost ratio (new's time per unit over old's) against 1.10."""
    ratio = new / old if old else None
    cost = (1 / ratio if ratio else None) if higher_better else ratio
    return {
        "old": round(old, 2),
        "new": round(new, 2),
        "new_over_old": None if ratio is None else round(ratio, 4),
        "cost_ratio": None if cost is None else round(cost, 4),
        "within_10pct": cost is not None and cost <= LIMIT,
    }


def build_marks(folder: Path) -> Path:
    """The client requests (zero, dump, instrumentation on/off) as a library to load."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise CompareError("no C compiler (cc) to build callgrind's client requests")
    source = folder / "marks.c"
    source.write_text(MARKS_C)
    library = folder / "marks.so"
    done = subprocess.run(
        [compiler, "-shared", "-fPIC", "-O1", "-o", str(library), str(source)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise CompareError(
            f"building the client requests failed (valgrind headers?): {done.stderr}"
        )
    return library


def read_dumps(folder: Path) -> dict[str, int]:
    """Instructions per figure, from callgrind's dumps named by the client request."""
    counts: dict[str, int] = {}
    for path in sorted(folder.glob("cg.*")):
        text = path.read_text(errors="replace")
        name = re.search(r"^desc: Trigger: Client Request: (\S+)$", text, re.MULTILINE)
        total = re.search(r"^totals: (\d+)", text, re.MULTILINE)
        if name and total:
            counts[name.group(1)] = int(total.group(1))
    return counts


def instructions(
    sides: list[Side], databases: str, workloads: str, workdir: Path
) -> dict[str, Any]:
    if shutil.which("valgrind") is None:
        raise CompareError("valgrind is not installed: the instruction counts need callgrind")
    marks = build_marks(workdir)
    running = []
    for side in sides:
        folder = workdir / f"callgrind-{side.name}"
        (folder / "db").mkdir(parents=True)
        command = [
            "valgrind",
            "--tool=callgrind",
            "--instr-atstart=no",
            f"--callgrind-out-file={folder}/cg.%p",
            sys.executable,
            str(HERE / "compare_work.py"),
            f"--root={side.root}",
            f"--marks={marks}",
            f"--dir={folder / 'db'}",
            f"--databases={databases}",
            f"--workloads={workloads}",
        ]
        errors = (folder / "stderr.log").open("w")
        process = subprocess.Popen(  # both sides at once: counts do not mind the load
            command,
            env=side.env(PYTHONHASHSEED="0"),
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        )
        running.append((side, folder, process, errors))
    results: dict[str, dict[str, tuple[float, float]]] = {}
    units: dict[str, str] = {}
    for side, folder, process, errors in running:
        out, _ = process.communicate()
        errors.close()
        if process.returncode != 0:
            tail = "\n".join((folder / "stderr.log").read_text().splitlines()[-15:])
            raise CompareError(f"{side.name} under callgrind exited {process.returncode}:\n{tail}")
        figures = json.loads(out.strip().splitlines()[-1])["figures"]
        results[side.name] = per_unit(figures, read_dumps(folder))
        units |= {name: info["unit"] for name, info in figures.items()}
    table: dict[str, Any] = {}
    for name, unit in units.items():
        if name not in results["old"] or name not in results["new"]:
            raise CompareError(f"{name} was measured on one side only")
        (old, old_spread), (new, new_spread) = results["old"][name], results["new"][name]
        table[name] = {"per": unit, **row(old, new)}
        table[name] |= {"old": round(old), "new": round(new)}
        table[name] |= {"old_spread": round(old_spread, 4), "new_spread": round(new_spread, 4)}
    return table


def per_unit(
    figures: dict[str, dict[str, Any]], counts: dict[str, int]
) -> dict[str, tuple[float, float]]:
    """Each figure's instructions per unit, the least of its turns (what the machine's timing
    adds, such as more event-loop turns while a step waits, only ever adds), and the spread of
    its turns (most over least)."""
    found: dict[str, tuple[float, float]] = {}
    for name, info in figures.items():
        labels = [f"{name}#{turn}" for turn in range(info["repeats"])]
        missing = [label for label in labels if label not in counts]
        if missing:
            raise CompareError(f"no callgrind dump for {', '.join(missing)}")
        turns = [counts[label] / info["units"] for label in labels]
        found[name] = (min(turns), max(turns) / min(turns))
    return found


def print_table(title: str, table: dict[str, Any]) -> None:
    log(title)
    for name, fig in table.items():
        mark = "ok " if fig["within_10pct"] else "OVER"
        log(
            f"  {mark} {name:40} old {fig['old']:>14,} new {fig['new']:>14,}"
            f" new/old {fig['new_over_old']}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--old", default="e777ead", help="the commit before the change")
    parser.add_argument("--rounds", type=int, default=3, help="old/new alternations (wall)")
    parser.add_argument("--parts", default="instructions,wall", help="instructions, wall or both")
    parser.add_argument(
        "--new", help="compare with this commit instead of the checkout as it is on disk"
    )
    parser.add_argument("--databases", default="sqlite,postgresql", help="for the counts")
    parser.add_argument("--workloads", default="engine,api", help="for the counts")
    parser.add_argument(
        "--api-dir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "batonflow-bench-compare",
        help="where each side's seeded API database is kept between runs",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the old checkout and callgrind's dumps"
    )
    args = parser.parse_args()
    parts = {part.strip() for part in args.parts.split(",") if part.strip()}
    if not parts or parts - {"instructions", "wall"}:
        parser.error("--parts takes instructions, wall or both")
    if set(args.workloads.split(",")) - {"engine", "api"}:
        parser.error("--workloads takes engine, api or both")
    if set(args.databases.split(",")) - {"sqlite", "postgresql"}:
        parser.error("--databases takes sqlite, postgresql or both")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    began = time.perf_counter()
    load_start = os.getloadavg()
    workdir = Path(tempfile.mkdtemp(prefix="batonflow-compare-"))
    try:
        old = checkout(args.old, workdir / "old")
        if args.new:
            new = checkout(args.new, workdir / "new", "new")
        else:
            new = Side("new", REPO, git("rev-parse", "HEAD"))
        old, new = (own_metadata(side, workdir / f"{side.name}-metadata") for side in (old, new))
        for side in (old, new):
            check_imports(side)
        log(f"old {old.commit[:10]} in {old.root}; new {new.commit[:10]} in {new.root}")
        result: dict[str, Any] = {
            "bench": "compare",
            "old": {"ref": args.old, "commit": old.commit},
            "new": {
                "ref": args.new,
                "commit": new.commit,
                "uncommitted_changes": not args.new and bool(git("status", "--porcelain")),
            },
            "limit_cost_ratio": LIMIT,
        }
        if "instructions" in parts:
            result["instructions"] = instructions(
                [old, new], args.databases, args.workloads, workdir
            )
            print_table("CPU instructions per unit (callgrind)", result["instructions"])
        if "wall" in parts:
            result["rounds"] = args.rounds
            result["wall"] = wall([old, new], args.rounds, args.api_dir)
            print_table(f"wall clock, median of {args.rounds} per side", result["wall"])
    except CompareError as exc:
        raise SystemExit(f"bench/compare.py: {exc}") from None
    finally:
        if args.keep:
            log(f"kept {workdir} (callgrind_annotate reads the dumps in callgrind-*)")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    result["within_10pct"] = {
        part: all(fig["within_10pct"] for fig in result[part].values())
        for part in ("instructions", "wall")
        if part in result
    }
    result["load_avg_1m"] = {"start": load_start[0], "end": os.getloadavg()[0]}
    result["elapsed_s"] = round(time.perf_counter() - began, 1)
    print(json.dumps(result, separators=(",", ":")), flush=True)


if __name__ == "__main__":
    main()
