"""A real HTTP server on loopback that speaks the wire formats of the portfolio app's data
providers, for their tests:

    FMP      GET /api/v3/historical-price-full/{symbol}?from=&to=&apikey=
             GET /api/v3/historical-price-full/stock_split/{symbol}?apikey=
             GET /api/v3/historical-price-full/stock_dividend/{symbol}?apikey=
    Polygon  GET /v2/aggs/ticker/{ticker}/range/1/day/{from}/{to}?apiKey=
             GET /v3/reference/splits?ticker=&execution_date.gte=&execution_date.lte=&apiKey=
             GET /v3/reference/dividends?ticker=&ex_dividend_date.gte=&ex_dividend_date.lte=
    FRED     GET /fred/series/observations?series_id=&api_key=&file_type=json
    news     GET /v2/everything?q=&from=&to=&apiKey=

Each answers from `prices` (by symbol, or `C:EURUSD` style for Polygon's FX), `splits` (date,
new shares, old shares), `dividends` (date, cash per share), `macro` and `news`, with the
provider's own shapes: FMP's newest-first `historical` ({} for an unknown symbol; every split or
dividend of the symbol, unfiltered, as FMP sends them), Polygon's `results` bars with
millisecond `t` and its reference `results` filtered by the `.gte`/`.lte` dates, FRED's string `value`s ("." when
missing; 400 "The series does not exist" for an unknown id), newsapi's `articles`. A wrong key
gets each provider's refusal (FMP and Polygon 401, FRED 400, news 401). `script(Fail(...))`
queues failures that the next requests take first. Every request is kept in `requests`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

KEY = "test-key-not-a-secret"  # pragma: allowlist secret


@dataclass(frozen=True)
class Fail:
    status: int
    retry_after: str | None = None
    message: str = "scripted failure"


@dataclass
class Seen:
    path: str
    query: dict[str, str]


@dataclass
class ProvidersServer:
    prices: dict[str, list[tuple[date, float]]] = field(default_factory=dict)
    splits: dict[str, list[tuple[date, int, int]]] = field(default_factory=dict)
    dividends: dict[str, list[tuple[date, float]]] = field(default_factory=dict)
    macro: dict[str, list[tuple[date, str]]] = field(default_factory=dict)
    news: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    key: str = KEY
    requests: list[Seen] = field(default_factory=list)
    port: int = 0
    _script: deque[Fail] = field(default_factory=deque)
    _server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def script(self, *failures: Fail) -> None:
        self._script.extend(failures)

    async def __aenter__(self) -> ProvidersServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 1)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                target = line.decode("latin-1").split(" ")[1]
                while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                    pass
                parts = urlsplit(target)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                path = unquote(parts.path)
                self.requests.append(Seen(path, query))
                status, body, headers = self._answer(path, query)
                raw = json.dumps(body).encode()
                head = [
                    f"HTTP/1.1 {status} {'OK' if status == 200 else 'Error'}",
                    "content-type: application/json",
                    f"content-length: {len(raw)}",
                    *(f"{k}: {v}" for k, v in headers.items()),
                ]
                writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + raw)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    def _answer(self, path: str, q: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        if self._script:
            failed = self._script.popleft()
            headers = {"retry-after": failed.retry_after} if failed.retry_after else {}
            return failed.status, {"message": failed.message}, headers
        if path.startswith("/api/v3/historical-price-full/stock_"):
            return self._fmp_action(path.split("/")[4], path.rsplit("/", 1)[1], q)
        if path.startswith("/api/v3/historical-price-full/"):
            return self._fmp(path.rsplit("/", 1)[1], q)
        if path.startswith("/v2/aggs/ticker/"):
            return self._polygon(path.split("/"), q)
        if path in ("/v3/reference/splits", "/v3/reference/dividends"):
            return self._polygon_action(path.rsplit("/", 1)[1], q)
        if path == "/fred/series/observations":
            return self._fred(q)
        if path == "/v2/everything":
            return self._news(q)
        return 404, {"message": f"no route {path}"}, {}

    @staticmethod
    def _within(points: list[tuple[date, Any]], start: str, end: str) -> list[tuple[date, Any]]:
        first, last = date.fromisoformat(start), date.fromisoformat(end)
        return [(d, v) for d, v in points if first <= d <= last]

    def _fmp(self, symbol: str, q: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        if q.get("apikey") != self.key:
            message = "Invalid API KEY. Feel free to create a Free API Key or visit our FAQ."
            return 401, {"Error Message": message}, {}
        if symbol not in self.prices:
            return 200, {}, {}
        points = self._within(self.prices[symbol], q["from"], q["to"])
        rows = [
            {"date": d.isoformat(), "open": v, "high": v, "low": v, "close": v, "volume": 1000}
            for d, v in reversed(points)
        ]
        return 200, {"symbol": symbol, "historical": rows}, {}

    def _fmp_action(
        self, which: str, symbol: str, q: dict[str, str]
    ) -> tuple[int, Any, dict[str, str]]:
        if q.get("apikey") != self.key:
            message = "Invalid API KEY. Feel free to create a Free API Key or visit our FAQ."
            return 401, {"Error Message": message}, {}
        if which == "stock_split":
            rows = [
                {
                    "date": d.isoformat(),
                    "label": d.strftime("%B %d, %y"),
                    "numerator": new,
                    "denominator": old,
                }
                for d, new, old in self.splits.get(symbol, [])
            ]
        else:
            rows = [
                {
                    "date": d.isoformat(),
                    "label": d.strftime("%B %d, %y"),
                    "adjDividend": cash,
                    "dividend": cash,
                    "recordDate": "",
                    "paymentDate": "",
                    "declarationDate": "",
                }
                for d, cash in self.dividends.get(symbol, [])
            ]
        if not rows:
            return 200, {}, {}
        return 200, {"symbol": symbol, "historical": rows[::-1]}, {}

    def _polygon_action(self, which: str, q: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        if q.get("apiKey") != self.key:
            return 401, {"status": "ERROR", "request_id": "r1", "error": "Unknown API Key"}, {}
        on = "execution_date" if which == "splits" else "ex_dividend_date"
        ticker = q["ticker"]
        if which == "splits":
            found = [
                (d, {"split_from": old, "split_to": new})
                for d, new, old in self.splits.get(ticker, [])
            ]
        else:
            found = [
                (d, {"cash_amount": cash, "currency": "USD", "dividend_type": "CD", "frequency": 4})
                for d, cash in self.dividends.get(ticker, [])
            ]
        within = self._within(found, q[f"{on}.gte"], q[f"{on}.lte"])
        results = [{on: d.isoformat(), "ticker": ticker, **item} for d, item in within]
        return 200, {"results": results, "status": "OK", "request_id": "r3"}, {}

    def _polygon(self, parts: list[str], q: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        ticker, start, end = parts[4], parts[8], parts[9]
        if q.get("apiKey") != self.key:
            return 401, {"status": "ERROR", "request_id": "r1", "error": "Unknown API Key"}, {}
        points = self._within(self.prices.get(ticker, []), start, end)
        bars = [
            {
                "v": 1000,
                "o": v,
                "c": v,
                "h": v,
                "l": v,
                "t": int(datetime(d.year, d.month, d.day, 4, tzinfo=UTC).timestamp() * 1000),
                "n": 10,
            }
            for d, v in points
        ]
        body: dict[str, Any] = {
            "ticker": ticker,
            "queryCount": len(bars),
            "resultsCount": len(bars),
            "adjusted": q.get("adjusted") == "true",
            "status": "OK",
            "request_id": "r2",
        }
        if bars:
            body["results"] = bars
        return 200, body, {}

    def _fred(self, q: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        if q.get("api_key") != self.key:
            message = (
                "Bad Request.  The value for variable api_key is not registered.  Read "
                "https://fred.stlouisfed.org/docs/api/api_key.html for more information."
            )
            return 400, {"error_code": 400, "error_message": message}, {}
        series = q["series_id"]
        if series not in self.macro:
            message = "Bad Request.  The series does not exist."
            return 400, {"error_code": 400, "error_message": message}, {}
        points = self._within(self.macro[series], q["observation_start"], q["observation_end"])
        rows = [
            {
                "realtime_start": q["observation_end"],
                "realtime_end": q["observation_end"],
                "date": d.isoformat(),
                "value": v,
            }
            for d, v in points
        ]
        return 200, {"units": "lin", "count": len(rows), "observations": rows}, {}

    def _news(self, q: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        if q.get("apiKey") != self.key:
            message = "Your API key is invalid or incorrect. Check your key, or go to newsapi.org."
            return 401, {"status": "error", "code": "apiKeyInvalid", "message": message}, {}
        articles = self.news.get(q["q"], [])
        return 200, {"status": "ok", "totalResults": len(articles), "articles": articles}, {}
