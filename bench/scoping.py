"""The scoping app's benchmark: create-session and list-sessions latency with 10,000 sessions in
the tenant, and the wall time of a whole session on the local model.

    .venv/bin/python bench/scoping.py                          # SQLite
    .venv/bin/python bench/scoping.py --database postgresql    # the machine's PostgreSQL
    .venv/bin/python bench/scoping.py --whole-session          # and a session on SmolLM2
    .venv/bin/python bench/scoping.py --whole-session --questions 5   # the full question budget

Prints exactly one JSON line on stdout; progress goes to stderr.

The API runs in this process (`create_app`, its lifespan, the in-process executor) and is driven
through its ASGI interface one request at a time, so the figures are the server's own time per
request without a network. A tenant is registered through the API; 10,000 sessions of its admin
(each with its first stage) are written with bulk INSERTs, then `--requests` creates
(`POST /api/v1/scoping/sessions`) and as many lists (`GET .../sessions?limit=50`, the newest
page; and a title search) are timed. Targets: create under 100 ms and list under 500 ms at p99.

With `--whole-session`, a session is answered stage by stage through the API as a person would,
on the model the gateway uses by default (the local SmolLM2 when no provider is configured):
each of the five stages gets at most `--questions` questions (2 by default, to keep the run
within minutes on a small machine; 5 is the agents' full budget), each answered with the same
fixed sentence, then the person says done and the stage is analysed; then the charter is
written. Reported under `whole_session`: the wall time from opening stage 1 to the written
charter, each stage's time and the charter's, the questions asked, how many times a failed
stage had to be resumed, and the model calls (how many, how many replies did not fit their
schema, output tokens and tokens per second). A session that takes longer than
`--session-limit` seconds (an hour by default) is stopped and reported with `finished: false`
and where it had `reached`. It is behind the flag because it takes minutes at best.
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


ANSWER = (
    "Finance keys about 4,000 supplier invoices a month by hand; we want most of them read "
    "automatically within six months, with a budget under 50,000 EUR."
)
RESUMES = 10  # failed stage runs (after their own retries) resumed in one session at most


async def posted(client: httpx.AsyncClient, path: str, body: Any = None) -> None:
    response = await client.post(path, json=body)
    if response.status_code not in (200, 201):
        raise RuntimeError(f"POST {path}: {response.status_code} {response.text}")


async def got(client: httpx.AsyncClient, path: str) -> dict[str, Any]:
    response = await client.get(path)
    if response.status_code != 200:
        raise RuntimeError(f"GET {path}: {response.status_code} {response.text[:500]}")
    body: dict[str, Any] = response.json()
    return body


async def drive(client: httpx.AsyncClient, sid: str, questions: int, seen: dict[str, Any]) -> None:
    """Answer the session's five stages and write its charter, noting progress in `seen`."""
    began = time.perf_counter()

    async def settled(number: int) -> dict[str, Any]:
        while True:
            stage = await got(client, f"{S}/{sid}/stages/{number}")
            seen["reached"] = f"stage {number}: {stage['status']}"
            if stage["status"] == "failed" and seen["resumed"] < RESUMES:
                say(f"stage {number} failed ({stage['execution']['error']}); resuming it")
                seen["resumed"] += 1
                await posted(client, f"{S}/{sid}/stages/{number}/resume")
            elif stage["status"] not in ("asking", "analysing"):
                return stage
            await asyncio.sleep(0.2)

    for number in range(1, 6):
        started = time.perf_counter()
        await posted(client, f"{S}/{sid}/stages/{number}/open")
        stage = await settled(number)
        answered = 0
        while stage["status"] == "answering" and answered < questions:
            pending = stage["pending_question_id"]
            await posted(
                client,
                f"{S}/{sid}/stages/{number}/answer",
                {"question_id": pending, "answer": ANSWER},
            )
            answered += 1
            stage = await settled(number)
        seen["questions_asked"] += len(stage["questions"])
        if stage["status"] != "analysed":
            await posted(client, f"{S}/{sid}/stages/{number}/done")
            stage = await settled(number)
        if stage["status"] != "analysed":
            raise RuntimeError(f"stage {number} ended {stage['status']}: {stage['execution']}")
        seen["stage_s"].append(round(time.perf_counter() - started, 1))
        say(f"stage {number} analysed after {time.perf_counter() - began:.0f} s")
    started = time.perf_counter()
    await posted(client, f"{S}/{sid}/charter")
    seen["reached"] = "charter"
    while (found := await got(client, f"{S}/{sid}"))["running"] is not None:
        await asyncio.sleep(0.2)
    if found["charter_version"] is None:
        raise RuntimeError(f"the charter was not written: {found}")
    seen["charter_s"] = round(time.perf_counter() - started, 1)
    seen["reached"] = "charter written"


async def model_calls(client: httpx.AsyncClient) -> dict[str, Any]:
    """What the session's runs asked of the model (the bench tenant has no other runs)."""
    runs = (await client.get("/api/v1/runs", params={"limit": 200})).json()["items"]
    calls = []
    for run in runs:
        calls += (await client.get(f"/api/v1/runs/{run['id']}/llm-calls")).json()["items"]
    seconds = sum(c["latency_ms"] or 0 for c in calls) / 1000
    tokens = sum(c["output_tokens"] for c in calls)
    return {
        "model_calls": len(calls),
        "invalid_outputs": sum(1 for c in calls if c["status"] == "invalid_output"),
        "output_tokens": tokens,
        "tokens_per_s": round(tokens / seconds, 2) if seconds else None,
        "model": calls[0]["model"] if calls else None,
    }


async def whole_session(client: httpx.AsyncClient, questions: int, limit: float) -> dict[str, Any]:
    sid = (await client.post(S, json={"title": "Automate supplier invoice entry"})).json()["id"]
    seen: dict[str, Any] = {"reached": "", "stage_s": [], "questions_asked": 0, "resumed": 0}
    began = time.perf_counter()
    error = None
    try:
        await asyncio.wait_for(drive(client, sid, questions, seen), limit)
    except TimeoutError:
        error = f"stopped after {limit:.0f} s"
    except RuntimeError as exc:  # a stage that could not go on, or a refused request
        error = str(exc)[:1000]
    if error:
        say(f"{error}, at {seen['reached']}")
    return {
        "finished": error is None,
        "error": error,
        "wall_s": round(time.perf_counter() - began, 1),
        "questions_per_stage": questions,
        **seen,
        **await model_calls(client),
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
            access_token_seconds=86_400,  # a whole session outlasts the default 15 minutes
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
                    result["whole_session"] = await whole_session(
                        client, args.questions, args.session_limit
                    )
        return result


def cli() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--whole-session", action="store_true")
    parser.add_argument(
        "--questions", type=int, default=2, help="questions answered per stage (at most 5)"
    )
    parser.add_argument(
        "--session-limit",
        type=float,
        default=3600,
        help="seconds the whole session may take before it is stopped and reported unfinished",
    )
    print(json.dumps(asyncio.run(main(parser.parse_args()))), flush=True)


if __name__ == "__main__":
    cli()
