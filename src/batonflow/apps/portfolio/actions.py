"""The pack's corporate actions held against the ledger. Closes are stored as traded, so a split
the ledger does not book leaves the position's quantity unchanged while its price falls by the
ratio: the valuation drops for a reason that is not a loss. `unbooked_splits` lists each split
of the pack in a symbol the ledger held (over all accounts) the day before it, for which the
ledger books no split of that symbol within `WINDOW` days of the pack's date (custodians book a
split on its ex-date or a few days after). The overview reports them beside its figures, so a
reader knows which values to doubt and what to book."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from decimal import Decimal, localcontext
from typing import Any

from .model import PackData, Txn
from .valuation import CONTEXT

WINDOW = timedelta(days=7)


def unbooked_splits(txns: list[Txn], pack: PackData) -> list[dict[str, str]]:
    """The pack's splits the ledger lacks, oldest first: `{symbol, date, ratio, held, source}`,
    `held` being the quantity before the split."""
    booked: dict[str, list[Any]] = defaultdict(list)
    for txn in txns:
        if txn.kind == "split" and txn.symbol:
            booked[txn.symbol].append(txn.trade_date)
    out = []
    for action in pack.actions:
        if action["kind"] != "split":
            continue
        symbol, day = action["symbol"], action["date"]
        if any(abs(booked_on - day) <= WINDOW for booked_on in booked[symbol]):
            continue
        held = _held_before(txns, symbol, day)
        if held > 0:
            out.append(
                {
                    "symbol": symbol,
                    "date": day.isoformat(),
                    "ratio": str(action["value"]),
                    "held": str(held),
                    "source": action["source"],
                }
            )
    return out


def _held_before(txns: list[Txn], symbol: str, day: Any) -> Decimal:
    """The quantity of `symbol` over all accounts after the transactions dated before `day`."""
    by_account: dict[str, Decimal] = defaultdict(Decimal)
    with localcontext(CONTEXT):
        for txn in sorted(txns, key=lambda t: t.trade_date):
            if txn.symbol != symbol or txn.trade_date >= day:
                continue
            if txn.kind == "split" and txn.ratio is not None:
                by_account[txn.account_id] *= txn.ratio
            elif txn.kind in ("buy", "sell") and txn.quantity is not None:
                sign = 1 if txn.kind == "buy" else -1
                by_account[txn.account_id] += sign * abs(txn.quantity)
        return sum(by_account.values(), Decimal(0))
