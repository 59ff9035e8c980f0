"""A portfolio's market value day by day: the ledger replayed over a pricing pack.

`daily_values(txns, pack, base_currency)` walks the valuation dates and holds, at each one, the
quantity of every symbol and the cash of every currency that the transactions dated on or before
it leave (model.py gives the signs). The valuation dates are the union of the dates of the pack's
price series from the first transaction's date to `pack.as_of`; a transaction dated between two
of them counts from the next one, and transactions after the last price date add `pack.as_of`
itself. Transactions after `pack.as_of` are not counted: the valuation is as of the pack.

- Quantities: a buy adds its quantity, a sell removes it, a split multiplies the account's
  quantity of the symbol by its ratio on the split's date. The pack's closes are read as traded
  (not split-adjusted) closes, which is what makes a split neutral for the value.
- Prices: the last close on or before the date (carried forward over a symbol's missing days).
  Holding a symbol on a date before its first close is an error naming the symbol and the date.
- Currencies: a position is priced in its series' currency (else its first trade's currency) and
  converted to the base currency with the pack's FX series on the date: "EURUSD" is USD per EUR,
  so EUR -> USD multiplies by it and, without that pair, divides by "USDEUR". Rates carry forward
  like prices.
- Value: the sum of the positions' values plus every currency's cash, all in base currency.
- Flows: deposits (positive) and withdrawals (negative) converted on the date they count from;
  time-weighted returns remove them (see metrics.py).

Arithmetic is `Decimal` under one explicit context (28 significant digits, half-even), so the
result never depends on the caller's decimal context and is the same to the byte on every run.
Sums and products of the ledger's and the pack's numbers are exact at that precision; only an
inverse FX rate and a weight are divisions, rounded there. Nothing is quantized here: reports
round (metrics.py quantizes money to 0.01 of the base currency).

The per-date sum of quantity x price is the hot path (days x positions); `_currency_totals` is
its one seam. It does one exact multiply and add per close held, in C-level loops: turning the
pack's Decimal closes into float arrays first costs about as much (bench/portfolio.py measures
both), so a faster path needs packs that carry arrays, not a float shortcut here.
"""

from __future__ import annotations

import bisect
import itertools
import operator
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext
from typing import Any, cast

from batonflow.errors import InvalidInput

from .model import FLOWS, KINDS, PackData, Series, Txn

CONTEXT = Context(prec=28, rounding=ROUND_HALF_EVEN)
ZERO = Decimal(0)
ONE = Decimal(1)
Dates = tuple[date, ...]


@dataclass(frozen=True, slots=True)
class PositionValue:
    """One symbol at the last valuation date, over all accounts."""

    symbol: str
    quantity: Decimal
    price: Decimal  # the close used, in `currency`
    currency: str
    value: Decimal  # market value in the base currency
    weight: Decimal  # value / the portfolio's total value (cash included); 0 if that is 0


@dataclass(frozen=True, slots=True)
class Valuation:
    """A portfolio's values by date, in the base currency, and its composition at the end."""

    base_currency: str
    dates: tuple[date, ...]
    values: tuple[Decimal, ...]  # market value (positions + cash) at each date
    flows: tuple[Decimal, ...]  # external flows counted at each date (deposits +, withdrawals -)
    positions: tuple[PositionValue, ...]  # non-zero holdings at the last date, largest first
    cash: dict[str, Decimal]  # at the last date, by currency, in that currency
    by_currency: dict[str, Decimal]  # at the last date: positions + cash by currency, in base


def daily_values(txns: list[Txn], pack: PackData, base_currency: str) -> Valuation:
    """Replay `txns` over `pack` and value the portfolio at every valuation date."""
    with localcontext(CONTEXT):
        return _value(txns, pack, base_currency.upper())


