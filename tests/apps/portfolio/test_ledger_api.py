"""The ledger through the real API: portfolios and accounts, commits, CSV imports (all or
nothing, every bad row reported), positions, keyset pages, and tenants kept apart."""

from __future__ import annotations

from typing import Any

import httpx

from batonflow.apps.portfolio import HERE
from tests.apps.portfolio.conftest import PORTFOLIO, Join

SAMPLE = (HERE / "samples" / "ledger.csv").read_bytes()
CSV = {"content-type": "text/csv"}


async def new_portfolio(client: httpx.AsyncClient, name: str = "Core") -> dict[str, Any]:
    created = await client.post(
        PORTFOLIO, json={"name": name, "base_currency": "USD", "benchmark": "SPY"}
    )
    assert created.status_code == 201, created.text
    body: dict[str, Any] = created.json()
    return body


def without(body: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in keys}


async def test_portfolio_and_account_crud(portfolio_member: Join) -> None:
    client = (await portfolio_member("acme")).client
    made = await new_portfolio(client)
    pid = made["id"]
    assert without(made, "id", "created_at", "updated_at") == {
        "name": "Core",
        "base_currency": "USD",
        "benchmark": "SPY",
        "created_by": "admin@acme.example",
    }
    again = await client.post(PORTFOLIO, json={"name": "Core", "base_currency": "EUR"})
    assert (again.status_code, again.json()["error"]["message"]) == (
        409,
        "a portfolio named 'Core' exists; pick another name",
    )
    lower = await client.post(PORTFOLIO, json={"name": "X", "base_currency": "usd"})
    assert lower.status_code == 422, lower.text

    renamed = await client.patch(f"{PORTFOLIO}/{pid}", json={"name": "Growth", "benchmark": ""})
    assert renamed.status_code == 200, renamed.text
    assert (renamed.json()["name"], renamed.json()["benchmark"]) == ("Growth", None)
    assert [p["name"] for p in (await client.get(PORTFOLIO)).json()] == ["Growth"]

    account = await client.post(
        f"{PORTFOLIO}/{pid}/accounts", json={"name": "Main", "custodian": "Big Bank"}
    )
    assert account.status_code == 201, account.text
    assert without(account.json(), "id", "created_at") == {
        "portfolio_id": pid,
        "name": "Main",
        "custodian": "Big Bank",
    }
    twice = await client.post(f"{PORTFOLIO}/{pid}/accounts", json={"name": "Main"})
    assert twice.status_code == 409, twice.text
    listed = (await client.get(f"{PORTFOLIO}/{pid}/accounts")).json()
    assert listed == [account.json()]

    gone = await client.delete(f"{PORTFOLIO}/{pid}")
    assert gone.status_code == 204
    assert (await client.get(f"{PORTFOLIO}/{pid}")).status_code == 404
    assert (await client.get(PORTFOLIO)).json() == []


async def test_commit_transactions_as_json(portfolio_member: Join) -> None:
    client = (await portfolio_member("acme")).client
    pid = (await new_portfolio(client))["id"]
    acct = (await client.post(f"{PORTFOLIO}/{pid}/accounts", json={"name": "Main"})).json()["id"]
    body = [
        {"kind": "deposit", "date": "2024-01-02", "account_id": acct, "amount": "5000"},
        {
            "kind": "buy",
            "date": "2024-01-03",
            "account_id": acct,
            "symbol": "IBM",
            "quantity": "10",
            "price": "150.25",
            "fee": "1.50",
        },
    ]
    committed = await client.post(f"{PORTFOLIO}/{pid}/transactions", json=body)
    assert committed.status_code == 201, committed.text
    assert without(committed.json(), "hash", "created_at") == {
        "seq": 1,
        "parent_hash": "",
        "count": 2,
        "source": "api",
        "created_by": "admin@acme.example",
    }
    floats = await client.post(
        f"{PORTFOLIO}/{pid}/transactions",
        json=[{"kind": "deposit", "date": "2024-01-02", "account_id": acct, "amount": 1e5}],
    )
    assert floats.status_code == 422, floats.text
    positions = (await client.get(f"{PORTFOLIO}/{pid}/positions")).json()
    assert positions == {
        "portfolio_id": pid,
        "ledger_commit_hash": committed.json()["hash"],
        "base_currency": "USD",
        "positions": [
            {
                "account_id": acct,
                "symbol": "IBM",
                "quantity": "10",
                "cost": "1504",
                "currency": "USD",
            }
        ],
        "cash": {"USD": "3496"},
    }


