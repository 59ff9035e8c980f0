"""A newsapi.org-style article search: `/v2/everything?q=&from=&to=&apiKey=`, the articles
that name a symbol in the week up to the pack's date, newest first as the API sorts them. An
error answers `{"status": "error", "code": ..., "message": ...}`."""

from __future__ import annotations

from datetime import date, timedelta

from batonflow.apps.portfolio.providers import Fetched
from batonflow.apps.portfolio.providers.client import ProviderClient

WINDOW = timedelta(days=7)
PAGE = 20


class News:
    name = "news"
    kinds = frozenset({"news"})
    attribution = "Headlines via the news API (newsapi.org); each article belongs to its source"

    def __init__(self, client: ProviderClient, key: str) -> None:
        self.client, self.key = client, key

    async def fetch(self, kind: str, key: str, start: date, end: date) -> Fetched | None:
        body = await self.client.get(
            "/v2/everything",
            {
                "q": key,
                "from": max(start, end - WINDOW).isoformat(),
                "to": end.isoformat(),
                "sortBy": "publishedAt",
                "pageSize": str(PAGE),
                "apiKey": self.key,
            },
        )
        found = body.get("articles") if isinstance(body, dict) else None
        articles = [
            {
                "published_at": str(item.get("publishedAt") or ""),
                "title": str(item.get("title") or ""),
                "url": str(item.get("url") or ""),
                "source": str((item.get("source") or {}).get("name") or ""),
            }
            for item in found or []
        ]
        articles.sort(key=lambda a: (a["published_at"], a["url"]), reverse=True)
        if not articles:
            return None
        return Fetched(kind, key, self.name, None, {"articles": articles})

    async def aclose(self) -> None:
        await self.client.aclose()
