"""Polygon: daily aggregates (bars) of a stock, or of a currency pair as `C:EURUSD`, from
`/v2/aggs/ticker/{ticker}/range/1/day/{from}/{to}?apiKey=`, unadjusted (the ledger applies
splits). A bar's `t` is its start in milliseconds since the epoch; `c` its close. An unknown
ticker answers no `results`."""

from __future__ import annotations

from datetime import UTC, date, datetime

from batonflow.apps.portfolio.providers import Fetched, series_body
from batonflow.apps.portfolio.providers.client import ProviderClient


class Polygon:
    name = "polygon"
    kinds = frozenset({"price", "fx"})
    attribution = "Market data provided by Polygon.io"

    def __init__(self, client: ProviderClient, key: str) -> None:
        self.client, self.key = client, key

    async def fetch(self, kind: str, key: str, start: date, end: date) -> Fetched | None:
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

    async def aclose(self) -> None:
        await self.client.aclose()
