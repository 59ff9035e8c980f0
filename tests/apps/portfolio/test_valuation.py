"""The ledger replayed over a pack, checked against values worked by hand: a sale, a split on
its date, a dividend, a EUR deposit and purchase converted to USD, a close and an FX rate
carried forward, and the errors for a missing price or rate."""

from __future__ import annotations

import json
from datetime import date
from decimal import Context, Decimal, localcontext

import pytest

from batonflow.apps.portfolio.model import PackData, Series, Txn
from batonflow.apps.portfolio.valuation import (
    CONTEXT,
    PositionValue,
    Valuation,
    daily_values,
    from_json,
    sources_used,
    to_json,
)
from batonflow.errors import InvalidInput

D = Decimal
D1, D2, D3, D4 = date(2024, 1, 31), date(2024, 2, 29), date(2024, 3, 28), date(2024, 4, 30)


def series(key: str, points: dict[date, str], currency: str | None = None) -> Series:
    return Series(key, tuple(points), tuple(D(v) for v in points.values()), "test", currency)


def txn(
    kind: str,
    day: date,
    amount: str,
    currency: str = "USD",
    *,
    symbol: str | None = None,
    quantity: int | None = None,
    price: int | None = None,
    fee: int = 0,
    ratio: int | None = None,
    account: str = "acc-1",
) -> Txn:
    def exact(v: int | None) -> Decimal | None:
        return None if v is None else D(v)

    return Txn(
        kind,
        day,
        account,
        symbol,
        exact(quantity),
        exact(price),
        D(amount),
        D(fee),
        currency,
        exact(ratio),
    )


PACK = PackData(
    pack_id="pack-1",
    as_of=D4,
    prices={
        # AAA splits 2:1 on D4: the pack's closes are as traded
        "AAA": series("AAA", {D1: "10", D2: "11", D3: "12", D4: "6.5"}, "USD"),
        "BBB": series("BBB", {D1: "20", D2: "22", D3: "25"}, "EUR"),  # no D4 close: carried
    },
    fx={"EURUSD": series("EURUSD", {D1: "1.10", D2: "1.05", D3: "1.10"})},  # D4 carried
)

LEDGER = [
    txn("deposit", date(2024, 1, 10), "1000"),  # counts from D1
    txn("buy", D1, "-501", symbol="AAA", quantity=50, price=10, fee=1),
    txn("sell", D2, "109", symbol="AAA", quantity=10, price=11, fee=1),
    txn("deposit", date(2024, 3, 5), "500", "EUR", account="acc-2"),  # counts from D3
    txn("buy", D3, "-250", "EUR", symbol="BBB", quantity=10, price=25, account="acc-2"),
    txn("dividend", date(2024, 4, 15), "25", symbol="AAA"),
    txn("split", D4, "0", symbol="AAA", ratio=2),
    txn("deposit", date(2024, 5, 6), "999"),  # after the pack's date: not counted
]


def test_a_ledger_valued_by_hand() -> None:
    with localcontext(CONTEXT):
        weight_aaa, weight_bbb = D(520) / D(1703), D(275) / D(1703)
    assert daily_values(LEDGER, PACK, "usd") == Valuation(
        base_currency="USD",
        dates=(D1, D2, D3, D4),
        # D1: 499 cash + 50 x 10; D2: 608 + 40 x 11; D3: 608 + 40 x 12 + (250 + 10 x 25) x 1.10;
        # D4: 633 + 80 x 6.5 + (250 + 10 x 25) x 1.10 (BBB's close and the rate carried)
        values=(D("999"), D("1048"), D("1638.00"), D("1703.000")),
        flows=(D("1000"), D("0"), D("550.00"), D("0")),
        positions=(
            PositionValue("AAA", D("80"), D("6.5"), "USD", D("520.0"), weight_aaa),
            PositionValue("BBB", D("10"), D("25"), "EUR", D("275.00"), weight_bbb),
        ),
        cash={"EUR": D("250"), "USD": D("633")},
        by_currency={"EUR": D("550.00"), "USD": D("1153.0")},
    )


