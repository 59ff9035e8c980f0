"""The portfolio overview's computation against a numpy floor, at 10, 100 and 1,000 positions.

    .venv/bin/python bench/portfolio.py            # a few minutes on 2 cores
    .venv/bin/python bench/portfolio.py --quick    # 10 and 100 positions, fewer repeats

Prints exactly one JSON line on stdout; progress goes to stderr.

A seeded generator makes ten years of weekday closes (a geometric random walk, 4 decimals) for
each position, a fifth of them priced in EUR with a EURUSD series, a benchmark, and a ledger: a
deposit, one buy per position in the first year, a sale of a third of a tenth of the positions,
a split of another tenth, quarterly dividends on a fifth, and a deposit and a withdrawal each
year. `ours` times what the overview runs, `valuation.daily_values` then `metrics.compute`
(Decimal values, every metric). `floor` times the same figures written directly with numpy
on the same data already in arrays (quantity and close matrices, a cash and flow column): the
cost of the arithmetic alone, without exact decimals or the ledger's replay. `floor_from_pack`
is that floor starting from the pack as it arrives (every close a Decimal): each series made a
float64 array first, which costs about what our one exact multiply-add per close does. All
report the p50 over repeats; `ratio` is ours / floor, `ratio_to_floor_from_pack` ours /
floor_from_pack, and `agree` says our final value and the floor's match to 1e-9.

`pattern` times what a user waits for (bench/portfolio_pattern.py): the same ledger and closes
in the database (a SQLite file), and `POST /api/v1/portfolio/execute` of `portfolio_overview`
answered with its result: the steps reading the ledger and the pack's series, the valuation and
metrics, every step checkpointed, the result hashed and recorded. `ratio_pattern` is pattern /
floor_from_pack, and `pattern_agrees` says its final value is ours to the cent.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import statistics
import sys
import time
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
from bench.portfolio_pattern import pattern_p50

from batonflow.apps.portfolio import metrics, valuation
from batonflow.apps.portfolio.model import PackData, Series, Txn

YEARS = 10
START = date(2015, 1, 2)


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def weekdays(years: int) -> list[date]:
    days = (START + timedelta(n) for n in range(int(years * 365.25)))
    return [d for d in days if d.weekday() < 5]


def synthesize(positions: int, seed: int = 2026) -> dict[str, Any]:
    """Closes, FX, a benchmark and a ledger; the same data as arrays for the floor."""
    rng = np.random.default_rng(seed)
    days = weekdays(YEARS)
    n = len(days)
    steps = rng.normal(0.0003, 0.015, (n, positions))
    closes = np.round(rng.uniform(10, 500, positions) * np.exp(np.cumsum(steps, axis=0)), 4)
    eur = rng.random(positions) < 0.2
    eurusd = np.round(1.1 * np.exp(np.cumsum(rng.normal(0, 0.004, n))), 6)
    splits = set(rng.choice(positions, max(1, positions // 10), replace=False).tolist())
    closes[n // 2 :, sorted(splits)] = np.round(closes[n // 2 :, sorted(splits)] / 2, 4)
    symbols = [f"S{i:04d}" for i in range(positions)]
    ccy = ["EUR" if e else "USD" for e in eur]

    txns: list[Txn] = []
    qty = np.zeros((n, positions))
    cash = {"USD": np.zeros(n), "EUR": np.zeros(n)}
    flows = np.zeros(n)

    def book(kind: str, at: int, symbol: int | None, q: float, amount: float, cur: str) -> None:
        name = None if symbol is None else symbols[symbol]
        quantity = None if kind not in ("buy", "sell") else Decimal(f"{q:.0f}")
        price = None if quantity is None else Decimal(f"{closes[at, symbol]:.4f}")
        amount_d = Decimal(f"{amount:.4f}")
        ratio = Decimal(2) if kind == "split" else None
        txns.append(
            Txn(kind, days[at], "acc", name, quantity, price, amount_d, Decimal(0), cur, ratio)
        )
        cash[cur][at:] += float(amount_d)
        if kind in ("deposit", "withdrawal"):
            rate = 1.0 if cur == "USD" else eurusd[at]
            flows[at] += float(amount_d) * rate

    book("deposit", 0, None, 0, 1_000_000.0 * positions, "USD")
    book("deposit", 0, None, 0, 300_000.0 * positions, "EUR")
    bought = rng.integers(10, 500, positions).astype(float)
    for s in range(positions):
        at = int(rng.integers(0, 250))
        book("buy", at, s, bought[s], -round(bought[s] * closes[at, s], 4), ccy[s])
    for s in rng.choice(positions, max(1, positions // 10), replace=False).tolist():
        at, q = int(rng.integers(300, n - 1)), float(bought[s] // 3)
        book("sell", at, s, q, round(q * closes[at, s], 4), ccy[s])
    for s in sorted(splits):
        book("split", n // 2, s, 0, 0.0, ccy[s])
    for s in rng.choice(positions, max(1, positions // 5), replace=False).tolist():
        for at in range(300, n, 63):
            book("dividend", at, s, 0, round(0.5 * closes[at, s], 4), ccy[s])
    for year in range(1, YEARS):
        book("deposit", year * 261, None, 0, 10_000.0 * positions, "USD")
        book("withdrawal", year * 261 + 130, None, 0, -5_000.0 * positions, "USD")
    txns.sort(key=lambda t: t.trade_date)
    index, column = {d: i for i, d in enumerate(days)}, {name: i for i, name in enumerate(symbols)}
    for t in txns:  # the floor's quantities, replayed in date order like the ledger
        if t.symbol is not None:
            at, s = index[t.trade_date], column[t.symbol]
            if t.kind == "split":
                qty[at:, s] *= 2
            elif t.quantity is not None:
                qty[at:, s] += float(t.quantity) if t.kind == "buy" else -float(t.quantity)

    def series(key: str, values: np.ndarray, digits: int, cur: str | None) -> Series:
        text = (f"{v:.{digits}f}" for v in values.tolist())
        return Series(key, tuple(days), tuple(Decimal(t) for t in text), "bench", cur)

    bench = np.round(100 * np.exp(np.cumsum(rng.normal(0.0003, 0.01, n))), 4)
    pack = PackData(
        pack_id="bench",
        as_of=days[-1],
        prices={symbols[s]: series(symbols[s], closes[:, s], 4, ccy[s]) for s in range(positions)},
        fx={"EURUSD": series("EURUSD", eurusd, 6, None)},
    )
    return {
        "txns": txns,
        "pack": pack,
        "benchmark": series("BENCH", bench, 4, "USD"),
        "arrays": {
            "closes": closes,
            "quantities": qty,
            "rate": np.where(eur, 1.0, 0.0)[None, :] * eurusd[:, None] + (~eur)[None, :],
            "cash": cash["USD"] + cash["EUR"] * eurusd,
            "flows": flows,
            "bench": bench,
            "days": np.array([(d - days[0]).days for d in days], dtype=float),
        },
    }


def ours(data: dict[str, Any]) -> tuple[float, dict[str, Any]]:
    valued = valuation.daily_values(data["txns"], data["pack"], "USD")
    return float(valued.values[-1]), metrics.compute(valued, data["benchmark"])


def floor(a: dict[str, Any], ppy: int = 252) -> tuple[float, dict[str, float]]:
    """The same figures straight from arrays: values, TWR returns, and the statistics."""
    values = (a["quantities"] * a["closes"] * a["rate"]).sum(axis=1) + a["cash"]
    r = (values[1:] - a["flows"][1:]) / values[:-1] - 1.0
    wealth = np.concatenate([[1.0], np.cumprod(1.0 + r)])
    falls = wealth / np.maximum.accumulate(wealth) - 1.0
    rb = np.diff(a["bench"]) / a["bench"][:-1]
    std = r.std(ddof=1)
    weights = a["quantities"][-1] * a["closes"][-1] * a["rate"][-1] / values[-1]
    years = a["days"][-1] / 365.25
    return float(values[-1]), {
        "twr": float(wealth[-1] - 1.0),
        "twr_annualized": float(wealth[-1] ** (1 / years) - 1.0),
        "volatility": float(std * math.sqrt(ppy)),
        "sharpe": float(r.mean() / std * math.sqrt(ppy)),
        "sortino": float(r.mean() * ppy / (np.sqrt(np.mean(np.minimum(r, 0) ** 2)) * ppy**0.5)),
        "max_drawdown": float(falls.min()),
        "beta": float(np.cov(r, rb)[0, 1] / rb.var(ddof=1)),
        "correlation": float(np.corrcoef(r, rb)[0, 1]),
        "herfindahl": float((weights**2).sum()),
    }


def floor_from_pack(data: dict[str, Any]) -> tuple[float, dict[str, float]]:
    """The floor, but starting from the pack's exact closes: each series made a float array."""
    pack, a = data["pack"], data["arrays"]
    closes = np.column_stack([np.array(s.values, dtype=np.float64) for s in pack.prices.values()])
    eurusd = np.array(pack.fx["EURUSD"].values, dtype=np.float64)
    bench = np.array(data["benchmark"].values, dtype=np.float64)
    eur = np.array([s.currency == "EUR" for s in pack.prices.values()])
    rate = np.where(eur, 1.0, 0.0)[None, :] * eurusd[:, None] + (~eur)[None, :]
    return floor(a | {"closes": closes, "bench": bench, "rate": rate})


