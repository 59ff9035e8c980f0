"""Financial Modeling Prep: daily closes of a symbol, and of a currency pair ("EURUSD"), from
`/api/v3/historical-price-full/{symbol}?from=&to=&apikey=`; a symbol's splits from
`.../stock_split/{symbol}` (`numerator` new shares for `denominator` old) and its dividends from
`.../stock_dividend/{symbol}` (`dividend`, the cash per share as paid, on its ex-date `date`).
An unknown symbol answers `{}`. The closes are as traded (not adjusted for splits or dividends:
the ledger applies those)."""

from __future__ import annotations

from datetime import date
from typing import Any

from batonflow.apps.portfolio.providers import Fetched, series_body, split_ratio
from batonflow.apps.portfolio.providers.client import ProviderClient

ACTION_PATHS = {"split": "stock_split/", "dividend": "stock_dividend/"}


class Fmp:
    name = "fmp"
    kinds = frozenset({"price", "fx", "split", "dividend"})
    attribution = "Data provided by Financial Modeling Prep (financialmodelingprep.com)"

    def __init__(self, client: ProviderClient, key: str) -> None:
        self.client, self.key = client, key

    async def fetch(self, kind: str, key: str, start: date, end: date) -> Fetched | None:
        body = await self.client.get(
            f"/api/v3/historical-price-full/{ACTION_PATHS.get(kind, '')}{key}",
            {"from": start.isoformat(), "to": end.isoformat(), "apikey": self.key},
        )
        rows = body.get("historical") if isinstance(body, dict) else None
        if not rows:
            return None
        points = [(date.fromisoformat(row["date"]), _value(kind, row)) for row in rows]
        series = series_body([p for p in points if start <= p[0] <= end])
        if not series["dates"]:
            return None
        currency = key[3:] if kind == "fx" else None
        return Fetched(kind, key, self.name, currency, series)

    async def aclose(self) -> None:
        await self.client.aclose()


def _value(kind: str, row: dict[str, Any]) -> Any:
    if kind == "split":
        return split_ratio(row.get("numerator"), row.get("denominator"))
    return row.get("dividend" if kind == "dividend" else "close")
