"""Where a pricing pack's data comes from. Each provider gives some kinds of series (`price`
closes by symbol, `fx` rates by pair, the corporate actions `split` (new shares per old share,
on the ex-date) and `dividend` (cash per share, on the ex-date) by symbol, `macro` series by id,
`news` by symbol) as `Fetched` rows, or None for a key it does not know or that has no data in
the dates asked; `open_providers` builds the ones `providers` names, in that order (the first
that knows a key gives it):

    offline   bundled real history, no network, no key (offline.py)
    fmp       Financial Modeling Prep daily prices, FX, splits and dividends (fmp.py)
    polygon   Polygon daily aggregates (stocks and FX), splits and dividends (polygon.py)
    fred      FRED macro series (fred.py)
    news      a newsapi.org-style article search (news.py)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation, localcontext
from typing import Any, Protocol

from pydantic import SecretStr

from batonflow.apps.portfolio.providers.client import Backoff, ProviderClient
from batonflow.apps.portfolio.settings import PortfolioSettings
from batonflow.errors import ConfigError

KINDS = ("price", "fx", "split", "dividend", "macro", "news")
ACTIONS = frozenset({"split", "dividend"})  # corporate actions: most symbols have none


@dataclass(frozen=True, slots=True)
class Fetched:
    """One series of a pack, as stored in `portfolio_pack_series`."""

    kind: str
    key: str
    source: str
    currency: str | None
    body: dict[str, Any]  # series: {"dates": [ISO...], "values": [decimal strings]}


class Provider(Protocol):
    name: str
    kinds: frozenset[str]
    attribution: str

    async def fetch(self, kind: str, key: str, start: date, end: date) -> Fetched | None: ...

    async def aclose(self) -> None: ...


def client_for(
    settings: PortfolioSettings, name: str, base_url: str, backoff: Backoff | None
) -> ProviderClient:
    return ProviderClient(
        name,
        base_url,
        rate=settings.provider_rate,
        retries=settings.provider_retries,
        timeout=settings.provider_timeout,
        backoff=backoff,
    )


def key_of(settings: PortfolioSettings, name: str) -> str:
    """The provider's API key; a `ConfigError` naming the setting when it is missing."""
    secret: SecretStr | None = getattr(settings, f"{name}_key")
    if secret is None or not secret.get_secret_value():
        raise ConfigError(
            f"the data provider '{name}' is configured (BATONFLOW_PORTFOLIO_PROVIDERS) but has "
            f"no key: set BATONFLOW_PORTFOLIO_{name.upper()}_KEY"
        )
    return secret.get_secret_value()


def names_of(settings: PortfolioSettings) -> list[str]:
    names = [n.strip().lower() for n in settings.providers.split(",") if n.strip()]
    unknown = [n for n in names if n not in FACTORIES]
    if unknown or not names:
        raise ConfigError(
            f"BATONFLOW_PORTFOLIO_PROVIDERS names {', '.join(unknown) or 'nothing'}; "
            f"the providers are {', '.join(FACTORIES)}"
        )
    return list(dict.fromkeys(names))


def open_providers(settings: PortfolioSettings, backoff: Backoff | None = None) -> list[Provider]:
    """The configured providers, in order (close each with `aclose`). Every key is checked
    before any client is built."""
    names = names_of(settings)
    for name in names:
        if name != "offline":
            key_of(settings, name)
    return [FACTORIES[name](settings, backoff) for name in names]


def _offline(settings: PortfolioSettings, backoff: Backoff | None) -> Provider:
    from batonflow.apps.portfolio.providers.offline import Offline

    return Offline(delay=settings.offline_delay)


def _fmp(settings: PortfolioSettings, backoff: Backoff | None) -> Provider:
    from batonflow.apps.portfolio.providers.fmp import Fmp

    return Fmp(client_for(settings, "fmp", settings.fmp_url, backoff), key_of(settings, "fmp"))


def _polygon(settings: PortfolioSettings, backoff: Backoff | None) -> Provider:
    from batonflow.apps.portfolio.providers.polygon import Polygon

    client = client_for(settings, "polygon", settings.polygon_url, backoff)
    return Polygon(client, key_of(settings, "polygon"))


def _fred(settings: PortfolioSettings, backoff: Backoff | None) -> Provider:
    from batonflow.apps.portfolio.providers.fred import Fred

    return Fred(client_for(settings, "fred", settings.fred_url, backoff), key_of(settings, "fred"))


def _news(settings: PortfolioSettings, backoff: Backoff | None) -> Provider:
    from batonflow.apps.portfolio.providers.news import News

    return News(client_for(settings, "news", settings.news_url, backoff), key_of(settings, "news"))


FACTORIES: dict[str, Callable[[PortfolioSettings, Backoff | None], Provider]] = {
    "offline": _offline,
    "fmp": _fmp,
    "polygon": _polygon,
    "fred": _fred,
    "news": _news,
}


def decimal_text(value: Any) -> str | None:
    """A provider's number as canonical decimal text ("185.64"), None for a missing one (FRED
    writes "." for a day without a value)."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = Decimal(str(value)) if isinstance(value, int | str) else Decimal(value)
    except (InvalidOperation, TypeError):
        return None
    return format(number.normalize(), "f") if number.is_finite() else None


def split_ratio(new: Any, old: Any) -> str | None:
    """A split's new shares per old share as decimal text ("4" for 4-for-1, "0.1" for 1-for-10),
    None when either side is not a positive number. A ratio that does not end (2-for-3) keeps 28
    significant digits."""
    to, of = decimal_text(new), decimal_text(old)
    if to is None or of is None or Decimal(to) <= 0 or Decimal(of) <= 0:
        return None
    with localcontext(Context(prec=28, rounding=ROUND_HALF_EVEN)):
        return decimal_text(Decimal(to) / Decimal(of))


def series_body(points: list[tuple[date, Any]]) -> dict[str, Any]:
    """A series body from (date, number) points: sorted by date, one value a date, missing
    values dropped."""
    by_date = {}
    for day, value in sorted(points, key=lambda p: p[0]):
        text = decimal_text(value)
        if text is not None:
            by_date[day] = text
    return {"dates": [d.isoformat() for d in by_date], "values": list(by_date.values())}