def p50(run: Any, repeats: int) -> tuple[float, Any]:
    samples, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = run()
        samples.append(time.perf_counter() - started)
    return round(statistics.median(samples) * 1000, 2), result


def main(quick: bool) -> dict[str, Any]:
    sizes = (10, 100) if quick else (10, 100, 1000)
    out: dict[str, Any] = {"benchmark": "portfolio", "years": YEARS, "sizes": {}}
    for size in sizes:
        say(f"synthesizing {size} positions")
        data = synthesize(size)
        repeats = 3 if quick or size >= 1000 else 7
        ours_ms, (our_value, _) = p50(lambda d=data: ours(d), repeats)
        floor_ms, (floor_value, _) = p50(lambda d=data: floor(d["arrays"]), max(repeats, 20))
        from_pack_ms, _ = p50(lambda d=data: floor_from_pack(d), repeats)
        pattern_ms, pattern_value = asyncio.run(pattern_p50(data, repeats))
        out["days"] = len(data["pack"].fx["EURUSD"].dates)
        out["sizes"][str(size)] = {
            "transactions": len(data["txns"]),
            "ours_p50_ms": ours_ms,
            "floor_p50_ms": floor_ms,
            "ratio": round(ours_ms / floor_ms, 1),
            "floor_from_pack_p50_ms": from_pack_ms,
            "ratio_to_floor_from_pack": round(ours_ms / from_pack_ms, 2),
            "agree": abs(our_value - floor_value) <= 1e-9 * abs(floor_value),
            "pattern_p50_ms": pattern_ms,
            "ratio_pattern": round(pattern_ms / from_pack_ms, 2),
            "pattern_agrees": abs(pattern_value - our_value) <= 0.01,
        }
        say(json.dumps(out["sizes"][str(size)]))
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="10 and 100 positions only")
    print(json.dumps(main(parser.parse_args().quick), separators=(",", ":")), flush=True)