def _value(txns: list[Txn], pack: PackData, base: str) -> Valuation:
    for txn in txns:
        if txn.kind not in KINDS:
            raise InvalidInput(f"unknown transaction kind {txn.kind!r}; expected one of {KINDS}")
    counted = sorted((t for t in txns if t.trade_date <= pack.as_of), key=lambda t: t.trade_date)
    if not counted:
        raise InvalidInput(f"no transaction on or before the pack's date {pack.as_of} to value")
    dates = tuple(_dates(pack, counted[0].trade_date, counted[-1].trade_date))
    slot = [bisect.bisect_left(dates, t.trade_date) for t in counted]  # the date each counts from

    quantities, cash_steps, flows = _replay(counted, slot, len(dates), pack, base, dates)
    currencies = {s: _currency(s, pack, counted) for s in quantities}
    prices = {s: pack.prices.get(s) for s in quantities}
    totals = _currency_totals(dates, quantities, prices, currencies)
    cash = _cash_by_date(cash_steps)
    for ccy, amounts in cash.items():
        column = totals.setdefault(ccy, [ZERO] * len(dates))
        totals[ccy] = list(map(operator.add, column, amounts))
    values = [ZERO] * len(dates)
    for ccy, column in sorted(totals.items()):
        values = list(map(operator.add, values, _converted(pack, column, ccy, base, dates)))

    last = len(dates) - 1
    at_end = {s: q[last] for s, q in quantities.items() if q[last] != 0}
    total = values[last]
    positions = []
    by_currency: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for symbol, quantity in at_end.items():
        price = _price_on(pack.prices[symbol], dates[last])
        value = _convert(pack, quantity * price, currencies[symbol], base, dates[last])
        weight = value / total if total else ZERO
        positions.append(PositionValue(symbol, quantity, price, currencies[symbol], value, weight))
        by_currency[currencies[symbol]] += value
    end_cash = {ccy: amounts[last] for ccy, amounts in sorted(cash.items())}
    for ccy, amount in end_cash.items():
        by_currency[ccy] += _convert(pack, amount, ccy, base, dates[last])
    positions.sort(key=lambda p: (-p.value, p.symbol))
    return Valuation(
        base_currency=base,
        dates=dates,
        values=tuple(values),
        flows=tuple(flows),
        positions=tuple(positions),
        cash=end_cash,
        by_currency=dict(sorted(by_currency.items())),
    )


def _dates(pack: PackData, first: date, last_txn: date) -> list[date]:
    """The valuation dates: every price date in [first, as_of], and as_of after late trades."""
    union: set[date] = set()
    for series in pack.prices.values():
        union.update(series.dates)
    dates = sorted(d for d in union if first <= d <= pack.as_of)
    if not dates or last_txn > dates[-1]:
        dates.append(pack.as_of)
    return dates


def _replay(
    txns: list[Txn], slot: list[int], n: int, pack: PackData, base: str, dates: Dates
) -> tuple[dict[str, list[Decimal]], dict[str, list[Decimal]], list[Decimal]]:
    """Quantity per symbol per date, cash changes per currency per date, flows per date."""
    held: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)  # (account, symbol)
    totals: dict[str, Decimal] = defaultdict(lambda: ZERO)  # symbol -> over all accounts
    steps: dict[str, list[tuple[int, Decimal]]] = defaultdict(list)  # symbol -> (slot, total)
    cash: dict[str, list[Decimal]] = {}
    flows = [ZERO] * n
    for txn, at in zip(txns, slot, strict=True):
        if txn.amount:
            ccy = txn.currency.upper()
            if ccy not in cash:
                cash[ccy] = [ZERO] * n
            cash[ccy][at] += txn.amount
        if txn.kind in FLOWS:
            flows[at] += _convert(pack, txn.amount, txn.currency, base, dates[at])
        if txn.kind in ("buy", "sell", "split"):
            if not txn.symbol:
                raise InvalidInput(f"a {txn.kind} on {txn.trade_date} names no symbol")
            key = (txn.account_id, txn.symbol)
            before = held[key]
            held[key] = _apply(txn, before)
            totals[txn.symbol] += held[key] - before
            steps[txn.symbol].append((at, totals[txn.symbol]))
    quantities = {}
    for symbol, changes in steps.items():
        column = [ZERO] * n
        for (at, total), nxt in zip(changes, [*(c[0] for c in changes[1:]), n], strict=True):
            column[at:nxt] = [total] * (nxt - at)
        quantities[symbol] = column
    return quantities, cash, flows


