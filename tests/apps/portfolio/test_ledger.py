"""The ledger on SQLite and PostgreSQL: the hash chain, positions replayed at any commit
(average cost, splits), refused sells, and commits racing for the same portfolio."""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError

from batonflow.api.deps import ApiState
from batonflow.apps.portfolio import ledger, ledger_commits
from batonflow.apps.portfolio.ledger_rules import NewTxn
from batonflow.apps.portfolio.model import Holdings, Position, Txn
from batonflow.errors import InvalidInput
from batonflow.store.tenants import ensure_tenant

D = Decimal


async def setup(state: ApiState, name: str = "Core") -> tuple[str, str, str]:
    """A tenant, a USD portfolio and its account: their ids."""

    async def work(conn: Any) -> tuple[str, str, str]:
        tenant_id = await ensure_tenant(conn, "acme", state.now())
        made = await ledger.create_portfolio(
            conn,
            tenant_id,
            name=name,
            base_currency="USD",
            benchmark=None,
            actor="ann",
            now=state.now(),
        )
        account = await ledger.create_account(
            conn, tenant_id, made["id"], name="Brokerage", custodian="Big Bank", now=state.now()
        )
        return tenant_id, made["id"], account["id"]

    return await state.transact(work)


async def commit(state: ApiState, tenant_id: str, pid: str, txns: list[NewTxn]) -> dict[str, Any]:
    return await ledger_commits.retrying(
        state.transact,
        lambda conn: ledger_commits.commit(
            conn, tenant_id, pid, txns, source="test", actor="ann", now=state.now()
        ),
    )


def deposit(account: str, amount: str, day: date = date(2024, 1, 2)) -> NewTxn:
    return NewTxn("deposit", day, account, amount=D(amount))


def buy(
    account: str, symbol: str, qty: str, price: str, fee: str = "0", day: date = date(2024, 1, 3)
) -> NewTxn:
    return NewTxn("buy", day, account, symbol, D(qty), D(price), fee=D(fee))


