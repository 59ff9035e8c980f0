"""The portfolio app's settings, from `BATONFLOW_PORTFOLIO_*`."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class PortfolioSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BATONFLOW_PORTFOLIO_", extra="ignore")

    providers: str = Field(
        "offline",
        description="the data providers a pack is built from, comma separated: offline, fmp, "
        "polygon, fred, news",
    )
    fmp_key: SecretStr | None = Field(None, description="Financial Modeling Prep API key")
    fmp_url: str = Field("https://financialmodelingprep.com", description="FMP base URL")
    polygon_key: SecretStr | None = Field(None, description="Polygon API key")
    polygon_url: str = Field("https://api.polygon.io", description="Polygon base URL")
    fred_key: SecretStr | None = Field(None, description="FRED API key")
    fred_url: str = Field("https://api.stlouisfed.org", description="FRED base URL")
    news_key: SecretStr | None = Field(None, description="news API key")
    news_url: str = Field("https://newsapi.org", description="news API base URL")
    offline_delay: float = Field(
        0.0,
        ge=0,
        le=60,
        description="seconds the offline provider waits before answering, to rehearse a slow "
        "provider in demos and tests",
    )
    provider_rate: float = Field(
        5.0, gt=0, description="requests a second each provider is sent at most"
    )
    provider_retries: int = Field(3, ge=0, le=10, description="retries of a failed request")
    provider_timeout: float = Field(20.0, gt=0, description="seconds a provider request may take")
    pack_estimate: float = Field(
        60.0, gt=0, description="seconds a pack build is estimated to take before one finished"
    )
    execute_timeout: float = Field(
        30.0, gt=0, le=600, description="seconds a synchronous execute waits for its run"
    )
    risk_free_rate: float = Field(
        0.0, ge=0, le=1, description="the annual risk-free rate for Sharpe and Sortino"
    )
    custodian_urls: str = Field(
        "",
        description="base URLs custodian statements may be fetched from by the scheduled "
        "reconciliation, comma separated; a statement URL must start with one of them",
    )
    custodian_key: SecretStr | None = Field(
        None, description="bearer token sent with statement requests, if the custodian wants one"
    )
    model: str | None = Field(
        None, description="route or provider:model the narrative agents use; unset: the default"
    )
