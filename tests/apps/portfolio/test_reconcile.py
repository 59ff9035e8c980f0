"""Reconciliation through the real API: an account at the ledger's head against a custodian
statement, the breaks recorded with the ledger hash they were found at."""

from __future__ import annotations

from typing import Any

import httpx

from batonflow.apps.portfolio import HERE
from tests.apps.portfolio.conftest import PORTFOLIO, Join

SAMPLE = (HERE / "samples" / "ledger.csv").read_bytes()
CSV = {"content-type": "text/csv"}
MATCHING = b"symbol,quantity,currency\nAAPL,500,\nAMZN,300,\nGOOG,70,\nIBM,50,\nMSFT,800,\nCASH,59534.45,USD\n"
OFF = b"symbol,quantity,currency\nAAPL,500,\nAMZN,300,\nGOOG,70.0,\nMSFT,790,\nNVDA,10,\ncash,59500,usd\n"


async def imported(client: httpx.AsyncClient) -> tuple[str, str]:
    made = await client.post(PORTFOLIO, json={"name": "Core", "base_currency": "USD"})
    pid = made.json()["id"]
    done = await client.post(f"{PORTFOLIO}/{pid}/import", content=SAMPLE, headers=CSV)
    assert done.status_code == 201, done.text
    return pid, done.json()["commit"]["hash"]


async def reconcile(
    client: httpx.AsyncClient, pid: str, statement: bytes, **params: str
) -> httpx.Response:
    return await client.post(
        f"{PORTFOLIO}/{pid}/reconciliations",
        params={"account": "Brokerage", "statement_date": "2009-12-31"} | params,
        content=statement,
        headers=CSV,
    )


def plain(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in ("id", "created_at", "account_id")}


async def test_breaks_are_found_and_recorded(portfolio_member: Join) -> None:
    client = (await portfolio_member("acme")).client
    pid, head = await imported(client)
    clean = await reconcile(client, pid, MATCHING)
    assert clean.status_code == 201, clean.text
    assert plain(clean.json()) == {
        "account": "Brokerage",
        "statement_date": "2009-12-31",
        "ledger_commit_hash": head,
        "breaks": [],
        "created_by": "admin@acme.example",
    }
    off = await reconcile(client, pid, OFF, statement_date="2010-01-31")
    assert off.status_code == 201, off.text
    assert plain(off.json()) == {
        "account": "Brokerage",
        "statement_date": "2010-01-31",
        "ledger_commit_hash": head,
        "breaks": [
            {
                "symbol": "CASH:USD",
                "ledger": "59534.45",
                "custodian": "59500",
                "difference": "-34.45",
            },
            {"symbol": "IBM", "ledger": "50", "custodian": "0", "difference": "-50"},
            {"symbol": "MSFT", "ledger": "800", "custodian": "790", "difference": "-10"},
            {"symbol": "NVDA", "ledger": "0", "custodian": "10", "difference": "10"},
        ],
        "created_by": "admin@acme.example",
    }
    listed = (await client.get(f"{PORTFOLIO}/{pid}/reconciliations")).json()
    assert listed == [off.json(), clean.json()]


async def test_a_bad_statement_names_every_bad_row(portfolio_member: Join) -> None:
    client = (await portfolio_member("acme")).client
    pid, _ = await imported(client)
    bad = await reconcile(
        client, pid, b"symbol,quantity,currency\nAAPL,lots,\n,5,\nCASH,10,\nAAPL,1,2,3\n"
    )
    assert bad.status_code == 422, bad.text
    assert bad.json()["error"]["details"] == {
        "errors": [
            {
                "row": 2,
                "column": "quantity",
                "message": "'lots' is not a plain decimal number (like 1234.56)",
            },
            {"row": 3, "column": "symbol", "message": "every row needs a symbol (or CASH)"},
            {
                "row": 4,
                "column": "currency",
                "message": "a cash row needs its currency: '' is not an ISO 4217 currency code (three capitals, like USD)",
            },
            {"row": 5, "column": "", "message": "4 cells; the header has 3"},
        ]
    }
    header = await reconcile(client, pid, b"ticker,shares\nAAPL,1\n")
    assert header.json()["error"]["message"] == (
        "a statement's header is symbol,quantity or symbol,quantity,currency; got ticker,shares"
    )
    nobody = await reconcile(client, pid, MATCHING, account="Elsewhere")
    assert (nobody.status_code, nobody.json()["error"]["message"]) == (
        404,
        "no account 'Elsewhere' in this portfolio",
    )
    assert (await client.get(f"{PORTFOLIO}/{pid}/reconciliations")).json() == []


async def test_another_tenant_cannot_reconcile(portfolio_member: Join) -> None:
    acme = (await portfolio_member("acme")).client
    globex = (await portfolio_member("globex")).client
    pid, _ = await imported(acme)
    assert (await reconcile(globex, pid, MATCHING)).status_code == 404
