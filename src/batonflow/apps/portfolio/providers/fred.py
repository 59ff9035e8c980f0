"""FRED (Federal Reserve Bank of St. Louis): a macro series' observations from
`/fred/series/observations?series_id=&api_key=&file_type=json`. A day without a value reads
"."; an unknown series answers 400 "The series does not exist"."""

from __future__ import annotations

from datetime import date

from batonflow.apps.portfolio.providers import Fetched, series_body
from batonflow.apps.portfolio.providers.client import ProviderClient, ProviderFailed


class Fred:
    name = "fred"
    kinds = frozenset({"macro"})
    attribution = "Source: FRED, Federal Reserve Bank of St. Louis (fred.stlouisfed.org)"

    def __init__(self, client: ProviderClient, key: str) -> None:
        self.client, self.key = client, key

    async def fetch(self, kind: str, key: str, start: date, end: date) -> Fetched | None:
        params = {
            "series_id": key,
            "api_key": self.key,
            "file_type": "json",
            "observation_start": start.isoformat(),
            "observation_end": end.isoformat(),
        }
        try:
            body = await self.client.get("/fred/series/observations", params)
        except ProviderFailed as failed:
            said = str(failed.details.get("provider_message") or "")
            if failed.details.get("status") == 400 and "does not exist" in said:
                return None
            raise
        rows = body.get("observations") if isinstance(body, dict) else None
        points = [(date.fromisoformat(row["date"]), row.get("value")) for row in rows or []]
        series = series_body(points)
        if not series["dates"]:
            return None
        return Fetched(kind, key, self.name, None, series)

    async def aclose(self) -> None:
        await self.client.aclose()
