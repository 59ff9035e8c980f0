"""The scoping app's benchmark: create-session and list-sessions latency with 10,000 sessions in
the tenant, and the wall time of a whole session on the local model.

    .venv/bin/python bench/scoping.py                          # SQLite
    .venv/bin/python bench/scoping.py --database postgresql    # the machine's PostgreSQL
    .venv/bin/python bench/scoping.py --whole-session          # and a session on SmolLM2

Prints exactly one JSON line on stdout; progress goes to stderr.

The API runs in this process (`create_app`, its lifespan, the in-process executor) and is driven
through its ASGI interface one request at a time, so the figures are the server's own time per
request without a network. A tenant is registered through the API; 10,000 sessions of its admin
(each with its first stage) are written with bulk INSERTs, then `--requests` creates
(`POST /api/v1/scoping/sessions`) and as many lists (`GET .../sessions?limit=50`, the newest
page; and a title search) are timed. Targets: create under 100 ms and list under 500 ms at p99.

With `--whole-session`, a session is answered stage by stage through the API as a person would
(the recommended choice, or a short sentence), on the local model, and its charter written; the
wall time from the first question to the charter is reported with the number of model calls.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from batonflow.api.app import create_app
from batonflow.apps.app import Apps, load_apps, migration_branches
from batonflow.apps.scoping import tables
from batonflow.ids import new_id
from batonflow.settings import Settings
from batonflow.store import migrate
from batonflow.store.db import create_engine

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_NAME = "batonflow_bench_scoping"
PASSWORD = "correct horse battery staple"  # pragma: allowlist secret (a benchmark account)
S = "/api/v1/scoping/sessions"


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def quantiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    at = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {"p50_ms": round(at(0.5) * 1000, 2), "p99_ms": round(at(0.99) * 1000, 2)}


async def database(kind: str, folder: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{folder / 'scoping.db'}"
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{PG_NAME}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{PG_NAME}"')
    finally:
        await conn.close()
    url = PG_ADMIN.rsplit("/", 1)[0] + "/" + PG_NAME
    engine = create_engine(url)
    await migrate.upgrade(engine, branches=migration_branches(Apps()))
    await engine.dispose()
    return url


async def seed(url: str, tenant_id: str, owner_id: str, count: int) -> None:
    engine = create_engine(url)
    start = datetime.now(UTC) - timedelta(days=30)
    sessions, stages = [], []
    for index in range(count):
        at = start + timedelta(seconds=index * 60)
        title = f"Project {index:05d} {('invoice', 'warehouse', 'hiring', 'pricing')[index % 4]}"
        sid = new_id()
        sessions.append(
            {
                "id": sid,
                "tenant_id": tenant_id,
                "owner_id": owner_id,
                "owner_name": "bench",
                "title": title,
                "title_key": title.casefold(),
                "archived": False,
                "created_at": at,
                "updated_at": at,
            }
        )
        stages.append(
            {
                "session_id": sid,
                "number": 1,
                "tenant_id": tenant_id,
                "done": False,
                "agent_done": False,
                "opened_at": at,
                "updated_at": at,
            }
        )
    async with engine.begin() as conn:
        for chunk in range(0, count, 1000):
            await conn.execute(sa.insert(tables.sessions), sessions[chunk : chunk + 1000])
            await conn.execute(sa.insert(tables.stages), stages[chunk : chunk + 1000])
    await engine.dispose()


async def timed(client: httpx.AsyncClient, method: str, path: str, **kw: Any) -> float:
    began = time.perf_counter()
    response = await client.request(method, path, **kw)
    elapsed = time.perf_counter() - began
    assert response.status_code in (200, 201), response.text
    return elapsed


async def whole_session(client: httpx.AsyncClient) -> dict[str, Any]:
    sid = (await client.post(S, json={"title": "Automate supplier invoice entry"})).json()["id"]
    began = time.perf_counter()
    calls = 0

    async def settled(number: int) -> dict[str, Any]:
        while True:
            stage: dict[str, Any] = (await client.get(f"{S}/{sid}/stages/{number}")).json()
            if stage["status"] not in ("asking", "analysing"):
                return stage
            await asyncio.sleep(0.2)

    for number in range(1, 6):
        await client.post(f"{S}/{sid}/stages/{number}/open")
        calls += 1
        stage = await settled(number)
        while stage["status"] == "answering":
            question = next(
                q for q in stage["questions"] if q["id"] == stage["pending_question_id"]
            )
            answer = question["recommended"] or "We do not know yet; the finance team will decide."
            await client.post(
                f"{S}/{sid}/stages/{number}/answer",
                json={"question_id": question["id"], "answer": answer},
            )
            calls += 1
            stage = await settled(number)
        if stage["status"] == "ready":
            await client.post(f"{S}/{sid}/stages/{number}/done")
            calls += 1
            stage = await settled(number)
        if stage["status"] != "analysed":
            raise RuntimeError(f"stage {number} ended {stage['status']}: {stage['execution']}")
        say(f"stage {number} analysed after {time.perf_counter() - began:.0f} s")
    await client.post(f"{S}/{sid}/charter")
    calls += 1
    while (await client.get(f"{S}/{sid}")).json()["running"] is not None:
        await asyncio.sleep(0.2)
    version = (await client.get(f"{S}/{sid}/charter/versions")).json()["items"]
    return {
        "wall_s": round(time.perf_counter() - began, 1),
        "model_runs": calls,
        "charter_versions": len(version),
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        url = await database(args.database, Path(folder))
        settings = Settings(
            data_dir=Path(folder),
            database_url=url,
            dev=True,
            log_level="WARNING",
            rate_limit_user="1000000/minute",
            rate_limit_tenant="1000000/minute",
            rate_limit_global="1000000/minute",
            poll_seconds=0.05,
            llm_timeout=600,  # the local model on a busy 2-core machine writes a few tokens/s
            argon2_time_cost=1,
            argon2_memory_kib=1024,
        )
        app = create_app(settings, apps=load_apps(["scoping"]))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as anon:
                body = {
                    "tenant": "bench",
                    "email": "b@bench.example",
                    "password": PASSWORD,
                    "name": "B",
                }
                registered = (await anon.post("/api/v1/auth/register", json=body)).json()
            headers = {"Authorization": f"Bearer {registered['access_token']}"}
            user_id, tenant_id = registered["user"]["id"], registered["tenant"]["id"]
            async with httpx.AsyncClient(
                transport=transport, base_url="http://bench", headers=headers, timeout=None
            ) as client:
                say(f"seeding {args.sessions} sessions")
                await seed(url, tenant_id, user_id, args.sessions)
                for _ in range(20):  # warm-up
                    await timed(client, "GET", S, params={"limit": 50})
                say(f"timing {args.requests} creates and lists")
                creates = [
                    await timed(client, "POST", S, json={"title": f"Bench session {i}"})
                    for i in range(args.requests)
                ]
                lists = [
                    await timed(client, "GET", S, params={"limit": 50})
                    for _ in range(args.requests)
                ]
                searches = [
                    await timed(client, "GET", S, params={"limit": 50, "q": "warehouse"})
                    for _ in range(args.requests // 5)
                ]
                result: dict[str, Any] = {
                    "benchmark": "scoping",
                    "database": args.database,
                    "sessions": args.sessions + args.requests,
                    "create": quantiles(creates),
                    "list": quantiles(lists),
                    "search": quantiles(searches),
                    "mean_create_ms": round(statistics.fmean(creates) * 1000, 2),
                }
                if args.whole_session:
                    say("answering a whole session on the local model")
                    result["whole_session"] = await whole_session(client)
        return result


def cli() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--whole-session", action="store_true")
    print(json.dumps(asyncio.run(main(parser.parse_args()))), flush=True)


if __name__ == "__main__":
    cli()
