"""Executing patterns through the real API, on SQLite and PostgreSQL: a ledger imported from
the sample CSV, a pack built from the offline provider, `portfolio_overview` run on them; the
freshness gate, reproducibility (the same pins give the same bytes, a rerun after newer packs
and commits too), isolation, and the exports of a result under the data rights."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import date
from pathlib import Path
from typing import Any

import httpx
from dirty_equals import IsStr

from batonflow.apps import portfolio
from batonflow.apps.portfolio import pack_rows, results
from tests.apps.portfolio.pack_fixtures import P, Register, pack_app, tenants

__all__ = ["pack_app", "tenants"]

SAMPLE = Path(portfolio.__file__).parent / "samples" / "ledger.csv"
OFFLINE_ATTRIBUTION = IsStr(min_length=10)


async def ledger_of(client: httpx.AsyncClient, name: str = "Growth") -> dict[str, Any]:
    made = await client.post(f"{P}/portfolios", json={"name": name, "base_currency": "USD"})
    assert made.status_code == 201, made.text
    imported = await client.post(
        f"{P}/portfolios/{made.json()['id']}/import",
        content=SAMPLE.read_bytes(),
        headers={"content-type": "text/csv"},
    )
    assert imported.status_code == 201, imported.text
    return dict(made.json())


async def fresh_pack(client: httpx.AsyncClient, as_of: str = "2010-03-01") -> dict[str, Any]:
    started = await client.post(f"{P}/packs", json={"as_of": as_of})
    assert started.status_code == 202, started.text
    for _ in range(400):
        health = (await client.get(f"{P}/health/pack")).json()
        if health["state"] == "fresh" and health["as_of"] == as_of:
            return dict(health)
        await asyncio.sleep(0.05)
    raise AssertionError(f"the pack never became fresh: {health}")


async def overview(client: httpx.AsyncClient, **body: Any) -> httpx.Response:
    return await client.post(f"{P}/execute", json={"pattern_id": "portfolio_overview", **body})


async def test_the_overview_runs_on_the_pinned_pack_and_ledger(tenants: Register) -> None:
    acme = await tenants("acme")
    growth = await ledger_of(acme.client)
    pack = await fresh_pack(acme.client)
    head = (await acme.client.get(f"{P}/portfolios/{growth['id']}/commits")).json()[-1]

    answered = await overview(acme.client, portfolio_id=growth["id"])

    assert answered.status_code == 200, answered.text
    found = answered.json()
    assert {k: v for k, v in found.items() if k != "result"} == {
        "run_id": IsStr(min_length=36),
        "pattern_id": "portfolio_overview",
        "status": "succeeded",
        "pricing_pack_id": pack["pack_id"],
        "ledger_commit_hash": head["hash"],
        "pattern_version": 1,
        "result_id": IsStr(min_length=36),
        "result_hash": results.result_hash(found["result"]),
        "sources": ["offline"],
        "attribution": [OFFLINE_ATTRIBUTION],
        "error": None,
    }
    result = found["result"]
    assert sorted(result) == [
        "base_currency",
        "benchmark",
        "by_currency",
        "cash",
        "metrics",
        "portfolio_id",
        "positions",
        "series",
        "unbooked_splits",
    ]
    assert (result["portfolio_id"], result["base_currency"]) == (growth["id"], "USD")
    assert {p["symbol"] for p in result["positions"]} <= {"AAPL", "AMZN", "GOOG", "IBM", "MSFT"}
    assert result["series"]["dates"][-1] <= "2010-03-01"
    assert len(result["series"]["dates"]) == len(result["series"]["values"])
    assert result["metrics"]["value_end"] == result["series"]["values"][-1]
    assert result["metrics"]["periods_per_year"] == 12  # the offline history is monthly
    assert result["unbooked_splits"] == []  # the offline data records no splits


async def test_the_same_pins_give_the_same_bytes_even_after_newer_data(tenants: Register) -> None:
    acme = await tenants("acme")
    growth = await ledger_of(acme.client)
    await fresh_pack(acme.client)
    first = (await overview(acme.client, portfolio_id=growth["id"])).json()

    # Newer data arrives: a deposit commits, and a newer pack supersedes the first one.
    account = (await acme.client.get(f"{P}/portfolios/{growth['id']}/accounts")).json()[0]
    deposit = {"kind": "deposit", "date": "2010-01-04", "account_id": account["id"]}
    added = await acme.client.post(
        f"{P}/portfolios/{growth['id']}/transactions",
        json=[{**deposit, "amount": "5000", "currency": "USD"}],
    )
    assert added.status_code == 201, added.text
    newer = await fresh_pack(acme.client, as_of="2010-02-01")
    latest = (await overview(acme.client, portfolio_id=growth["id"])).json()
    assert latest["pricing_pack_id"] == newer["pack_id"] != first["pricing_pack_id"]
    assert latest["ledger_commit_hash"] == added.json()["hash"]
    assert latest["result_hash"] != first["result_hash"]

    again = await acme.client.post(f"{P}/executions/{first['run_id']}/rerun")
    assert again.status_code == 200, again.text
    redone = again.json()
    assert redone["run_id"] != first["run_id"]
    assert (redone["pricing_pack_id"], redone["ledger_commit_hash"]) == (
        first["pricing_pack_id"],
        first["ledger_commit_hash"],
    )
    assert (redone["result_hash"], redone["result"]) == (first["result_hash"], first["result"])
    digest = hashlib.sha256(results.canonical(redone["result"])).hexdigest()
    assert redone["result_hash"] == digest


async def test_a_warming_pack_is_refused_with_503_unless_a_pack_is_pinned(
    tenants: Register,
) -> None:
    acme = await tenants("acme")
    growth = await ledger_of(acme.client)
    pack = await fresh_pack(acme.client)

    async def warm(conn: Any) -> dict[str, Any]:
        now = acme.state.now() if acme.state else None
        assert now is not None
        return await pack_rows.begin(conn, acme.id, now, as_of=date(2010, 3, 2), estimate=120.0)

    await acme.write(warm)
    refused = await overview(acme.client, portfolio_id=growth["id"])
    assert refused.status_code == 503, refused.text
    assert 100 <= int(refused.headers["retry-after"]) <= 121
    error = refused.json()["error"]
    assert error["code"] == "not_ready"
    assert error["details"]["estimated_ready"] == IsStr(regex=r"^\d{4}-\d\d-\d\dT.*")

    pinned = await overview(acme.client, portfolio_id=growth["id"], pricing_pack_id=pack["pack_id"])
    assert (pinned.status_code, pinned.json()["pricing_pack_id"]) == (200, pack["pack_id"])


async def test_another_tenant_sees_no_execution_and_cannot_run_on_a_portfolio(
    tenants: Register,
) -> None:
    acme, other = await tenants("acme"), await tenants("other")
    growth = await ledger_of(acme.client)
    await fresh_pack(acme.client)
    await fresh_pack(other.client)
    done = (await overview(acme.client, portfolio_id=growth["id"])).json()

    assert (await other.client.get(f"{P}/executions/{done['run_id']}")).status_code == 404
    assert (await other.client.post(f"{P}/executions/{done['run_id']}/rerun")).status_code == 404
    assert (await other.client.get(f"{P}/results/{done['result_id']}")).status_code == 404
    assert (await overview(other.client, portfolio_id=growth["id"])).status_code == 404


async def test_bad_requests_say_what_to_fix(tenants: Register) -> None:
    acme = await tenants("acme")
    empty = await acme.client.post(f"{P}/portfolios", json={"name": "E", "base_currency": "USD"})

    no_pack = await overview(acme.client, portfolio_id=empty.json()["id"])
    assert no_pack.status_code == 409, no_pack.text

    await fresh_pack(acme.client)
    unknown = await acme.client.post(f"{P}/execute", json={"pattern_id": "nope"})
    assert unknown.status_code == 404
    assert unknown.json()["error"]["message"] == (
        "no pattern 'nope'; the patterns are: portfolio_overview, macro_regime"
    )
    no_portfolio = await overview(acme.client)
    assert no_portfolio.json()["error"]["message"] == (
        "the pattern 'portfolio_overview' runs on a portfolio: give portfolio_id"
    )
    nothing = await overview(acme.client, portfolio_id=empty.json()["id"])
    assert (nothing.status_code, nothing.json()["error"]["message"]) == (
        422,
        "the portfolio has no transactions yet: add some, or import a ledger CSV",
    )
    assert (await overview(acme.client, portfolio_id="nope")).status_code == 404


async def test_a_macro_regime_without_its_series_fails_naming_them(tenants: Register) -> None:
    acme = await tenants("acme")
    await fresh_pack(acme.client)  # the offline provider carries no FRED series

    answered = await acme.client.post(f"{P}/execute", json={"pattern_id": "macro_regime"})

    assert answered.status_code == 200, answered.text
    found = answered.json()
    assert (found["status"], found["result"]) == ("failed", None)
    assert "DGS10" in found["error"]["message"]


async def test_exports_follow_the_tenant_rights(tenants: Register) -> None:
    acme = await tenants("acme")
    growth = await ledger_of(acme.client)
    await fresh_pack(acme.client)
    done = (await overview(acme.client, portfolio_id=growth["id"])).json()

    allowed = await acme.client.get(f"{P}/results/{done['result_id']}/export?format=csv")
    assert allowed.status_code == 200, allowed.text
    for line in done["attribution"]:
        assert line in allowed.text

    rights = {
        "attribution": "Prices licensed for internal use only",
        "export_allowed": False,
        "redistribution_allowed": False,
        "watermark_required": False,
    }
    changed = await acme.client.put(f"{P}/rights/offline", json=rights)
    assert changed.status_code == 200, changed.text
    refused = await acme.client.get(f"{P}/results/{done['result_id']}/export?format=pdf")
    assert refused.status_code == 403
    assert "offline: export is not allowed" in refused.json()["error"]["message"]


async def test_an_execution_that_does_not_wait_is_followed_at_its_location(
    tenants: Register,
) -> None:
    acme = await tenants("acme")
    growth = await ledger_of(acme.client)
    await fresh_pack(acme.client)

    answered = await overview(acme.client, portfolio_id=growth["id"], wait=False)

    assert answered.status_code == 202, answered.text
    queued = answered.json()
    assert (queued["status"], queued["result"]) == ("queued", None)
    location = answered.headers["location"]
    assert location == f"{P}/executions/{queued['run_id']}"
    for _ in range(400):
        followed = (await acme.client.get(location)).json()
        if followed["status"] == "succeeded":
            break
        await asyncio.sleep(0.05)
    assert followed["result_hash"] == results.result_hash(followed["result"])
    assert followed["pricing_pack_id"] == queued["pricing_pack_id"]


async def test_a_synchronous_execution_past_its_timeout_answers_202_with_the_run(
    tenants: Register,
) -> None:
    acme = await tenants("acme")
    growth = await ledger_of(acme.client)
    await fresh_pack(acme.client)

    # five steps, each committed, cannot end within a millisecond: the wait gives up
    answered = await overview(acme.client, portfolio_id=growth["id"], timeout=0.001)

    assert answered.status_code == 202, answered.text
    going = answered.json()
    assert (going["status"] in ("queued", "running"), going["result"]) == (True, None)
    assert answered.headers["location"] == f"{P}/executions/{going['run_id']}"
    for _ in range(400):
        followed = (await acme.client.get(answered.headers["location"])).json()
        if followed["status"] == "succeeded":
            break
        await asyncio.sleep(0.05)
    assert (followed["status"], followed["result_hash"]) == (
        "succeeded",
        results.result_hash(followed["result"]),
    )