BAD = b"""date,kind,account,symbol,quantity,price,amount,fee,currency,ratio,note
2004-01-02,deposit,Brokerage,,,,10000,,USD,,
2004-13-01,buy,Brokerage,AAPL,10,22.5,,,,,
2004-02-01,buy,Brokerage,MSFT,1e5,NaN,,,,,
2004-02-02,sell,Brokerage,IBM,5,90,,,,,
2004-02-03,split,Brokerage,AAPL,,,,,,-2,
2004-02-04,withdrawal,Brokerage,,,,250,,usd,,
2004-02-05,dividend,Brokerage,MSFT,,,10,,EURO,,
"""


async def test_a_bad_csv_reports_every_row_and_commits_nothing(portfolio_member: Join) -> None:
    client = (await portfolio_member("acme")).client
    pid = (await new_portfolio(client))["id"]
    refused = await client.post(f"{PORTFOLIO}/{pid}/import", content=BAD, headers=CSV)
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["message"] == "7 problem(s) in 6 row(s); nothing was imported"
    assert error["details"] == {
        "rows": 7,
        "errors": [
            {"row": 3, "column": "date", "message": "'2004-13-01' is not a date (YYYY-MM-DD)"},
            {
                "row": 4,
                "column": "quantity",
                "message": "'1e5' is not a plain decimal number (like 1234.56)",
            },
            {
                "row": 4,
                "column": "price",
                "message": "'NaN' is not a plain decimal number (like 1234.56)",
            },
            {
                "row": 5,
                "column": "quantity",
                "message": "selling 5 IBM on 2004-02-02, but the account holds 0 then",
            },
            {
                "row": 6,
                "column": "ratio",
                "message": "a split needs a ratio above 0 (new shares per old)",
            },
            {
                "row": 7,
                "column": "amount",
                "message": "a withdrawal needs an amount, negative (its effect on cash, like -25)",
            },
            {
                "row": 8,
                "column": "currency",
                "message": "'EURO' is not an ISO 4217 currency code (three capitals, like USD)",
            },
        ],
        "accounts_created": ["Brokerage"],
        "dry_run": False,
        "commit": None,
    }
    # Nothing was written: no commit, not even the account the file named.
    assert (await client.get(f"{PORTFOLIO}/{pid}/commits")).json() == []
    assert (await client.get(f"{PORTFOLIO}/{pid}/accounts")).json() == []

    header = await client.post(
        f"{PORTFOLIO}/{pid}/import", content=b"date,kind,account,qty,colour\n", headers=CSV
    )
    assert (header.status_code, header.json()["error"]["message"]) == (
        422,
        "unknown column(s) 'qty', 'colour'; the columns are "
        "date,kind,account,symbol,quantity,price,amount,fee,currency,ratio,note",
    )


async def test_a_good_csv_dry_run_then_import_and_positions(portfolio_member: Join) -> None:
    client = (await portfolio_member("acme")).client
    pid = (await new_portfolio(client))["id"]
    dry = await client.post(f"{PORTFOLIO}/{pid}/import?dry_run=true", content=SAMPLE, headers=CSV)
    assert (dry.status_code, dry.json()) == (
        200,
        {
            "rows": 16,
            "errors": [],
            "accounts_created": ["Brokerage"],
            "dry_run": True,
            "commit": None,
        },
    )
    assert (await client.get(f"{PORTFOLIO}/{pid}/accounts")).json() == []

    boundary = "b0undary"
    form = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="ledger.csv"'
            f"\r\nContent-Type: text/csv\r\n\r\n"
        ).encode()
        + SAMPLE
        + f"\r\n--{boundary}--\r\n".encode()
    )
    imported = await client.post(
        f"{PORTFOLIO}/{pid}/import",
        content=form,
        headers={"content-type": f"multipart/form-data; boundary={boundary}"},
    )
    assert imported.status_code == 201, imported.text
    head = imported.json()["commit"]["hash"]
    assert imported.json() == {
        "rows": 16,
        "errors": [],
        "accounts_created": ["Brokerage"],
        "dry_run": False,
        "commit": {"seq": 1, "hash": head, "count": 16},
    }
    commits = (await client.get(f"{PORTFOLIO}/{pid}/commits")).json()
    assert [(c["seq"], c["source"], c["count"]) for c in commits] == [(1, "csv:ledger.csv", 16)]
    acct = (await client.get(f"{PORTFOLIO}/{pid}/accounts")).json()[0]["id"]
    positions = (await client.get(f"{PORTFOLIO}/{pid}/positions")).json()

    def position(symbol: str, quantity: str, cost: str) -> dict[str, str]:
        return {
            "account_id": acct,
            "symbol": symbol,
            "quantity": quantity,
            "cost": cost,
            "currency": "USD",
        }

    assert positions == {
        "portfolio_id": pid,
        "ledger_commit_hash": head,
        "base_currency": "USD",
        "positions": [
            # 200 at 22.40 + 9.95, split 2:1, then 100 at 57.10 + 9.95
            position("AAPL", "500", "10209.9"),
            position("AMZN", "300", "10149.95"),
            position("GOOG", "70", "11298.4"),
            position("IBM", "50", "4679.975"),  # half of 9359.95 is left after selling 50
            position("MSFT", "800", "21059.9"),
        ],
        "cash": {"USD": "59534.45"},
    }
    sold = await client.post(
        f"{PORTFOLIO}/{pid}/transactions",
        json=[
            {
                "kind": "sell",
                "date": "2010-01-04",
                "account_id": acct,
                "symbol": "IBM",
                "quantity": "50",
                "price": "130",
            }
        ],
    )
    assert sold.status_code == 201, sold.text
    now = (await client.get(f"{PORTFOLIO}/{pid}/positions")).json()
    assert [p["symbol"] for p in now["positions"]] == ["AAPL", "AMZN", "GOOG", "MSFT"]
    assert now["cash"] == {"USD": "66034.45"}
    past = (await client.get(f"{PORTFOLIO}/{pid}/positions", params={"commit": head})).json()
    assert past == positions
    unknown = await client.get(f"{PORTFOLIO}/{pid}/positions", params={"commit": "f" * 64})
    assert unknown.status_code == 404


