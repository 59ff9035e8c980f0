"""Pack builds and the freshness gate on SQLite and PostgreSQL (the database the API migrated):
a build from the offline provider and from the paid providers' wire formats, the content hash,
warming -> fresh -> superseded, a failed build, a retried build keeping one row, NotReady and
its HTTP answer, and another tenant seeing nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from dirty_equals import IsStr
from pydantic import SecretStr

from batonflow.api.errors import error_response
from batonflow.apps.portfolio import pack_build, pack_rows, packs
from batonflow.apps.portfolio.model import PackData, Series
from batonflow.apps.portfolio.providers.client import Backoff
from batonflow.apps.portfolio.settings import PortfolioSettings
from batonflow.errors import Conflict, NotFound, NotReady, StepFailed
from tests.apps.portfolio.pack_fixtures import Register, Tenant, api_db_url, api_settings, pack_app
from tests.apps.portfolio.pack_fixtures import tenants as tenants
from tests.apps.portfolio.providers_server import KEY, ProvidersServer

__all__ = ["api_db_url", "api_settings", "pack_app", "tenants"]

OFFLINE = PortfolioSettings(providers="offline")
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def clock(*moments: datetime) -> Callable[[], datetime]:
    """`now` for a build: each call the next moment (the last one repeats)."""
    left = list(moments)

    def now() -> datetime:
        return left.pop(0) if len(left) > 1 else left[0]

    return now


async def build(
    tenant: Tenant,
    as_of: date,
    settings: PortfolioSettings = OFFLINE,
    *,
    at: datetime = T0,
    took: float = 30.0,
    **more: Any,
) -> dict[str, Any]:
    return await pack_build.build(
        tenant.write,
        tenant.read,
        settings,
        tenant.id,
        as_of=as_of,
        now=clock(at, at + timedelta(seconds=took)),
        backoff=Backoff(0.01, 0.02),
        **more,
    )


def fresh_row(as_of: str, pack_id: Any, *, at: datetime = T0, took: float = 30.0) -> dict[str, Any]:
    return {
        "build_id": IsStr(min_length=36),
        "tenant_id": IsStr(min_length=36),
        "pack_id": pack_id,
        "as_of": as_of,
        "state": "fresh",
        "sources": ["offline"],
        "counts": {
            "price": 5,
            "fx": 0,
            "split": 0,
            "dividend": 0,
            "macro": 0,
            "news": 0,
            "missing": [
                "macro:DGS10",
                "macro:DGS2",
                "macro:UNRATE",
                "macro:CPIAUCSL",
                "macro:DTB3",
                "macro:VIXCLS",
            ],  # VIX: 2009 only
        },
        "estimated_ready": None,
        "error": None,
        "run_id": None,
        "started_at": at,
        "ready_at": at + timedelta(seconds=took),
        "superseded_at": None,
        "same_as": None,
    }


async def test_an_offline_build_makes_a_fresh_pack(tenants: Register) -> None:
    acme = await tenants("acme")
    row = await build(acme, date(2005, 1, 1))
    assert row == fresh_row("2005-01-01", IsStr(regex=r"^[0-9a-f]{64}$"))
    pack_id = row["pack_id"]
    assert await acme.read(lambda c: packs.current(c, acme.id)) == row
    goog = await acme.read(lambda c: packs.load(c, acme.id, pack_id, symbols=["GOOG"]))
    assert goog == PackData(
        pack_id=pack_id,
        as_of=date(2005, 1, 1),
        prices={
            "GOOG": Series(
                key="GOOG",
                dates=(*(date(2004, m, 1) for m in (8, 9, 10, 11, 12)), date(2005, 1, 1)),
                values=tuple(
                    Decimal(v) for v in ("102.37", "129.6", "190.64", "181.98", "192.79", "195.62")
                ),
                source="offline",
                currency="USD",
            )
        },
        sources=("offline",),
    )
    whole = await acme.read(lambda c: packs.load(c, acme.id, pack_id))
    assert sorted(whole.prices) == ["AAPL", "AMZN", "GOOG", "IBM", "MSFT"]
    assert [len(s.dates) for s in whole.prices.values()] == [60, 60, 6, 60, 60]  # 5 years
    shown = await acme.read(lambda c: packs.get_pack(c, acme.id, pack_id))
    assert shown["series"] == [
        {
            "kind": "price",
            "key": k,
            "source": "offline",
            "currency": "USD",
            "points": n,
            "first": first,
            "last": "2005-01-01",
        }
        for k, n, first in [
            ("AAPL", 60, "2000-02-01"),
            ("AMZN", 60, "2000-02-01"),
            ("GOOG", 6, "2004-08-01"),
            ("IBM", 60, "2000-02-01"),
            ("MSFT", 60, "2000-02-01"),
        ]
    ]


async def test_the_same_data_is_the_same_pack_not_a_second_one(tenants: Register) -> None:
    acme = await tenants("acme")
    first = await build(acme, date(2005, 1, 1))
    again = await build(acme, date(2005, 1, 1), at=T0 + timedelta(hours=1))
    assert again == {
        **fresh_row("2005-01-01", None, at=T0 + timedelta(hours=1)),
        "build_id": IsStr(min_length=36),
        "state": "unchanged",
        "same_as": first["pack_id"],
        "error": {
            "message": f"the data is that of pack {first['pack_id']}, which is the current "
            "pack; no new pack",
        },
    }
    assert again["build_id"] != first["build_id"]
    rows = await acme.read(lambda c: packs.list_packs(c, acme.id, limit=10))
    assert [(r["state"], r["pack_id"]) for r in rows] == [
        ("unchanged", None),
        ("fresh", first["pack_id"]),
    ]
    assert pack_rows.content_hash(date(2005, 1, 1), []) != first["pack_id"]


async def test_states_move_warming_fresh_superseded(tenants: Register) -> None:
    acme = await tenants("acme")
    assert await acme.read(lambda c: packs.health(c, acme.id, T0)) == {
        "state": "none",
        "pack_id": None,
        "as_of": None,
        "sources": [],
        "ready_at": None,
        "building": None,
        "estimated_ready": None,
        "retry_after_seconds": None,
        "superseded": None,
        "last_error": None,
    }
    a = await build(acme, date(2005, 1, 1), took=20)
    later = T0 + timedelta(days=1)
    b = await build(acme, date(2006, 1, 1), at=later, took=40)
    assert b["pack_id"] != a["pack_id"]
    old = await acme.read(lambda c: packs.get_pack(c, acme.id, a["pack_id"]))
    assert (old["state"], old["superseded_at"]) == ("superseded", later + timedelta(seconds=40))
    # A third build begins: warming, estimated from the mean of the last two (30 s).
    third = T0 + timedelta(days=2)
    warming = await acme.write(
        lambda c: pack_rows.begin(c, acme.id, third, as_of=date(2007, 1, 1), estimate=30.0)
    )
    estimate = await acme.read(lambda c: pack_rows.estimate_seconds(c, acme.id, 60.0))
    assert (warming["state"], warming["estimated_ready"], estimate) == (
        "warming",
        third + timedelta(seconds=30),
        30.0,
    )
    assert await acme.read(lambda c: packs.health(c, acme.id, third + timedelta(seconds=10))) == {
        "state": "warming",
        "pack_id": b["pack_id"],
        "as_of": "2006-01-01",
        "sources": ["offline"],
        "ready_at": (later + timedelta(seconds=40)).isoformat(),
        "building": warming["build_id"],
        "estimated_ready": (third + timedelta(seconds=30)).isoformat(),
        "retry_after_seconds": 20,
        "superseded": a["pack_id"],
        "last_error": None,
    }
    # The gate refuses the current pack while warming; a pinned pack is served.
    with pytest.raises(NotReady) as refused:
        await acme.read(lambda c: packs.require_fresh(c, acme.id, third + timedelta(seconds=10)))
    assert (refused.value.retry_after, refused.value.details) == (
        20.0,
        {
            "build_id": warming["build_id"],
            "retry_after": 20.0,
            "estimated_ready": (third + timedelta(seconds=30)).isoformat(),
        },
    )
    pinned = await acme.read(lambda c: packs.require_fresh(c, acme.id, third, a["pack_id"]))
    assert (pinned["pack_id"], pinned["state"]) == (a["pack_id"], "superseded")
    # Past its estimate, the wait is a short one, not zero.
    with pytest.raises(NotReady) as overdue:
        await acme.read(lambda c: packs.require_fresh(c, acme.id, third + timedelta(hours=1)))
    assert overdue.value.retry_after == packs.OVERDUE_RETRY


def test_not_ready_answers_503_with_retry_after() -> None:
    refused = NotReady(
        "a new pricing pack is warming",
        retry_after=12.2,
        estimated_ready="2026-12-01T09:00:12+00:00",
    )
    assert refused.docs == "docs/errors.md#not_ready"
    assert "\n### not_ready\n" in (Path(__file__).parents[3] / "docs" / "errors.md").read_text()
    response = error_response(refused)
    assert (response.status_code, response.headers["retry-after"]) == (503, "13")
    assert json.loads(bytes(response.body)) == {
        "error": {
            "code": "not_ready",
            "message": "a new pricing pack is warming",
            "details": {"retry_after": 12.2, "estimated_ready": "2026-12-01T09:00:12+00:00"},
        }
    }


async def test_an_identical_old_pack_becomes_current_again(tenants: Register) -> None:
    acme = await tenants("acme")
    a = await build(acme, date(2005, 1, 1))
    b = await build(acme, date(2006, 1, 1), at=T0 + timedelta(hours=1))
    back = await build(acme, date(2005, 1, 1), at=T0 + timedelta(hours=2))
    assert (back["state"], back["same_as"]) == ("unchanged", a["pack_id"])
    current = await acme.read(lambda c: packs.current(c, acme.id))
    assert current is not None
    assert current["pack_id"] == a["pack_id"]
    assert (await acme.read(lambda c: packs.get_pack(c, acme.id, b["pack_id"])))["state"] == (
        "superseded"
    )


async def test_a_failed_build_is_recorded_and_a_retry_reuses_its_row(tenants: Register) -> None:
    acme = await tenants("acme")
    async with ProvidersServer(prices={"AAPL": [(date(2024, 1, 2), 185.64)]}) as server:
        wrong = PortfolioSettings(
            providers="fmp", fmp_url=server.url, fmp_key=SecretStr("wrong"), provider_retries=0
        )
        with pytest.raises(StepFailed) as failed:
            await build(acme, date(2024, 1, 5), wrong, symbols=["AAPL"], run_id="run-1")
        rows = await acme.read(lambda c: packs.list_packs(c, acme.id, limit=10))
        assert [(r["state"], r["run_id"], r["error"]) for r in rows] == [
            (
                "failed",
                "run-1",
                {
                    "code": "step_failed",
                    "message": failed.value.message,
                    "details": {
                        "provider": "fmp",
                        "status": 401,
                        "provider_message": IsStr(regex="Invalid API KEY.*"),
                    },
                },
            )
        ]
        health = await acme.read(lambda c: packs.health(c, acme.id, T0))
        assert (health["state"], health["last_error"]) == ("failed", rows[0]["error"])
        with pytest.raises(Conflict, match="the last build failed: the data provider 'fmp'"):
            await acme.read(lambda c: packs.require_fresh(c, acme.id, T0))
        right = wrong.model_copy(update={"fmp_key": SecretStr(KEY)})
        done = await build(acme, date(2024, 1, 5), right, symbols=["AAPL"], run_id="run-1")
        again = await build(acme, date(2024, 1, 5), right, symbols=["AAPL"], run_id="run-1")
    assert (done["build_id"], done["state"], again) == (rows[0]["build_id"], "fresh", done)
    assert len(await acme.read(lambda c: packs.list_packs(c, acme.id, limit=10))) == 1


async def test_a_build_from_the_paid_providers(tenants: Register) -> None:
    acme = await tenants("acme")
    day = date(2024, 1, 2)
    async with ProvidersServer(
        prices={"AAPL": [(day, 185.64)], "MSFT": [(day, 370.87)]},
        macro={"DGS10": [(day, "3.95")]},
        news={
            "AAPL": [
                {
                    "source": {"name": "Wire"},
                    "title": "t",
                    "url": "https://n.example/1",
                    "publishedAt": "2024-01-02T10:00:00Z",
                }
            ]
        },
    ) as server:
        key = SecretStr(KEY)
        settings = PortfolioSettings(
            providers="fmp,fred,news",
            fmp_url=server.url,
            fmp_key=key,
            fred_url=server.url,
            fred_key=key,
            news_url=server.url,
            news_key=key,
        )
        row = await build(acme, day, settings, symbols=["aapl", "MSFT", "NOPE"])
    assert (row["state"], row["sources"], row["counts"]) == (
        "fresh",
        ["fmp", "fred", "news"],
        {
            "price": 2,
            "fx": 0,
            "split": 0,
            "dividend": 0,
            "macro": 1,
            "news": 1,
            "missing": [
                "price:NOPE",
                "macro:DGS2",
                "macro:UNRATE",
                "macro:CPIAUCSL",
                "macro:DTB3",
                "macro:VIXCLS",
                "news:MSFT",
                "news:NOPE",
            ],
        },
    )
    data = await acme.read(lambda c: packs.load(c, acme.id, row["pack_id"], symbols=["AAPL"]))
    assert (data.prices["AAPL"].values, data.macro["DGS10"].values, data.news) == (
        (Decimal("185.64"),),
        (Decimal("3.95"),),
        [
            {
                "symbol": "AAPL",
                "published_at": "2024-01-02T10:00:00Z",
                "title": "t",
                "url": "https://n.example/1",
                "source": "Wire",
            }
        ],
    )


async def test_another_tenant_sees_no_packs(tenants: Register) -> None:
    acme, other = await tenants("acme"), await tenants("other")
    row = await build(acme, date(2005, 1, 1))
    assert await other.read(lambda c: packs.list_packs(c, other.id, limit=10)) == []
    assert await other.read(lambda c: packs.current(c, other.id)) is None
    with pytest.raises(NotFound):
        await other.read(lambda c: packs.get_pack(c, other.id, row["pack_id"]))
    with pytest.raises(NotFound):
        await other.read(lambda c: packs.require_fresh(c, other.id, T0, row["pack_id"]))