def test_the_sources_used_are_those_of_the_series_read() -> None:
    def source(found: Series, name: str) -> Series:
        return Series(found.key, found.dates, found.values, name, found.currency)

    pack = PackData(
        "pack-3",
        D4,
        prices={
            "AAA": source(PACK.prices["AAA"], "fmp"),
            "BBB": source(PACK.prices["BBB"], "polygon"),
            "CCC": series("CCC", {D1: "5"}),  # not traded: its source is not used
        },
        fx={"USDEUR": source(series("USDEUR", {D1: "0.9"}), "fred")},
        macro={"DGS10": series("DGS10", {D1: "4.0"})},
        sources=("fmp", "fred", "news", "polygon", "test"),
    )
    assert [
        sources_used(LEDGER[:3], pack, "USD"),
        sources_used(LEDGER, pack, "USD"),  # BBB in EUR: converted by the inverse pair
        sources_used([txn("deposit", D1, "5", "EUR")], pack, "EUR"),
    ] == [["fmp"], ["fmp", "fred", "polygon"], []]


def test_the_caller_decimal_context_changes_nothing() -> None:
    expected = daily_values(LEDGER, PACK, "USD")
    with localcontext(Context(prec=3)):
        assert daily_values(LEDGER, PACK, "USD") == expected


def test_the_inverse_pair_converts_into_the_base_currency() -> None:
    ledger = [txn("deposit", D1, "110"), txn("deposit", D2, "20", "EUR")]
    valued = daily_values(ledger, PACK, "EUR")
    with localcontext(CONTEXT):
        on_d2 = D(110) / D("1.05") + 20  # dollars divided by EURUSD, not times a rounded inverse
    assert (valued.dates, valued.values, valued.flows, valued.by_currency) == (
        (D1, D2, D3, D4),
        (D(100), on_d2, D(120), D(120)),
        (D(100), D(20), D(0), D(0)),
        {"EUR": D(20), "USD": D(100)},
    )


def test_trades_after_the_last_close_count_on_the_pack_date() -> None:
    pack = PackData("pack-2", date(2024, 5, 10), prices=PACK.prices, fx=PACK.fx)
    ledger = [txn("deposit", D3, "100"), txn("withdrawal", date(2024, 5, 2), "-40")]
    valued = daily_values(ledger, pack, "USD")
    assert (valued.dates, valued.values, valued.flows) == (
        (D3, D4, date(2024, 5, 10)),
        (D(100), D(100), D(60)),
        (D(100), D(0), D(-40)),
    )


def test_a_split_multiplies_only_the_account_it_is_booked_in() -> None:
    ledger = [
        txn("buy", D1, "-100", symbol="AAA", quantity=10, price=10),
        txn("buy", D1, "-50", symbol="AAA", quantity=5, price=10, account="acc-2"),
        txn("split", D4, "0", symbol="AAA", ratio=2),
    ]
    assert daily_values(ledger, PACK, "USD").positions[0].quantity == D(25)


def test_holding_a_symbol_before_its_first_close_names_it() -> None:
    closes = {"CCC": series("CCC", {D3: "5", D4: "6"}, "USD"), "AAA": PACK.prices["AAA"]}
    pack = PackData("pack-3", D4, prices=closes)
    ledger = [txn("deposit", D1, "100"), txn("buy", D2, "-50", symbol="CCC", quantity=10)]
    with pytest.raises(InvalidInput) as raised:
        daily_values(ledger, pack, "USD")
    assert str(raised.value) == "no price for CCC on or before 2024-02-29, when it is held"


def test_a_currency_without_a_rate_is_refused() -> None:
    with pytest.raises(InvalidInput) as raised:
        daily_values([txn("deposit", D1, "100", "GBP")], PACK, "USD")
    assert str(raised.value) == ("the pack has no FX series GBPUSD or USDGBP to convert GBP")


def test_an_empty_ledger_is_refused() -> None:
    with pytest.raises(InvalidInput) as raised:
        daily_values([txn("deposit", date(2024, 6, 1), "1")], PACK, "USD")
    assert str(raised.value) == "no transaction on or before the pack's date 2024-04-30 to value"


def test_a_valuation_survives_its_json_form_unchanged() -> None:
    valued = daily_values(LEDGER, PACK, "USD")
    carried = from_json(json.loads(json.dumps(to_json(valued))))
    assert carried == valued
    assert [str(value) for value in carried.values] == [str(value) for value in valued.values]