async def test_transactions_in_keyset_pages_with_filters(portfolio_member: Join) -> None:
    client = (await portfolio_member("acme")).client
    pid = (await new_portfolio(client))["id"]
    assert (
        await client.post(f"{PORTFOLIO}/{pid}/import", content=SAMPLE, headers=CSV)
    ).status_code == 201
    seen: list[tuple[int, int]] = []
    cursor = None
    while True:
        params = {"limit": "5"} | ({"cursor": cursor} if cursor else {})
        page = (await client.get(f"{PORTFOLIO}/{pid}/transactions", params=params)).json()
        seen += [(t["commit_seq"], t["line"]) for t in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [(1, n) for n in range(1, 17)]
    aapl = (
        await client.get(
            f"{PORTFOLIO}/{pid}/transactions", params={"symbol": "AAPL", "from": "2005-01-01"}
        )
    ).json()
    assert [
        (t["kind"], t["date"], t["quantity"], t["ratio"], t["amount"]) for t in aapl["items"]
    ] == [
        ("split", "2005-02-28", None, "2", "0"),
        ("buy", "2006-07-03", "100", None, "-5719.95"),
    ]
    dividends = (
        await client.get(
            f"{PORTFOLIO}/{pid}/transactions", params={"kind": "dividend", "to": "2008-12-31"}
        )
    ).json()
    assert [(t["symbol"], t["amount"], t["note"]) for t in dividends["items"]] == [
        ("MSFT", "1540", "special dividend 3.00 and regular 0.08 per share")
    ]
    bad = await client.get(f"{PORTFOLIO}/{pid}/transactions", params={"cursor": "nonsense"})
    assert bad.status_code == 422


async def test_another_tenant_sees_nothing(portfolio_member: Join) -> None:
    acme = (await portfolio_member("acme")).client
    globex = (await portfolio_member("globex")).client
    pid = (await new_portfolio(acme))["id"]
    assert (
        await acme.post(f"{PORTFOLIO}/{pid}/import", content=SAMPLE, headers=CSV)
    ).status_code == 201
    assert (await globex.get(PORTFOLIO)).json() == []
    for path in ("", "/accounts", "/transactions", "/positions", "/commits", "/reconciliations"):
        response = await globex.get(f"{PORTFOLIO}/{pid}{path}")
        assert response.status_code == 404, (path, response.text)
    assert (
        await globex.post(f"{PORTFOLIO}/{pid}/import", content=SAMPLE, headers=CSV)
    ).status_code == 404
    assert (await globex.delete(f"{PORTFOLIO}/{pid}")).status_code == 404
    assert (await globex.patch(f"{PORTFOLIO}/{pid}", json={"name": "Mine"})).status_code == 404
    # The same name is free in another tenant.
    assert (await new_portfolio(globex))["name"] == "Core"
