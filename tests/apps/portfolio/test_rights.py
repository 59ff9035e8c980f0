"""Data rights, on SQLite and PostgreSQL: the registry's defaults, a tenant's override (its own
only), the export verdict naming each forbidding source, and the attribution lines."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from batonflow.apps.portfolio import rights
from batonflow.apps.portfolio.rights import DEFAULTS, Rights, Verdict
from batonflow.errors import InvalidInput
from tests.apps.portfolio.rights_fixtures import (
    NOW,
    Person,
    api_db_url,
    api_settings,
    people,
    pf_engine,
    portfolio_api,
    tenant_of,
)

__all__ = ["api_db_url", "api_settings", "people", "pf_engine", "portfolio_api"]

FRED = "Source: FRED, Federal Reserve Bank of St. Louis"
OFFLINE = (
    "Sample data: vega-datasets, the Vega project's example data sets (BSD-3-Clause); for "
    "demonstration, not for investment decisions"
)
POLYGON = "Market data: Polygon.io, licensed for internal use"


def flags(found: dict[str, Rights]) -> dict[str, tuple[bool, bool, bool, bool]]:
    return {
        source: (r.export_allowed, r.redistribution_allowed, r.watermark_required, r.overridden)
        for source, r in found.items()
    }


async def test_defaults_apply_until_a_tenant_overrides_a_source(pf_engine: AsyncEngine) -> None:
    acme = await tenant_of(pf_engine, "acme")
    globex = await tenant_of(pf_engine, "globex")
    async with pf_engine.begin() as conn:
        assert await rights.effective(conn, acme) == DEFAULTS
        assert flags(DEFAULTS) == {
            "fmp": (False, False, False, False),
            "fred": (True, True, False, False),
            "news": (False, False, False, False),
            "offline": (True, True, False, False),
            "polygon": (True, False, True, False),
        }
        set_ = await rights.set_rights(
            conn,
            acme,
            "fmp",
            attribution="  Market data:   Financial Modeling Prep, redistribution licence 2026 ",
            export_allowed=True,
            redistribution_allowed=False,
            watermark_required=True,
            actor="admin@acme.example",
            now=NOW,
        )
    assert set_ == Rights(
        source="fmp",
        attribution="Market data: Financial Modeling Prep, redistribution licence 2026",
        export_allowed=True,
        redistribution_allowed=False,
        watermark_required=True,
        terms="the tenant's data rights for fmp, set by admin@acme.example (the default: the "
        "Financial Modeling Prep licence forbids redistributing raw prices)",
        overridden=True,
        updated_by="admin@acme.example",
        updated_at=NOW,
    )
    async with pf_engine.begin() as conn:
        acme_rights = await rights.effective(conn, acme)
        globex_rights = await rights.effective(conn, globex)
    assert acme_rights == {**DEFAULTS, "fmp": set_}
    assert list(acme_rights) == ["fmp", "fred", "news", "offline", "polygon"]
    assert globex_rights == DEFAULTS


async def test_an_override_is_replaced_then_reset(pf_engine: AsyncEngine) -> None:
    acme = await tenant_of(pf_engine, "acme")
    later = NOW + timedelta(hours=1)
    async with pf_engine.begin() as conn:
        for moment, allowed in ((NOW, False), (later, True)):
            await rights.set_rights(
                conn,
                acme,
                "offline",
                attribution="Sample data",
                export_allowed=allowed,
                redistribution_allowed=False,
                watermark_required=False,
                actor="ada",
                now=moment,
            )
        found = (await rights.effective(conn, acme))["offline"]
        assert (found.export_allowed, found.updated_at) == (True, later)
        assert await rights.reset_rights(conn, acme, "offline") == DEFAULTS["offline"]
        assert await rights.effective(conn, acme) == DEFAULTS


async def test_an_unknown_source_or_an_empty_attribution_is_refused(
    pf_engine: AsyncEngine,
) -> None:
    acme = await tenant_of(pf_engine, "acme")
    async with pf_engine.begin() as conn:
        with pytest.raises(InvalidInput) as unknown:
            await rights.set_rights(
                conn,
                acme,
                "bloomberg",
                attribution="x",
                export_allowed=True,
                redistribution_allowed=True,
                watermark_required=False,
                actor="ada",
                now=NOW,
            )
        with pytest.raises(InvalidInput) as empty:
            await rights.set_rights(
                conn,
                acme,
                "fred",
                attribution="   ",
                export_allowed=True,
                redistribution_allowed=True,
                watermark_required=False,
                actor="ada",
                now=NOW,
            )
    assert [str(unknown.value), str(empty.value)] == [
        "'bloomberg' is not a data source; sources: fmp, fred, news, offline, polygon",
        "attribution must not be empty: every export prints it",
    ]


def test_an_allowed_export_carries_attribution_notice_and_watermark() -> None:
    assert rights.check_export(DEFAULTS, ["polygon", "fred", "offline", "fred"], "pdf") == Verdict(
        allowed=True,
        reasons=(),
        attribution=(FRED, OFFLINE, POLYGON),
        watermark="Licensed data - not for redistribution (polygon)",
        restricted=("polygon",),
    )
    plain = rights.check_export(DEFAULTS, ["offline"], "csv")
    assert (plain.allowed, plain.attribution, plain.watermark, plain.notice) == (
        True,
        (OFFLINE,),
        None,
        None,
    )


def test_a_refusal_names_each_forbidding_source_and_its_term() -> None:
    verdict = rights.check_export(DEFAULTS, ["news", "fmp", "offline", "reuters"], "json")
    assert (verdict.allowed, verdict.reason, verdict.notice) == (
        False,
        "fmp: export is not allowed (the Financial Modeling Prep licence forbids "
        "redistributing raw prices); news: export is not allowed (the news API licence forbids "
        "republishing publishers' headlines); reuters: export is not allowed (no licence is "
        "recorded for this source)",
        "Internal use only: redistribution is not licensed for fmp, news, reuters",
    )


async def test_attribution_lines_once_per_source_in_name_order(pf_engine: AsyncEngine) -> None:
    acme = await tenant_of(pf_engine, "acme")
    sources = ["polygon", "fred", "polygon", "acme-feed"]
    async with pf_engine.begin() as conn:
        before = await rights.attribution_lines(conn, acme, sources)
        await rights.set_rights(
            conn,
            acme,
            "fred",
            attribution="FRED (St. Louis Fed), by agreement",
            export_allowed=True,
            redistribution_allowed=True,
            watermark_required=False,
            actor="ada",
            now=NOW,
        )
        after = await rights.attribution_lines(conn, acme, sources)
    assert (before, after) == (
        ["Source: acme-feed", FRED, POLYGON],
        ["Source: acme-feed", "FRED (St. Louis Fed), by agreement", POLYGON],
    )


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(InvalidInput) as raised:
        rights.check_export(DEFAULTS, ["offline"], "xlsx")
    assert str(raised.value) == "'xlsx' is not an export format; formats: csv, json, pdf"


# Through the API, on SQLite and PostgreSQL.

RIGHTS = "/api/v1/portfolio/rights"
LICENSED = {
    "attribution": "Market data: Financial Modeling Prep, redistribution licence 2026",
    "export_allowed": True,
    "redistribution_allowed": False,
    "watermark_required": True,
}


def default_out(source: str) -> dict[str, object]:
    r = DEFAULTS[source]
    return {
        "source": source,
        "attribution": r.attribution,
        "export_allowed": r.export_allowed,
        "redistribution_allowed": r.redistribution_allowed,
        "watermark_required": r.watermark_required,
        "terms": r.terms,
        "overridden": False,
        "updated_by": None,
        "updated_at": None,
    }


async def test_an_admin_overrides_a_source_for_the_tenant_only(people: Person) -> None:
    ada = await people("acme")
    bob = await people("acme", admin=ada, email="bob@acme.example", role="operator")
    eve = await people("evil")
    assert (await bob.get(RIGHTS)).json() == {"items": [default_out(s) for s in sorted(DEFAULTS)]}

    refused = await bob.put(f"{RIGHTS}/fmp", json=LICENSED)
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "forbidden")
    set_ = await ada.put(f"{RIGHTS}/fmp", json=LICENSED)
    assert set_.status_code == 200, set_.text
    fmp = {
        "source": "fmp",
        **LICENSED,
        "terms": "the tenant's data rights for fmp, set by admin@acme.example (the default: "
        "the Financial Modeling Prep licence forbids redistributing raw prices)",
        "overridden": True,
        "updated_by": "admin@acme.example",
        "updated_at": set_.json()["updated_at"],
    }
    assert set_.json() == fmp
    assert (await bob.get(RIGHTS)).json()["items"] == [
        fmp,
        *(default_out(s) for s in ("fred", "news", "offline", "polygon")),
    ]
    assert (await eve.get(RIGHTS)).json()["items"][0] == default_out("fmp")

    unknown = await ada.put(f"{RIGHTS}/bloomberg", json=LICENSED)
    assert (unknown.status_code, unknown.json()["error"]["message"]) == (
        422,
        "'bloomberg' is not a data source; sources: fmp, fred, news, offline, polygon",
    )
    forged = await ada.put(f"{RIGHTS}/fred", json={**LICENSED, "overridden": False})
    assert (forged.status_code, forged.json()["error"]["code"]) == (422, "request_invalid")

    reset = await ada.delete(f"{RIGHTS}/fmp")
    assert (reset.status_code, reset.json()) == (200, default_out("fmp"))
    assert (await bob.get(RIGHTS)).json()["items"][0] == default_out("fmp")

    entries = (await ada.get("/api/v1/audit", params={"action": "portfolio.rights_set"})).json()
    assert [
        {k: e[k] for k in ("actor", "target_kind", "target_id", "details")}
        for e in entries["items"]
    ] == [
        {
            "actor": "admin@acme.example",
            "target_kind": "portfolio_source",
            "target_id": "fmp",
            "details": {"reset": True},
        },
        {
            "actor": "admin@acme.example",
            "target_kind": "portfolio_source",
            "target_id": "fmp",
            "details": LICENSED,
        },
    ]
