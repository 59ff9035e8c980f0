"""The scoping app's settings, from `BATONFLOW_SCOPING_*`."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ScopingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BATONFLOW_SCOPING_", extra="ignore")

    model: str | None = Field(
        None, description="route or provider:model the agents use; unset: the gateway's default"
    )
    user_concurrent: int = Field(
        1, ge=1, le=100, description="stage executions a user may have running at once"
    )
    user_hourly: int = Field(100, ge=1, description="stage executions a user may start an hour")
    installation_hourly: int = Field(
        10_000, ge=1, description="stage executions the whole installation may start an hour"
    )
