"""The CLI driven as a user drives it: real `batonflow` processes with a fresh data directory."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Executable
from sqlalchemy.ext.asyncio import AsyncEngine

from batonflow.store.db import create_engine, reading

REPO = Path(__file__).resolve().parents[2]
BATONFLOW = REPO / ".venv" / "bin" / "batonflow"


def said(text: str) -> str:
    """Text with its whitespace folded: Rich wraps what it prints at 80 columns off a terminal."""
    return " ".join(text.split())


@dataclass
class Cli:
    env: dict[str, str]
    url: str  # the database the commands use

    def __call__(self, *args: str | Path, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BATONFLOW), *map(str, args)],
            env=self.env,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def all(
        self, *commands: Sequence[str | Path], cwd: Path = REPO
    ) -> list[subprocess.CompletedProcess[str]]:
        """Run independent commands side by side (each one pays for a Python start)."""
        procs = [
            subprocess.Popen(
                [str(BATONFLOW), *map(str, args)],
                env=self.env,
                cwd=cwd,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for args in commands
        ]
        done = []
        for proc in procs:
            out, err = proc.communicate(timeout=120)
            done.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
        return done

    def json(self, *args: str | Path, code: int = 0, cwd: Path = REPO) -> Any:
        done = self(*args, "--json", cwd=cwd)
        assert (done.returncode, done.stderr) == (code, ""), done.stdout
        return json.loads(done.stdout)

    async def query(self, statement: Executable) -> list[dict[str, Any]]:
        engine = create_engine(self.url)
        try:
            async with reading(engine) as conn:
                return [row._asdict() for row in await conn.execute(statement)]
        finally:
            await engine.dispose()


def environment(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATONFLOW_")}
    env["BATONFLOW_DATA_DIR"] = str(data_dir)
    return env


@pytest.fixture
def cli(db_url: str, engine: AsyncEngine, tmp_path: Path) -> Cli:
    data = tmp_path / "data"
    env = environment(data)
    if engine.dialect.name == "sqlite":
        return Cli(env, f"sqlite:///{data / 'batonflow.db'}")
    env["BATONFLOW_DATABASE_URL"] = db_url
    return Cli(env, db_url)


@pytest.fixture
def sqlite_cli(tmp_path: Path) -> Cli:
    """For commands whose behaviour does not depend on the database."""
    data = tmp_path / "data"
    return Cli(environment(data), f"sqlite:///{data / 'batonflow.db'}")
