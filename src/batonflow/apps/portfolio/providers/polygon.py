"""Polygon: daily aggregates (bars) of a stock, or of a currency pair as `C:EURUSD`, from
`/v2/aggs/ticker/{ticker}/range/1/day/{from}/{to}?apiKey=`, unadjusted (the ledger applies
splits). A bar's `t` is its start in milliseconds since the epoch; `c` its close. An unknown
ticker answers no `results`. A stock's splits come from `/v3/reference/splits` (`split_to` new
shares for `split_from` old, on `execution_date`) and its cash dividends from
`/v3/reference/dividends` (`cash_amount` in `currency`, on `ex_dividend_date`), both filtered to
the dates asked."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from batonflow.apps.portfolio.providers import Fetched, series_body, split_ratio
from batonflow.apps.portfolio.providers.client import ProviderClient

ACTION_DATES = {"split": "execution_date", "dividend": "ex_dividend_date"}
ACTION_PATHS = {"split": "/v3/reference/splits", "dividend": "/v3/reference/dividends"}


class Polygon:
    name = "polygon"
    kinds = frozenset({"price", "fx", "split", "dividend"})
    attribution = "Market data provided by Polygon.io"

    def __init__(self, client: ProviderClient, key: str) -> None:
        self.client, self.key = client, key

    async def fetch(self, kind: str, key: str, start: date, end: date) -> Fetched | None:
        if kind in ACTION_PATHS:
            return await self._action(kind, key, start, end)
        ticker = f"C:{key}" if kind == "fx" else key
        body = await self.client.get(
            f"/v2/aggs/ticker/{ticker}/range/1/day/{start.isoformat()}/{end.isoformat()}",
            {"adjusted": "false", "sort": "asc", "limit": "50000", "apiKey": self.key},
        )
        bars = body.get("results") if isinstance(body, dict) else None
        if not bars:
            return None
        points = [
            (datetime.fromtimestamp(int(bar["t"]) / 1000, UTC).date(), bar.get("c")) for bar in bars
        ]
        series = series_body([p for p in points if start <= p[0] <= end])
        if not series["dates"]:
            return None
        return Fetched(kind, key, self.name, key[3:] if kind == "fx" else "USD", series)

    async def _action(self, kind: str, key: str, start: date, end: date) -> Fetched | None:
        on = ACTION_DATES[kind]
        body = await self.client.get(
            ACTION_PATHS[kind],
            {
                "ticker": key,
                f"{on}.gte": start.isoformat(),
                f"{on}.lte": end.isoformat(),
                "limit": "1000",
                "apiKey": self.key,
            },
        )
        found = body.get("results") if isinstance(body, dict) else None
        if not found:
            return None
        points = [(date.fromisoformat(item[on]), _value(kind, item)) for item in found]
        series = series_body([p for p in points if start <= p[0] <= end])
        if not series["dates"]:
            return None
        currency = str(found[0].get("currency") or "USD") if kind == "dividend" else None
        return Fetched(kind, key, self.name, currency, series)

    async def aclose(self) -> None:
        await self.client.aclose()


def _value(kind: str, item: dict[str, Any]) -> Any:
    if kind == "split":
        return split_ratio(item.get("split_to"), item.get("split_from"))
    return item.get("cash_amount")
