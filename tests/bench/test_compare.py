"""bench/compare.py: the old commit comes out of git runnable on its own code, callgrind counts
exactly the framed work, and each figure is judged against the 10% line the right way round."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench import compare

OLD = "e777ead"
needs_callgrind = pytest.mark.skipif(
    shutil.which("valgrind") is None or shutil.which("cc") is None,
    reason="needs valgrind and a C compiler",
)


def test_a_time_is_judged_by_new_over_old() -> None:
    assert compare.row(2.0, 2.2) == {
        "old": 2.0,
        "new": 2.2,
        "new_over_old": 1.1,
        "cost_ratio": 1.1,
        "within_10pct": True,
    }
    assert compare.row(2.0, 2.3)["within_10pct"] is False


def test_a_rate_is_judged_by_old_over_new() -> None:
    assert compare.row(400.0, 350.0, higher_better=True) == {
        "old": 400.0,
        "new": 350.0,
        "new_over_old": 0.875,
        "cost_ratio": 1.1429,
        "within_10pct": False,
    }
    assert compare.row(400.0, 500.0, higher_better=True)["within_10pct"] is True


@pytest.mark.slow
def test_the_old_commit_runs_its_own_code(tmp_path: Path) -> None:
    side = compare.checkout(OLD, tmp_path / "old")
    assert side.commit.startswith(OLD)
    assert (side.root / "bench" / "engine.py").is_file()
    assert not (side.root / "src" / "batonflow" / "apps").exists()  # the app seam came later
    compare.check_imports(side)  # its batonflow, not the installed one


def test_an_unknown_commit_says_so(tmp_path: Path) -> None:
    with pytest.raises(compare.CompareError, match="git rev-parse --verify no-such-ref"):
        compare.checkout("no-such-ref", tmp_path / "old")


SCRIPT = """
import sys
from bench.compare_work import Marks

marks = Marks(sys.argv[1])
marks.instrument(True)
for name, loops in (("once", 20000), ("twice", 40000)):
    with marks.measure(name, loops, "loop"):
        total = 0
        for index in range(loops):
            total += index * index
marks.instrument(False)
"""


@pytest.mark.slow
@needs_callgrind
def test_callgrind_counts_only_the_framed_work(tmp_path: Path) -> None:
    marks = compare.build_marks(tmp_path)
    done = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--instr-atstart=no",
            f"--callgrind-out-file={tmp_path}/cg.%p",
            sys.executable,
            "-c",
            SCRIPT,
            str(marks),
        ],
        cwd=compare.REPO,
        env={"PYTHONPATH": str(compare.REPO), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    counts = compare.read_dumps(tmp_path)
    assert sorted(counts) == ["once#0", "twice#0"]
    assert 1.9 < counts["twice#0"] / counts["once#0"] < 2.1  # no start-up, no imports in them
    figures = {
        "once": {"units": 20000, "unit": "loop", "repeats": 1},
        "twice": {"units": 40000, "unit": "loop", "repeats": 1},
    }
    per_loop = compare.per_unit(figures, counts)
    assert per_loop["once"][1] == 1.0  # one turn: no spread
    assert 0.95 < per_loop["twice"][0] / per_loop["once"][0] < 1.05
    with pytest.raises(compare.CompareError, match="no callgrind dump for once#1"):
        compare.per_unit({"once": {**figures["once"], "repeats": 2}}, counts)
