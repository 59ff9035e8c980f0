"""The whole `portfolio_overview` pattern for bench/portfolio.py: the API in this process (its
lifespan and in-process executor) on a new SQLite file, a tenant registered through it, the
synthetic ledger committed as one commit over the API, the synthetic closes stored as a fresh
pricing pack, then `POST /api/v1/portfolio/execute` timed from request to answered result. That
is what a user waits for: the ledger read at its commit, the pack's series read and parsed from
the database, the valuation and metrics, each step's result checkpointed, the result hashed and
recorded."""

from __future__ import annotations

import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from batonflow.api.app import create_app
from batonflow.api.deps import ApiState
from batonflow.apps.app import load_apps
from batonflow.apps.portfolio import pack_rows
from batonflow.apps.portfolio.model import Series, Txn
from batonflow.apps.portfolio.providers import Fetched
from batonflow.settings import Settings
from batonflow.store.db import Conn

PASSWORD = "correct horse battery staple"  # pragma: allowlist secret (a benchmark account)
P = "/api/v1/portfolio"
COMMIT = 2000  # transactions a commit


def _settings(folder: Path) -> Settings:
    return Settings(
        data_dir=folder,
        database_url=f"sqlite:///{folder / 'portfolio.db'}",
        dev=True,
        log_level="WARNING",
        rate_limit_user="1000000/minute",
        rate_limit_tenant="1000000/minute",
        rate_limit_global="1000000/minute",
        poll_seconds=0.05,
        access_token_seconds=86_400,
        argon2_time_cost=1,
        argon2_memory_kib=1024,
    )


def _txn(t: Txn, account_id: str) -> dict[str, Any]:
    body = {"kind": t.kind, "date": t.trade_date.isoformat(), "account_id": account_id}
    for name, value in (
        ("symbol", t.symbol),
        ("quantity", t.quantity),
        ("price", t.price),
        ("amount", t.amount),
        ("fee", t.fee if t.kind in ("buy", "sell") else None),
        ("currency", t.currency),
        ("ratio", t.ratio),
    ):
        if value is not None:
            body[name] = str(value)
    if t.kind in ("buy", "sell", "split"):
        body.pop("amount")  # a trade's is worked out from quantity, price and fee; a split has 0
    return body


def _row(kind: str, series: Series) -> Fetched:
    body = {
        "dates": [d.isoformat() for d in series.dates],
        "values": [str(v) for v in series.values],
    }
    return Fetched(kind, series.key, series.source, series.currency, body)


async def _ok(response: httpx.Response, status: int) -> Any:
    if response.status_code != status:
        raise RuntimeError(f"{response.request.url.path}: {response.status_code} {response.text}")
    return response.json()


async def pattern_p50(data: dict[str, Any], repeats: int) -> tuple[float, float]:
    """The p50 of the overview executed end to end, in ms, and its final value."""
    with tempfile.TemporaryDirectory() as folder:
        app = create_app(_settings(Path(folder)), apps=load_apps(["portfolio"]))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as anon:
                body = {"tenant": "bench", "email": "b@bench.example", "password": PASSWORD}
                registered = await _ok(
                    await anon.post("/api/v1/auth/register", json=body | {"name": "B"}), 201
                )
            headers = {"Authorization": f"Bearer {registered['access_token']}"}
            async with httpx.AsyncClient(
                transport=transport, base_url="http://bench", headers=headers, timeout=None
            ) as client:
                return await _run(app.state.batonflow, client, registered, data, repeats)


async def _run(
    state: ApiState,
    client: httpx.AsyncClient,
    registered: dict[str, Any],
    data: dict[str, Any],
    repeats: int,
) -> tuple[float, float]:
    tenant_id = registered["tenant"]["id"]
    portfolio = {"name": "Bench", "base_currency": "USD", "benchmark": "BENCH"}
    made = await _ok(await client.post(f"{P}/portfolios", json=portfolio), 201)
    path = f"{P}/portfolios/{made['id']}"
    account = await _ok(await client.post(f"{path}/accounts", json={"name": "acc"}), 201)
    ledger = [_txn(t, account["id"]) for t in data["txns"]]
    for at in range(0, len(ledger), COMMIT):  # a request body is at most 1 MiB
        await _ok(await client.post(f"{path}/transactions", json=ledger[at : at + COMMIT]), 201)

    pack = data["pack"]
    rows = [_row("price", s) for s in [*pack.prices.values(), data["benchmark"]]]
    rows += [_row("fx", s) for s in pack.fx.values()]
    now = datetime.now(UTC)

    async def store(conn: Conn) -> None:
        build = await pack_rows.begin(conn, tenant_id, now, as_of=pack.as_of, estimate=1.0)
        await pack_rows.finish(
            conn, tenant_id, build["build_id"], rows, sources=["bench"], counts={}, now=now
        )

    await state.transact(store)
    samples, value = [], 0.0
    for _ in range(repeats):
        started = time.perf_counter()
        asked = {"pattern_id": "portfolio_overview", "portfolio_id": made["id"], "timeout": 600}
        done = await _ok(await client.post(f"{P}/execute", json=asked), 200)
        samples.append(time.perf_counter() - started)
        if done["status"] != "succeeded":
            raise RuntimeError(f"the overview ended {done['status']}: {done['error']}")
        value = float(done["result"]["series"]["values"][-1])
    return round(statistics.median(samples) * 1000, 2), value
