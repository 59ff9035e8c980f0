"""Settings: read from the environment (`BATONFLOW_*`) once, in the entry point, then passed down."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from platformdirs import user_data_dir
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_data_dir() -> Path:
    return Path(user_data_dir("batonflow", appauthor=False))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BATONFLOW_", extra="ignore")

    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str | None = Field(
        None, description="sqlite:///path.db or postgresql://user@host/db; default: a SQLite file"
    )
    sqlite_synchronous: str = "FULL"
    tenant: str = Field("default", description="the tenant the CLI acts for")
    actor: str = Field("cli", description="who the CLI records as the actor of decisions")

    apps: list[str] = Field(
        default_factory=list, description="module:function entries that register agents"
    )
    lease_seconds: float = Field(30.0, gt=0)
    heartbeat_seconds: float = Field(10.0, gt=0)
    reap_seconds: float = Field(5.0, gt=0)
    poll_seconds: float = Field(0.5, gt=0)
    concurrency: int = Field(64, ge=1, le=10_000)
    max_lost: int = Field(3, ge=1, description="lease losses before an attempt counts as failed")
    breaker_failures: int = Field(5, ge=1)
    breaker_reset_seconds: float = Field(30.0, gt=0)
    worker_id: str = Field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'batonflow.db'}"
