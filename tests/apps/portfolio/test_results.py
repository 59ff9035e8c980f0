"""Results, on SQLite and PostgreSQL: the canonical JSON and its hash, recording a run once
(again: the same row; another answer: a conflict), listing newest first by keyset, and another
tenant's result being not found."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from batonflow.apps.portfolio import results
from batonflow.errors import Conflict, InvalidInput, NotFound
from tests.apps.portfolio.rights_fixtures import NOW, pf_engine, tenant_of

__all__ = ["pf_engine"]

RESULT = {
    "positions": [{"symbol": "AAPL", "quantity": Decimal("10"), "price": Decimal("123.450")}],
    "metrics": {"twr": Decimal("0.1234"), "as_of": date(2024, 6, 28), "days": 251},
    "narrative": "Up 12.3% — in 2024.",
}
CANONICAL = (
    '{"metrics":{"as_of":"2024-06-28","days":251,"twr":"0.1234"},"narrative":"Up 12.3% — in '
    '2024.","positions":[{"price":"123.450","quantity":"10","symbol":"AAPL"}]}'
)


def test_canonical_json_is_sorted_compact_and_exact() -> None:
    assert results.canonical(RESULT) == CANONICAL.encode("utf-8")
    reordered = {"narrative": RESULT["narrative"], **RESULT}
    assert results.result_hash(reordered) == hashlib.sha256(CANONICAL.encode()).hexdigest()
    moment = datetime(2024, 1, 2, tzinfo=UTC)
    assert results.canonical({"big": Decimal("1.5E+3"), "at": moment, "t": (1, 2.5)}) == (
        b'{"at":"2024-01-02T00:00:00+00:00","big":"1500","t":[1,2.5]}'
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"x": float("nan")}, "a result holds finite numbers only, not NaN or infinity"),
        (
            {"x": Decimal("Infinity")},
            "Infinity is not a finite number; a result holds finite numbers",
        ),
        (
            {"x": {1, 2}},
            "a result holds JSON values, decimals and dates: a set has no canonical JSON form",
        ),
    ],
)
def test_what_has_no_canonical_form_is_refused(value: Any, message: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        results.canonical(value)
    assert str(raised.value) == message


async def _record(engine: AsyncEngine, tenant: str, run_id: str, **more: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "pattern_id": "portfolio-overview",
        "pattern_version": 1,
        "portfolio_id": "p1",
        "pricing_pack_id": "pack-1",
        "ledger_commit_hash": "c" * 64,
        "inputs": {"portfolio_id": "p1", "since": date(2024, 1, 1)},
        "result": RESULT,
        "sources": ["offline", "fred", "offline"],
        "actor": "ada",
        "now": NOW,
        **more,
    }
    async with engine.begin() as conn:
        return await results.record(conn, tenant, run_id, **fields)


async def test_a_run_records_one_result_and_recording_it_again_returns_it(
    pf_engine: AsyncEngine,
) -> None:
    acme = await tenant_of(pf_engine, "acme")
    first = await _record(pf_engine, acme, "run-1")
    assert first == {
        "id": first["id"],
        "tenant_id": acme,
        "run_id": "run-1",
        "pattern_id": "portfolio-overview",
        "pattern_version": 1,
        "portfolio_id": "p1",
        "pricing_pack_id": "pack-1",
        "ledger_commit_hash": "c" * 64,
        "inputs": {"portfolio_id": "p1", "since": "2024-01-01"},
        "result": {
            "metrics": {"as_of": "2024-06-28", "days": 251, "twr": "0.1234"},
            "narrative": "Up 12.3% — in 2024.",
            "positions": [{"price": "123.450", "quantity": "10", "symbol": "AAPL"}],
        },
        "result_hash": hashlib.sha256(CANONICAL.encode()).hexdigest(),
        "sources": ["fred", "offline"],
        "created_by": "ada",
        "created_at": NOW,
    }
    assert results.result_hash(first["result"]) == first["result_hash"]
    again = await _record(pf_engine, acme, "run-1", now=NOW + timedelta(minutes=5), actor="bob")
    assert again == first
    with pytest.raises(Conflict) as raised:
        await _record(pf_engine, acme, "run-1", result={**RESULT, "narrative": "Different."})
    assert (str(raised.value), raised.value.details) == (
        "run run-1 already recorded a different result (result_hash differ); a run records one "
        "result",
        {"result_id": first["id"], "differ": ["result_hash"]},
    )
    with pytest.raises(Conflict) as pinned:
        await _record(pf_engine, acme, "run-1", pricing_pack_id="pack-2")
    assert pinned.value.details == {"result_id": first["id"], "differ": ["pricing_pack_id"]}


async def test_results_are_listed_newest_first_by_keyset_and_filtered(
    pf_engine: AsyncEngine,
) -> None:
    acme = await tenant_of(pf_engine, "acme")
    globex = await tenant_of(pf_engine, "globex")
    made = [
        await _record(
            pf_engine,
            acme,
            f"run-{n}",
            now=NOW + timedelta(minutes=n),
            portfolio_id="p1" if n % 2 else "p2",
        )
        for n in range(5)
    ]
    await _record(pf_engine, globex, "run-x")
    async with pf_engine.begin() as conn:
        first = await results.page(conn, acme, limit=2)
        last = first[-1]
        rest = await results.page(conn, acme, limit=10, before=(last["created_at"], last["id"]))
        p1 = await results.page(conn, acme, limit=10, portfolio_id="p1")
        none = await results.page(conn, acme, limit=10, pattern_id="other")
        for_run = await results.find_by_run(conn, acme, "run-3")
    ids = [row["id"] for row in made]
    assert [row["id"] for row in first] == [ids[4], ids[3]]
    assert [row["id"] for row in rest] == [ids[2], ids[1], ids[0]]
    assert [row["id"] for row in p1] == [ids[3], ids[1]]
    assert (none, for_run) == ([], made[3])


async def test_another_tenant_s_result_is_not_found(pf_engine: AsyncEngine) -> None:
    acme = await tenant_of(pf_engine, "acme")
    globex = await tenant_of(pf_engine, "globex")
    row = await _record(pf_engine, acme, "run-1")
    async with pf_engine.begin() as conn:
        assert await results.get(conn, acme, row["id"]) == row
        with pytest.raises(NotFound) as raised:
            await results.get(conn, globex, row["id"])
        assert await results.find_by_run(conn, globex, "run-1") is None
    assert str(raised.value) == f"no result {row['id']}"
    # The same run id in another tenant is another result.
    theirs = await _record(pf_engine, globex, "run-1")
    assert theirs["id"] != row["id"]