def expected_hash(parent: str, rows: list[dict[str, Any]]) -> str:
    """The documented chain, written out independently of the code under test."""
    body = json.dumps(rows, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256((parent + body).encode()).hexdigest()


def row(
    kind: str,
    day: str,
    account: str,
    symbol: str | None,
    qty: str | None,
    price: str | None,
    amount: str,
    fee: str = "0",
    ratio: str | None = None,
) -> dict[str, Any]:
    return {
        "kind": kind,
        "date": day,
        "account_id": account,
        "symbol": symbol,
        "quantity": qty,
        "price": price,
        "amount": amount,
        "fee": fee,
        "currency": "USD",
        "ratio": ratio,
    }


async def test_hash_chain(portfolio_state: ApiState) -> None:
    state = portfolio_state
    tenant_id, pid, acct = await setup(state)
    first = await commit(
        state, tenant_id, pid, [deposit(acct, "10000.00"), buy(acct, "AAPL", "10", "150.50", "1.0")]
    )
    second = await commit(
        state, tenant_id, pid, [NewTxn("split", date(2024, 6, 10), acct, "AAPL", ratio=D("4"))]
    )
    hash1 = expected_hash(
        "",
        [
            row("deposit", "2024-01-02", acct, None, None, None, "10000"),
            row("buy", "2024-01-03", acct, "AAPL", "10", "150.5", "-1506", "1"),
        ],
    )
    hash2 = expected_hash(
        hash1, [row("split", "2024-06-10", acct, "AAPL", None, None, "0", ratio="4")]
    )
    assert {k: first[k] for k in ("seq", "parent_hash", "hash", "count")} == {
        "seq": 1,
        "parent_hash": "",
        "hash": hash1,
        "count": 2,
    }
    assert {k: second[k] for k in ("seq", "parent_hash", "hash", "count")} == {
        "seq": 2,
        "parent_hash": hash1,
        "hash": hash2,
        "count": 1,
    }
    assert await state.query(lambda conn: ledger.head(conn, tenant_id, pid)) == hash2
    commits = await state.query(lambda conn: ledger.list_commits(conn, tenant_id, pid))
    assert [(c["seq"], c["parent_hash"], c["hash"]) for c in commits] == [
        (2, hash1, hash2),
        (1, "", hash1),
    ]

    # Another portfolio with a different ledger (one price differs) has a different head.
    _, other, other_acct = await setup(state, "Other")
    changed = await commit(
        state,
        tenant_id,
        other,
        [deposit(other_acct, "10000"), buy(other_acct, "AAPL", "10", "150.51", "1")],
    )
    assert changed["hash"] != hash1
    assert changed["hash"] == expected_hash(
        "",
        [
            row("deposit", "2024-01-02", other_acct, None, None, None, "10000"),
            row("buy", "2024-01-03", other_acct, "AAPL", "10", "150.51", "-1506.1", "1"),
        ],
    )


async def test_holdings_average_cost_splits_and_past_commits(portfolio_state: ApiState) -> None:
    state = portfolio_state
    tenant_id, pid, acct = await setup(state)
    first = await commit(
        state,
        tenant_id,
        pid,
        [
            deposit(acct, "10000"),
            buy(acct, "MSFT", "100", "10", "5"),
            buy(acct, "MSFT", "100", "20", "5", day=date(2024, 2, 1)),
            buy(acct, "AAPL", "10", "100", day=date(2024, 2, 1)),
        ],
    )
    second = await commit(
        state,
        tenant_id,
        pid,
        [
            NewTxn("sell", date(2024, 3, 1), acct, "MSFT", D("50"), D("30"), fee=D("5")),
            NewTxn("split", date(2024, 3, 5), acct, "AAPL", ratio=D("2")),
            NewTxn("dividend", date(2024, 3, 9), acct, "MSFT", amount=D("12.5")),
            NewTxn("fee", date(2024, 3, 31), acct, amount=D("-2.5")),
        ],
    )
    head = await state.query(lambda conn: ledger.holdings(conn, tenant_id, pid))
    assert head == Holdings(
        portfolio_id=pid,
        ledger_commit_hash=second["hash"],
        base_currency="USD",
        positions=(
            Position(acct, "AAPL", D("20"), D("1000"), "USD"),
            Position(acct, "MSFT", D("150"), D("2257.5"), "USD"),
        ),
        cash={"USD": D("10000") - 1005 - 2005 - 1000 + 1495 + D("12.5") - D("2.5")},
    )
    past = await state.query(
        lambda conn: ledger.holdings(conn, tenant_id, pid, commit_hash=first["hash"])
    )
    assert past == Holdings(
        portfolio_id=pid,
        ledger_commit_hash=first["hash"],
        base_currency="USD",
        positions=(
            Position(acct, "AAPL", D("10"), D("1000"), "USD"),
            Position(acct, "MSFT", D("200"), D("3010"), "USD"),
        ),
        cash={"USD": D("5990")},
    )
    assert await state.query(
        lambda conn: ledger.history(conn, tenant_id, pid, commit_hash=first["hash"])
    ) == [
        Txn("deposit", date(2024, 1, 2), acct, None, None, None, D("10000"), D("0"), "USD"),
        Txn("buy", date(2024, 1, 3), acct, "MSFT", D("100"), D("10"), D("-1005"), D("5"), "USD"),
        Txn("buy", date(2024, 2, 1), acct, "MSFT", D("100"), D("20"), D("-2005"), D("5"), "USD"),
        Txn("buy", date(2024, 2, 1), acct, "AAPL", D("10"), D("100"), D("-1000"), D("0"), "USD"),
    ]
    # "", the head before the first commit, names the empty ledger.
    empty = await state.query(lambda conn: ledger.holdings(conn, tenant_id, pid, commit_hash=""))
    assert empty == Holdings(pid, "", "USD", (), {})
    assert (
        await state.query(lambda conn: ledger.history(conn, tenant_id, pid, commit_hash="")) == []
    )


async def test_bad_transactions_are_refused_with_every_problem(portfolio_state: ApiState) -> None:
    state = portfolio_state
    tenant_id, pid, acct = await setup(state)
    await commit(state, tenant_id, pid, [deposit(acct, "1000"), buy(acct, "AAPL", "20", "10")])
    with pytest.raises(InvalidInput) as refused:
        await commit(
            state,
            tenant_id,
            pid,
            [
                NewTxn("sell", date(2024, 2, 1), acct, "AAPL", D("30"), D("12")),
                NewTxn("buy", date(2024, 2, 1), acct, "AAPL", D("1"), D("10"), amount=D("-9")),
                NewTxn("withdrawal", date(2024, 2, 1), acct, amount=D("100")),
                NewTxn("split", date(2024, 2, 1), "nope", "AAPL"),
            ],
        )
    assert refused.value.details == {
        "problems": [
            {
                "line": 2,
                "field": "amount",
                "message": "a buy's amount is -(quantity * price) - fee = -10; -9 was given (leave it empty to have it worked out)",
            },
            {
                "line": 3,
                "field": "amount",
                "message": "a withdrawal needs an amount, negative (its effect on cash, like -25)",
            },
            {"line": 4, "field": "account", "message": "no account 'nope' in this portfolio"},
            {
                "line": 4,
                "field": "ratio",
                "message": "a split needs a ratio above 0 (new shares per old)",
            },
        ]
    }
    with pytest.raises(InvalidInput) as oversold:
        await commit(
            state,
            tenant_id,
            pid,
            [NewTxn("sell", date(2024, 2, 1), acct, "AAPL", D("30"), D("12"))],
        )
    assert oversold.value.details == {
        "problems": [
            {
                "line": 1,
                "field": "quantity",
                "message": "selling 30 AAPL on 2024-02-01, but the account holds 20 then",
            },
        ]
    }
    with pytest.raises(InvalidInput) as mixed:
        await commit(
            state,
            tenant_id,
            pid,
            [
                NewTxn("buy", date(2024, 2, 1), acct, "AAPL", D("1"), D("9"), currency="EUR"),
                NewTxn("split", date(2024, 2, 1), acct, "MSFT", ratio=D("3")),
            ],
        )
    assert mixed.value.details == {
        "problems": [
            {
                "line": 1,
                "field": "currency",
                "message": "the account holds AAPL in USD; a trade of it in another currency would mix currencies in its cost",
            },
            {
                "line": 2,
                "field": "ratio",
                "message": "a split of MSFT on 2024-02-01, but the account holds none then",
            },
        ]
    }
    assert len(await state.query(lambda conn: ledger.list_commits(conn, tenant_id, pid))) == 1


async def test_concurrent_commits_get_distinct_seqs(portfolio_state: ApiState) -> None:
    state = portfolio_state
    tenant_id, pid, acct = await setup(state)
    done = await asyncio.gather(
        *(commit(state, tenant_id, pid, [deposit(acct, str(n))]) for n in range(1, 7))
    )
    assert sorted(c["seq"] for c in done) == [1, 2, 3, 4, 5, 6]
    commits = await state.query(lambda conn: ledger.list_commits(conn, tenant_id, pid))
    links = [(c["parent_hash"], c["hash"]) for c in reversed(commits)]
    assert [parent for parent, _ in links] == ["", *[h for _, h in links[:-1]]]
    held = await state.query(lambda conn: ledger.holdings(conn, tenant_id, pid))
    assert held.cash == {"USD": D(21)}


async def test_the_loser_of_a_race_fails_on_the_primary_key(portfolio_state: ApiState) -> None:
    """Two transactions that both read an empty ledger: the one that writes second fails on
    (portfolio_id, seq) instead of forking the chain. (SQLite lets one writer in at a time, so
    the race needs PostgreSQL's concurrent transactions.)"""
    state = portfolio_state
    if state.engine.dialect.name == "sqlite":
        pytest.skip("SQLite serializes writers: two commits never overlap")
    tenant_id, pid, acct = await setup(state)

    def work(conn: Any, amount: str) -> Any:
        return ledger_commits.commit(
            conn, tenant_id, pid, [deposit(acct, amount)], source="t", actor="a", now=state.now()
        )

    async with state.engine.connect() as one, state.engine.connect() as two:
        await one.begin()
        await two.begin()
        await work(one, "1")
        racing = asyncio.create_task(work(two, "2"))
        await asyncio.sleep(0.3)
        assert not racing.done()  # waiting on the first transaction's row
        await one.commit()
        with pytest.raises(IntegrityError):
            await racing
        await two.rollback()
    commits = await state.query(lambda conn: ledger.list_commits(conn, tenant_id, pid))
    assert [(c["seq"], c["count"]) for c in commits] == [(1, 1)]
