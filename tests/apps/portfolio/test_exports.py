"""Exports: the CSV, JSON and PDF of a result, each with its sources' attribution, the PDF
watermarked only when a source requires it; and through the API, on SQLite and PostgreSQL, the
results listing, a refused export (403 naming the source and its term, and an audit entry), an
allowed one, and another tenant's result being a 404."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pypdf
from fastapi import FastAPI

from batonflow.apps.portfolio import exports, results, rights
from batonflow.apps.portfolio.rights import DEFAULTS
from tests.apps.portfolio.rights_fixtures import (
    NOW,
    Person,
    api_db_url,
    api_settings,
    people,
    portfolio_api,
)

__all__ = ["api_db_url", "api_settings", "people", "portfolio_api"]

FRED = "Source: FRED, Federal Reserve Bank of St. Louis"
OFFLINE = (
    "Sample data: vega-datasets, the Vega project's example data sets (BSD-3-Clause); for "
    "demonstration, not for investment decisions"
)
POLYGON = "Market data: Polygon.io, licensed for internal use"
MARK = "Licensed data - not for redistribution (polygon)"
BODY = {
    "positions": [
        {
            "symbol": "AAPL",
            "quantity": "10",
            "price": "190.5",
            "market_value": "1905",
            "weight": "0.6",
            "currency": "USD",
        },
        {
            "symbol": "=HYPERLINK",
            "quantity": "-2",
            "price": "635",
            "market_value": "-1270",
            "weight": "0.4",
            "currency": "USD",
        },
    ],
    "metrics": {"twr": "0.1234", "volatility": "0.18", "drawdown": {"max": "-0.05"}},
    "narrative": "The portfolio returned 12.3%.",
}


def row(sources: list[str], body: dict[str, Any] | None = None) -> dict[str, Any]:
    result = BODY if body is None else body
    return {
        "id": "0190aaaa-bbbb-7ccc-8ddd-eeeeffff0000",
        "run_id": "run-1",
        "pattern_id": "portfolio-overview",
        "pattern_version": 2,
        "portfolio_id": "p1",
        "pricing_pack_id": "pack-1",
        "ledger_commit_hash": "c0ffee",
        "inputs": {"portfolio_id": "p1"},
        "result": result,
        "result_hash": results.result_hash(result),
        "sources": sources,
        "created_by": "ada",
        "created_at": NOW,
    }


def pdf_text(body: bytes) -> list[str]:
    return [page.extract_text() for page in pypdf.PdfReader(io.BytesIO(body)).pages]


def test_the_csv_is_blocks_of_rows_ending_with_the_attribution() -> None:
    found = row(["offline", "polygon"])
    verdict = rights.check_export(DEFAULTS, found["sources"], "csv")
    export = exports.render(found, verdict, "csv")
    assert (export.media_type, export.filename) == (
        "text/csv; charset=utf-8",
        "result-portfolio-overview-0190aaaa.csv",
    )
    assert list(csv.reader(io.StringIO(export.body.decode("utf-8")))) == [
        ["Result", "0190aaaa-bbbb-7ccc-8ddd-eeeeffff0000"],
        ["Pattern", "portfolio-overview v2"],
        ["Portfolio", "p1"],
        ["Pricing pack", "pack-1"],
        ["Ledger commit", "c0ffee"],
        ["Result hash", found["result_hash"]],
        ["Computed at", "2026-12-03T12:00:00Z"],
        ["Narrative", "The portfolio returned 12.3%."],
        [],
        ["symbol", "quantity", "price", "market_value", "weight", "currency"],
        ["AAPL", "10", "190.5", "1905", "0.6", "USD"],
        ["'=HYPERLINK", "-2", "635", "-1270", "0.4", "USD"],
        [],
        ["metric", "value"],
        ["twr", "0.1234"],
        ["volatility", "0.18"],
        ["drawdown", '{"max":"-0.05"}'],
        [],
        ["Attribution", OFFLINE],
        ["Attribution", POLYGON],
        ["Notice", "Internal use only: redistribution is not licensed for polygon"],
        ["Watermark", MARK],
    ]


def test_the_splits_the_ledger_lacks_head_the_csv_and_the_pdf() -> None:
    split = {"symbol": "ACME", "date": "2010-02-15", "ratio": "2", "held": "10", "source": "fmp"}
    found = row(["offline"], body={"metrics": {"twr": "0.1"}, "unbooked_splits": [split]})
    verdict = rights.check_export(DEFAULTS, ["offline"], "csv")
    said = (
        "ACME: 2 new shares per share on 2010-02-15 (10 held; from fmp); "
        "the values after it are off until the ledger books it"
    )
    rows = list(csv.reader(io.StringIO(exports.render(found, verdict, "csv").body.decode())))
    assert rows[6:9] == [
        ["Computed at", "2026-12-03T12:00:00Z"],
        ["Unbooked split", said],
        [],
    ]
    page = " ".join(pdf_text(exports.render(found, verdict, "pdf").body)[0].split())
    assert f"Unbooked split {said}" in page


def test_a_csv_of_a_result_without_sections_still_carries_the_attribution() -> None:
    found = row(["fred"], body={"regime": "expansion"})
    export = exports.render(found, rights.check_export(DEFAULTS, ["fred"], "csv"), "csv")
    assert export.body.decode("utf-8").split("\r\n")[-4:] == [
        "Computed at,2026-12-03T12:00:00Z",
        "",
        f'Attribution,"{FRED}"',
        "",
    ]


def test_the_json_is_the_row_with_attribution_notice_and_watermark() -> None:
    found = row(["fred", "polygon"])
    export = exports.render(found, rights.check_export(DEFAULTS, found["sources"], "json"), "json")
    assert json.loads(export.body) == {
        "result_id": found["id"],
        "run_id": "run-1",
        "pattern_id": "portfolio-overview",
        "pattern_version": 2,
        "portfolio_id": "p1",
        "pricing_pack_id": "pack-1",
        "ledger_commit_hash": "c0ffee",
        "result_hash": found["result_hash"],
        "created_at": "2026-12-03T12:00:00Z",
        "inputs": {"portfolio_id": "p1"},
        "result": BODY,
        "sources": ["fred", "polygon"],
        "attribution": [FRED, POLYGON],
        "notice": "Internal use only: redistribution is not licensed for polygon",
        "watermark": MARK,
    }


def test_a_pdf_is_watermarked_only_when_a_source_requires_it() -> None:
    marked = row(["offline", "polygon"])
    verdict = rights.check_export(DEFAULTS, marked["sources"], "pdf")
    pages = pdf_text(exports.render(marked, verdict, "pdf").body)
    assert pages == [
        "\n".join(
            [
                MARK,
                "Portfolio result",
                "Result 0190aaaa-bbbb-7ccc-8ddd-eeeeffff0000",
                "Pattern portfolio-overview v2",
                "Portfolio p1",
                "Pricing pack pack-1",
                "Ledger commit c0ffee",
                f"Result hash {marked['result_hash']}",
                "Computed at 2026-12-03T12:00:00Z",
                "Summary",
                "The portfolio returned 12.3%.",
                "Positions",
                "symbol quantity price market_value weight currency",
                "AAPL 10 190.5 1905 0.6 USD",
                "=HYPERLINK -2 635 -1270 0.4 USD",
                "Metrics",
                "twr 0.1234",
                "volatility 0.18",
                'drawdown {"max":"-0.05"}',
                OFFLINE,
                POLYGON,
                "Internal use only: redistribution is not licensed for polygon",
                "Page 1",
            ]
        )
    ]
    plain = row(["offline", "fred"], body={"metrics": {"twr": "0.1"}})
    pages = pdf_text(
        exports.render(plain, rights.check_export(DEFAULTS, plain["sources"], "pdf"), "pdf").body
    )
    assert len(pages) == 1
    assert pages[0].splitlines()[0] == "Portfolio result"
    assert pages[0].splitlines()[-4:] == ["twr 0.1", FRED, OFFLINE, "Page 1"]
    assert "Licensed data" not in pages[0]


def test_every_page_of_a_long_pdf_has_the_watermark_and_the_attribution() -> None:
    many = [dict(BODY["positions"][0], symbol=f"S{n:03d}") for n in range(120)]
    found = row(["polygon"], body={"positions": many})
    body = exports.render(found, rights.check_export(DEFAULTS, ["polygon"], "pdf"), "pdf").body
    pages = [text.splitlines() for text in pdf_text(body)]
    assert len(pages) == 3
    assert [(lines[0], lines[-3:]) for lines in pages] == [
        (
            MARK,
            [POLYGON, "Internal use only: redistribution is not licensed for polygon", f"Page {n}"],
        )
        for n in range(1, 4)
    ]
    shown = [line.split()[0] for lines in pages for line in lines if line.startswith("S")]
    assert shown == [f"S{n:03d}" for n in range(120)]
    header = "symbol quantity price market_value weight currency"
    assert [lines.count(header) for lines in pages] == [1, 1, 1]


# Through the API, on SQLite and PostgreSQL.

R = "/api/v1/portfolio/results"


async def tenant_id(client: httpx.AsyncClient) -> str:
    return str((await client.get("/api/v1/me")).json()["tenant"]["id"])


async def recorded(
    app: FastAPI, tenant: str, run_id: str, sources: list[str], now: datetime = NOW
) -> dict[str, Any]:
    state = app.state.batonflow
    found: dict[str, Any] = await state.transact(
        lambda conn: results.record(
            conn,
            tenant,
            run_id,
            "portfolio-overview",
            2,
            "p1",
            "pack-1",
            "c0ffee",
            {"portfolio_id": "p1"},
            BODY,
            sources,
            "ada",
            now,
        )
    )
    return found


async def audit_entries(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    entries = (await client.get("/api/v1/audit")).json()["items"]
    return [
        {k: e[k] for k in ("actor", "action", "target_kind", "target_id", "details")}
        for e in entries
        if e["action"].startswith("portfolio.")
    ]


async def test_results_are_listed_read_and_isolated(people: Person, portfolio_api: FastAPI) -> None:
    ada = await people("acme")
    eve = await people("evil")
    acme = await tenant_id(ada)
    first = await recorded(portfolio_api, acme, "run-1", ["offline"])
    second = await recorded(
        portfolio_api, acme, "run-2", ["fred"], now=datetime(2026, 12, 3, 13, tzinfo=UTC)
    )
    page = (await ada.get(R, params={"limit": 1})).json()
    assert [item["id"] for item in page["items"]] == [second["id"]]
    rest = (await ada.get(R, params={"limit": 2, "cursor": page["next_cursor"]})).json()
    assert ([item["id"] for item in rest["items"]], rest["next_cursor"]) == ([first["id"]], None)
    one = (await ada.get(f"{R}/{first['id']}")).json()
    assert one == {
        "id": first["id"],
        "run_id": "run-1",
        "pattern_id": "portfolio-overview",
        "pattern_version": 2,
        "portfolio_id": "p1",
        "pricing_pack_id": "pack-1",
        "ledger_commit_hash": "c0ffee",
        "result_hash": results.result_hash(BODY),
        "sources": ["offline"],
        "created_by": "ada",
        "created_at": "2026-12-03T12:00:00Z",
        "inputs": {"portfolio_id": "p1"},
        "result": BODY,
        "attribution": [DEFAULTS["offline"].attribution],
    }
    assert (await eve.get(R)).json() == {"items": [], "next_cursor": None}
    for path in (f"{R}/{first['id']}", f"{R}/{first['id']}/export"):
        theirs = await eve.get(path)
        assert (theirs.status_code, theirs.json()["error"]["code"]) == (404, "not_found")


async def test_a_refused_export_is_a_403_naming_the_source_and_is_audited(
    people: Person, portfolio_api: FastAPI
) -> None:
    ada = await people("acme")
    acme = await tenant_id(ada)
    found = await recorded(portfolio_api, acme, "run-1", ["fmp", "offline"])
    for fmt in ("csv", "json", "pdf"):
        refused = await ada.get(f"{R}/{found['id']}/export", params={"format": fmt})
        assert refused.status_code == 403
        assert {k: refused.json()["error"][k] for k in ("code", "message", "details")} == {
            "code": "forbidden",
            "message": "export refused: fmp: export is not allowed (the Financial Modeling Prep "
            "licence forbids redistributing raw prices)",
            "details": {
                "reasons": [
                    "fmp: export is not allowed (the Financial Modeling Prep licence forbids "
                    "redistributing raw prices)"
                ]
            },
        }
    refusal = {
        "actor": "admin@acme.example",
        "action": "portfolio.export_refused",
        "target_kind": "portfolio_result",
        "target_id": found["id"],
    }
    reasons = [
        "fmp: export is not allowed (the Financial Modeling Prep licence forbids "
        "redistributing raw prices)"
    ]
    assert await audit_entries(ada) == [
        {**refusal, "details": {"format": fmt, "sources": ["fmp", "offline"], "reasons": reasons}}
        for fmt in ("pdf", "json", "csv")
    ]


async def test_an_override_allows_the_export_which_carries_attribution_and_watermark(
    people: Person, portfolio_api: FastAPI
) -> None:
    ada = await people("acme")
    acme = await tenant_id(ada)
    found = await recorded(portfolio_api, acme, "run-1", ["fmp", "polygon"])
    licensed = {
        "attribution": "Market data: Financial Modeling Prep, redistribution licence 2026",
        "export_allowed": True,
        "redistribution_allowed": True,
        "watermark_required": False,
    }
    assert (await ada.put("/api/v1/portfolio/rights/fmp", json=licensed)).status_code == 200
    as_json = await ada.get(f"{R}/{found['id']}/export", params={"format": "json"})
    assert as_json.status_code == 200, as_json.text
    assert as_json.headers["content-disposition"] == (
        f'attachment; filename="result-portfolio-overview-{found["id"][:8]}.json"'
    )
    assert {k: as_json.json()[k] for k in ("attribution", "notice", "watermark")} == {
        "attribution": [licensed["attribution"], POLYGON],
        "notice": "Internal use only: redistribution is not licensed for polygon",
        "watermark": MARK,
    }
    as_csv = await ada.get(f"{R}/{found['id']}/export", params={"format": "csv"})
    assert as_csv.text.split("\r\n")[-6:] == [
        "",
        f'Attribution,"{licensed["attribution"]}"',
        f'Attribution,"{POLYGON}"',
        "Notice,Internal use only: redistribution is not licensed for polygon",
        f"Watermark,{MARK}",
        "",
    ]
    as_pdf = await ada.get(f"{R}/{found['id']}/export", params={"format": "pdf"})
    assert as_pdf.headers["content-type"] == "application/pdf"
    lines = pdf_text(as_pdf.content)[0].splitlines()
    assert (lines[0], lines[-4:]) == (
        MARK,
        [
            licensed["attribution"],
            POLYGON,
            "Internal use only: redistribution is not licensed for polygon",
            "Page 1",
        ],
    )
    assert [e["action"] for e in await audit_entries(ada)] == [
        "portfolio.export",
        "portfolio.export",
        "portfolio.export",
        "portfolio.rights_set",
    ]
    bad = await ada.get(f"{R}/{found['id']}/export", params={"format": "xlsx"})
    assert (bad.status_code, bad.json()["error"]["code"]) == (422, "request_invalid")