def _apply(txn: Txn, quantity: Decimal) -> Decimal:
    if txn.kind == "split":
        if txn.ratio is None or txn.ratio <= 0:
            raise InvalidInput(f"the split of {txn.symbol} on {txn.trade_date} needs a ratio > 0")
        return quantity * txn.ratio
    if txn.quantity is None:
        raise InvalidInput(f"the {txn.kind} of {txn.symbol} on {txn.trade_date} has no quantity")
    return quantity + abs(txn.quantity) if txn.kind == "buy" else quantity - abs(txn.quantity)


def _cash_by_date(steps: dict[str, list[Decimal]]) -> dict[str, list[Decimal]]:
    """Running cash balance per currency from its changes per date."""
    return {ccy: list(itertools.accumulate(changes)) for ccy, changes in steps.items()}


def _currency_totals(
    dates: Dates,
    quantities: dict[str, list[Decimal]],
    prices: dict[str, Series | None],
    currencies: dict[str, str],
) -> dict[str, list[Decimal]]:
    """Sum of quantity x carried-forward close per currency per date, exact.

    The hot path: one multiply and one add per symbol and date, only over the stretch from the
    first to the last date the symbol is held, in chained C-level `map` loops (no intermediate
    list). `Decimal.fma` measured slower than the two operations.
    """
    n = len(dates)
    totals: dict[str, list[Decimal]] = {}
    for symbol in sorted(quantities):
        held = quantities[symbol]
        first = next((i for i, q in enumerate(held) if q), None)
        if first is None:
            continue
        stop = n - next(i for i, q in enumerate(reversed(held)) if q)
        closes = _carried(prices[symbol], dates)
        if closes[first] is None:  # closes are None only before the first one
            raise InvalidInput(
                f"no price for {symbol} on or before {dates[first]}, when it is held"
            )
        known = cast(Sequence[Decimal], closes[first:stop])
        column = totals.setdefault(currencies[symbol], [ZERO] * n)
        products = map(operator.mul, known, held[first:stop])
        column[first:stop] = map(operator.add, column[first:stop], products)
    return totals


def _converted(
    pack: PackData, column: list[Decimal], ccy: str, base: str, dates: Dates
) -> list[Decimal]:
    """`column` (amounts of `ccy`, one per date) in `base`, like `_convert` but a whole column
    at once: the rates carried forward once, then one C-level multiply or divide per date."""
    if ccy == base:
        return column
    for pair, invert in ((ccy + base, False), (base + ccy, True)):
        series = pack.fx.get(pair)
        if series is None:
            continue
        rates = _carried(series, dates)
        missing = next((i for i, v in enumerate(column) if v and rates[i] is None), None)
        if missing is not None:
            raise InvalidInput(f"no {pair} rate on or before {dates[missing]}")
        filled = [ONE if r is None else r for r in rates] if rates[0] is None else rates
        return list(map(operator.truediv if invert else operator.mul, column, filled))
    raise InvalidInput(f"the pack has no FX series {ccy}{base} or {base}{ccy} to convert {ccy}")


def _carried(series: Series | None, dates: Dates) -> Sequence[Decimal | None]:
    """The series' last value on or before each date (None before its first)."""
    if series is None or not series.dates:
        return [None] * len(dates)
    start = bisect.bisect_left(series.dates, dates[0])
    stop = start + len(dates)
    if series.dates[start:stop] == dates:  # the same calendar: nothing to carry
        return series.values[start:stop]
    out: list[Decimal | None] = []
    at = bisect.bisect_right(series.dates, dates[0]) - 1
    last = series.values[at] if at >= 0 else None
    at += 1
    for d in dates:
        while at < len(series.dates) and series.dates[at] <= d:
            last, at = series.values[at], at + 1
        out.append(last)
    return out


