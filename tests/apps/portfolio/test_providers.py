"""The data providers against a loopback server speaking each one's wire format
(`providers_server.py`): what each returns, how a 429 with Retry-After, a 500 that never ends,
a refused key and a dead server go, the pacing, the missing-key error; and the offline
provider's bundled history."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import pytest
from pydantic import SecretStr

from batonflow.apps.portfolio.providers import Fetched, Provider, open_providers
from batonflow.apps.portfolio.providers.client import Backoff
from batonflow.apps.portfolio.providers.offline import Offline
from batonflow.apps.portfolio.settings import PortfolioSettings
from batonflow.errors import ConfigError, StepFailed
from tests.apps.portfolio.providers_server import KEY, Fail, ProvidersServer

FAST = Backoff(initial=0.01, max=0.02)
D1, D2, D3 = date(2024, 1, 2), date(2024, 1, 3), date(2024, 1, 4)


@pytest.fixture
async def server() -> AsyncIterator[ProvidersServer]:
    async with ProvidersServer(
        prices={"AAPL": [(D1, 185.64), (D2, 184.25), (D3, 181.91)], "C:EURUSD": [(D1, 1.0945)]},
        macro={"DGS10": [(D1, "3.95"), (D2, "."), (D3, "3.99")]},
        news={
            "AAPL": [
                {
                    "source": {"id": None, "name": "Example Wire"},
                    "author": "A. Writer",
                    "title": "Apple ships a thing",
                    "url": "https://news.example/apple-1",
                    "publishedAt": "2024-01-03T14:00:00Z",
                    "content": "...",
                }
            ]
        },
    ) as running:
        yield running


def settings_for(server: ProvidersServer, providers: str, **more: Any) -> PortfolioSettings:
    key = SecretStr(KEY)
    values: dict[str, Any] = {
        "providers": providers,
        "provider_rate": 1000.0,
        "provider_retries": 2,
        "provider_timeout": 5.0,
    }
    for name in ("fmp", "polygon", "fred", "news"):
        values[f"{name}_key"] = key
        values[f"{name}_url"] = server.url
    return PortfolioSettings(**(values | more))


async def one(settings: PortfolioSettings) -> Provider:
    (provider,) = open_providers(settings, FAST)
    return provider


async def fetch(settings: PortfolioSettings, kind: str, key: str) -> Fetched | None:
    provider = await one(settings)
    try:
        return await provider.fetch(kind, key, D1, D3)
    finally:
        await provider.aclose()


SERIES = {
    "dates": ["2024-01-02", "2024-01-03", "2024-01-04"],
    "values": ["185.64", "184.25", "181.91"],
}


async def test_each_provider_reads_its_wire_format(server: ProvidersServer) -> None:
    assert await fetch(settings_for(server, "fmp"), "price", "AAPL") == Fetched(
        "price", "AAPL", "fmp", None, SERIES
    )
    assert await fetch(settings_for(server, "polygon"), "price", "AAPL") == Fetched(
        "price", "AAPL", "polygon", "USD", SERIES
    )
    assert await fetch(settings_for(server, "polygon"), "fx", "EURUSD") == Fetched(
        "fx", "EURUSD", "polygon", "USD", {"dates": ["2024-01-02"], "values": ["1.0945"]}
    )
    assert await fetch(settings_for(server, "fred"), "macro", "DGS10") == Fetched(
        "macro",
        "DGS10",
        "fred",
        None,
        {"dates": ["2024-01-02", "2024-01-04"], "values": ["3.95", "3.99"]},
    )
    assert await fetch(settings_for(server, "news"), "news", "AAPL") == Fetched(
        "news",
        "AAPL",
        "news",
        None,
        {
            "articles": [
                {
                    "published_at": "2024-01-03T14:00:00Z",
                    "title": "Apple ships a thing",
                    "url": "https://news.example/apple-1",
                    "source": "Example Wire",
                }
            ]
        },
    )
    assert [(r.path, r.query) for r in server.requests] == [
        (
            "/api/v3/historical-price-full/AAPL",
            {"from": "2024-01-02", "to": "2024-01-04", "apikey": KEY},
        ),
        (
            "/v2/aggs/ticker/AAPL/range/1/day/2024-01-02/2024-01-04",
            {"adjusted": "false", "sort": "asc", "limit": "50000", "apiKey": KEY},
        ),
        (
            "/v2/aggs/ticker/C:EURUSD/range/1/day/2024-01-02/2024-01-04",
            {"adjusted": "false", "sort": "asc", "limit": "50000", "apiKey": KEY},
        ),
        (
            "/fred/series/observations",
            {
                "series_id": "DGS10",
                "api_key": KEY,
                "file_type": "json",
                "observation_start": "2024-01-02",
                "observation_end": "2024-01-04",
            },
        ),
        (
            "/v2/everything",
            {
                "q": "AAPL",
                "from": "2024-01-02",
                "to": "2024-01-04",
                "sortBy": "publishedAt",
                "pageSize": "20",
                "apiKey": KEY,
            },
        ),
    ]


async def test_fmp_and_polygon_read_splits_and_dividends() -> None:
    async with ProvidersServer(
        splits={
            "AAPL": [(date(2020, 8, 31), 4, 1), (D2, 3, 2)],  # the first before the dates asked
            "GE": [(D1, 1, 8)],  # a reverse split
            "XYZ": [(D3, 2, 3)],  # a ratio that does not end
        },
        dividends={"AAPL": [(date(2023, 11, 10), 0.24), (D3, 0.25)]},
    ) as server:
        got = {
            name: [
                await fetch(settings_for(server, name), kind, key)
                for kind, key in [
                    ("split", "AAPL"),
                    ("split", "GE"),
                    ("split", "XYZ"),
                    ("dividend", "AAPL"),
                    ("dividend", "MSFT"),
                ]
            ]
            for name in ("fmp", "polygon")
        }
        asked = [(r.path, r.query) for r in server.requests if r.path.startswith("/v3")]
    splits = [
        ("AAPL", {"dates": ["2024-01-03"], "values": ["1.5"]}),
        ("GE", {"dates": ["2024-01-02"], "values": ["0.125"]}),
        ("XYZ", {"dates": ["2024-01-04"], "values": ["0.6666666666666666666666666667"]}),
    ]
    dividend = {"dates": ["2024-01-04"], "values": ["0.25"]}
    assert got == {
        "fmp": [
            *(Fetched("split", key, "fmp", None, body) for key, body in splits),
            Fetched("dividend", "AAPL", "fmp", None, dividend),
            None,
        ],
        "polygon": [
            *(Fetched("split", key, "polygon", None, body) for key, body in splits),
            Fetched("dividend", "AAPL", "polygon", "USD", dividend),
            None,
        ],
    }
    window = {"limit": "1000", "apiKey": KEY}
    assert asked[0] == (
        "/v3/reference/splits",
        {"ticker": "AAPL", "execution_date.gte": "2024-01-02", "execution_date.lte": "2024-01-04"}
        | window,
    )
    assert asked[3] == (
        "/v3/reference/dividends",
        {
            "ticker": "AAPL",
            "ex_dividend_date.gte": "2024-01-02",
            "ex_dividend_date.lte": "2024-01-04",
        }
        | window,
    )


async def test_an_unknown_key_is_none_not_an_error(server: ProvidersServer) -> None:
    assert await fetch(settings_for(server, "fmp"), "price", "NOPE") is None
    assert await fetch(settings_for(server, "polygon"), "price", "NOPE") is None
    assert await fetch(settings_for(server, "fred"), "macro", "NOPE") is None
    assert await fetch(settings_for(server, "news"), "news", "NOPE") is None


async def test_a_429_waits_its_retry_after_then_succeeds(server: ProvidersServer) -> None:
    server.script(Fail(429, retry_after="0.3", message="Limit Reach"))
    started = time.monotonic()
    found = await fetch(settings_for(server, "fmp"), "price", "AAPL")
    assert (found.body if found else None, len(server.requests)) == (SERIES, 2)
    assert time.monotonic() - started >= 0.3  # the provider's wait, not the 0.01 s backoff


async def test_a_500_that_persists_fails_naming_provider_and_status(
    server: ProvidersServer,
) -> None:
    server.script(*[Fail(500, message="internal trouble")] * 3)
    with pytest.raises(StepFailed) as failed:
        await fetch(settings_for(server, "polygon"), "price", "AAPL")
    assert (failed.value.message, failed.value.instance_retryable, failed.value.details) == (
        "the data provider 'polygon' failed: GET "
        "/v2/aggs/ticker/AAPL/range/1/day/2024-01-02/2024-01-04 answered 500: internal trouble "
        "(after 3 attempts)",
        True,
        {"provider": "polygon", "status": 500, "provider_message": "internal trouble"},
    )
    assert len(server.requests) == 3  # the first try and provider_retries=2


@pytest.mark.parametrize(
    ("provider", "kind", "status", "said"),
    [
        (
            "fmp",
            "price",
            401,
            "Invalid API KEY. Feel free to create a Free API Key or visit our FAQ.",
        ),
        ("polygon", "price", 401, "Unknown API Key"),
        (
            "fred",
            "macro",
            400,
            "Bad Request.  The value for variable api_key is not registered.  Read "
            "https://fred.stlouisfed.org/docs/api/api_key.html for more information.",
        ),
        (
            "news",
            "news",
            401,
            "Your API key is invalid or incorrect. Check your key, or go to newsapi.org.",
        ),
    ],
)
async def test_a_refused_key_is_not_retried(
    server: ProvidersServer, provider: str, kind: str, status: int, said: str
) -> None:
    settings = settings_for(server, provider, **{f"{provider}_key": SecretStr("wrong")})
    key = "DGS10" if kind == "macro" else "AAPL"
    with pytest.raises(StepFailed) as failed:
        await fetch(settings, kind, key)
    hint = f"; check BATONFLOW_PORTFOLIO_{provider.upper()}_KEY" if status == 401 else ""
    path = server.requests[0].path
    assert (failed.value.message, failed.value.instance_retryable, failed.value.details) == (
        f"the data provider '{provider}' failed: GET {path} answered {status}: {said}{hint}",
        False,
        {"provider": provider, "status": status, "provider_message": said},
    )
    assert len(server.requests) == 1
    assert "wrong" not in failed.value.message


async def test_a_dead_server_is_retried_then_fails() -> None:
    async with ProvidersServer() as gone:
        settings = settings_for(gone, "fmp")
    with pytest.raises(StepFailed) as failed:
        await fetch(settings, "price", "AAPL")
    assert failed.value.instance_retryable is True
    assert failed.value.message.startswith(
        "the data provider 'fmp' failed: GET /api/v3/historical-price-full/AAPL could not connect: "
    )
    assert failed.value.message.endswith("(after 3 attempts)")


async def test_requests_are_paced_to_the_provider_rate(server: ProvidersServer) -> None:
    provider = await one(settings_for(server, "fmp", provider_rate=20.0))
    started = time.monotonic()
    try:
        await asyncio.gather(*(provider.fetch("price", "AAPL", D1, D3) for _ in range(5)))
    finally:
        await provider.aclose()
    assert time.monotonic() - started >= 0.2  # 5 requests at 20 a second: 4 intervals
    assert len(server.requests) == 5


def test_a_provider_without_its_key_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as refused:
        open_providers(PortfolioSettings(providers="offline,polygon"))
    assert refused.value.message == (
        "the data provider 'polygon' is configured (BATONFLOW_PORTFOLIO_PROVIDERS) but has no "
        "key: set BATONFLOW_PORTFOLIO_POLYGON_KEY"
    )
    with pytest.raises(ConfigError) as unknown:
        open_providers(PortfolioSettings(providers="offline,yahoo"))
    assert unknown.value.message == (
        "BATONFLOW_PORTFOLIO_PROVIDERS names yahoo; the providers are offline, fmp, polygon, "
        "fred, news"
    )


async def test_the_offline_provider_reads_the_bundled_history() -> None:
    offline = Offline()
    assert offline.symbols() == ["AAPL", "AMZN", "GOOG", "IBM", "MSFT"]
    found = await offline.fetch("price", "MSFT", date(2000, 1, 1), date(2000, 3, 31))
    assert found == Fetched(
        "price",
        "MSFT",
        "offline",
        "USD",
        {
            "dates": ["2000-01-01", "2000-02-01", "2000-03-01"],
            "values": ["39.81", "36.35", "43.22"],
        },
    )
    vix = await offline.fetch("macro", "VIXCLS", date(2009, 6, 1), date(2009, 6, 3))
    assert vix == Fetched(
        "macro",
        "VIXCLS",
        "offline",
        None,
        {
            "dates": ["2009-06-01", "2009-06-02", "2009-06-03"],
            "values": ["30.04", "29.63", "31.02"],
        },
    )
    assert await offline.fetch("price", "TSLA", date(2000, 1, 1), date(2010, 1, 1)) is None
    assert await offline.fetch("fx", "EURUSD", date(2000, 1, 1), date(2010, 1, 1)) is None


async def test_the_offline_delay_makes_every_answer_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BATONFLOW_PORTFOLIO_OFFLINE_DELAY", "0.3")
    [slow] = open_providers(PortfolioSettings())
    started = time.monotonic()
    found = await slow.fetch("price", "MSFT", date(2000, 1, 1), date(2000, 1, 31))
    waited = time.monotonic() - started
    assert found == await Offline().fetch("price", "MSFT", date(2000, 1, 1), date(2000, 1, 31))
    assert waited >= 0.3
    started = time.monotonic()
    assert await slow.fetch("price", "TSLA", date(2000, 1, 1), date(2000, 1, 31)) is None
    assert time.monotonic() - started >= 0.3
    with pytest.raises(ValueError, match="less than or equal to 60"):
        PortfolioSettings(offline_delay=61)
    with pytest.raises(ValueError, match="greater than or equal to 0"):
        PortfolioSettings(offline_delay=-1)
