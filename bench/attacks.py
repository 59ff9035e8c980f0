"""The prompt-injection attack suite as one command: every case of the corpus replayed through the
real platform (workflows, the tool gate, the outbound client, the sandbox, the output checks) with
a scripted model that obeys the injection; what was tried and what was blocked.

    .venv/bin/python bench/attacks.py                         # SQLite file, about 10 s on 2 cores
    .venv/bin/python bench/attacks.py --database postgresql   # the machine's PostgreSQL

Prints exactly one JSON line on stdout (`tried`, `blocked`, `unblocked` (case ids), counts
`by_channel` and `by_kind`, `seconds`, `database`); logs go to stderr at WARNING. Exits 1 when a
case is not blocked. The cases are `tests/security/corpus/*.yaml`; what "blocked" means is in
`batonflow_testkit/attacks.py`. PostgreSQL gets a database of its own,
`batonflow_bench_attacks`, created, migrated and dropped here. Nothing leaves the machine: every
outbound request the cases try is refused before a connection is made.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg

from batonflow.apps.app import Apps, migration_branches
from batonflow.settings import Settings
from batonflow.store import migrate
from batonflow.store.db import create_engine
from batonflow.telemetry import logs
from batonflow_testkit.attacks import load_corpus, replay, summary

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN = os.environ.get("BATONFLOW_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
PG_DATABASE = "batonflow_bench_attacks"


async def _pg(sql: str) -> None:
    admin = await asyncpg.connect(PG_ADMIN)
    try:
        await admin.execute(sql)
    finally:
        await admin.close()


async def main(database: str, corpus: Path) -> dict[str, Any]:
    cases = load_corpus(corpus)
    with tempfile.TemporaryDirectory(prefix="batonflow-attacks-") as folder:
        if database == "sqlite":
            url = f"sqlite:///{Path(folder) / 'attacks.db'}"
        else:
            await _pg(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")
            await _pg(f"CREATE DATABASE {PG_DATABASE}")
            url = PG_ADMIN.rsplit("/", 1)[0] + f"/{PG_DATABASE}"
        settings = Settings(
            data_dir=Path(folder), database_url=url, poll_seconds=0.05, worker_id="attacks"
        )
        logs.configure(settings.model_copy(update={"log_level": "WARNING"}), stream=sys.stderr)
        engine = create_engine(url)
        try:
            await migrate.upgrade(engine, branches=migration_branches(Apps()))
            started = time.perf_counter()
            results = await replay(cases, engine, settings)
            seconds = time.perf_counter() - started
        finally:
            await engine.dispose()
            if database == "postgresql":
                await _pg(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")
    for result in results:
        if not result.blocked:
            print(f"NOT BLOCKED {result.case.id}: {result.problems}", file=sys.stderr)
    return {**summary(results), "seconds": round(seconds, 2), "database": database}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--corpus", type=Path, default=ROOT / "tests/security/corpus")
    options = parser.parse_args()
    report = asyncio.run(main(options.database, options.corpus))
    print(json.dumps(report, separators=(",", ":")))
    sys.exit(0 if report["tried"] == report["blocked"] else 1)