def _price_on(series: Series, day: date) -> Decimal:
    at = bisect.bisect_right(series.dates, day) - 1
    return series.values[at]


def _currency(symbol: str, pack: PackData, txns: Iterable[Txn]) -> str:
    series = pack.prices.get(symbol)
    if series is not None and series.currency:
        return series.currency.upper()
    return next(t.currency for t in txns if t.symbol == symbol).upper()


def _convert(pack: PackData, amount: Decimal, ccy: str, base: str, day: date) -> Decimal:
    """`amount` of `ccy` in `base` on `day`, at the last fixing on or before it: times the
    direct pair, else divided by the inverse pair (no rounded 1/rate in between)."""
    ccy = ccy.upper()
    if ccy == base:
        return amount
    for pair, invert in ((ccy + base, False), (base + ccy, True)):
        series = pack.fx.get(pair)
        if series is None:
            continue
        at = bisect.bisect_right(series.dates, day) - 1
        if at < 0:
            raise InvalidInput(f"no {pair} rate on or before {day}")
        return amount / series.values[at] if invert else amount * series.values[at]
    raise InvalidInput(f"the pack has no FX series {ccy}{base} or {base}{ccy} to convert {ccy}")


def sources_used(txns: Iterable[Txn], pack: PackData, base_currency: str) -> list[str]:
    """The sources of the pack's series a valuation of `txns` reads: the closes and the splits
    (`actions.py`) of the symbols traded and the FX pair (direct, else inverse, as `_convert`
    picks it) of every currency other than the base. A pack's other series (another symbol,
    macro, news) are not used by it, so their licences do not bind the result."""
    base = base_currency.upper()
    txns = list(txns)
    traded = {t.symbol for t in txns if t.symbol}
    used = {a["source"] for a in pack.actions if a["kind"] == "split" and a["symbol"] in traded}
    currencies = {t.currency.upper() for t in txns}
    for symbol in traded:
        series = pack.prices.get(symbol)
        if series is not None:
            used.add(series.source)
            currencies.add((series.currency or base).upper())
    for ccy in currencies - {base}:
        pair = pack.fx.get(ccy + base) or pack.fx.get(base + ccy)
        if pair is not None:
            used.add(pair.source)
    return sorted(used)


def to_json(valuation: Valuation) -> dict[str, Any]:
    """The valuation as JSON (decimals as exact strings, dates ISO), to hand it from one step
    of a run to the next; `from_json` gives it back unchanged."""
    return {
        "base_currency": valuation.base_currency,
        "dates": [day.isoformat() for day in valuation.dates],
        "values": [str(value) for value in valuation.values],
        "flows": [str(flow) for flow in valuation.flows],
        "positions": [
            {
                "symbol": p.symbol,
                "quantity": str(p.quantity),
                "price": str(p.price),
                "currency": p.currency,
                "value": str(p.value),
                "weight": str(p.weight),
            }
            for p in valuation.positions
        ],
        "cash": {ccy: str(amount) for ccy, amount in valuation.cash.items()},
        "by_currency": {ccy: str(amount) for ccy, amount in valuation.by_currency.items()},
    }


def from_json(data: dict[str, Any]) -> Valuation:
    return Valuation(
        base_currency=data["base_currency"],
        dates=tuple(date.fromisoformat(day) for day in data["dates"]),
        values=tuple(map(Decimal, data["values"])),
        flows=tuple(map(Decimal, data["flows"])),
        positions=tuple(
            PositionValue(
                p["symbol"],
                Decimal(p["quantity"]),
                Decimal(p["price"]),
                p["currency"],
                Decimal(p["value"]),
                Decimal(p["weight"]),
            )
            for p in data["positions"]
        ),
        cash={ccy: Decimal(amount) for ccy, amount in data["cash"].items()},
        by_currency={ccy: Decimal(amount) for ccy, amount in data["by_currency"].items()},
    )
