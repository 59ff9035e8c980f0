"""Settings: read from the environment (`BATONFLOW_*`) once, in the entry point, then passed down."""

from __future__ import annotations

import os
import socket
from decimal import Decimal
from pathlib import Path

from platformdirs import user_data_dir
from pydantic import Field, SecretStr
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

    # -- the LLM gateway (see README "Models and routes") --------------------------------------
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = Field(
        None, description="an OpenAI-compatible server (Ollama, vLLM, LM Studio, llama.cpp)"
    )
    anthropic_api_key: SecretStr | None = None
    anthropic_base_url: str | None = None
    llm_compat: dict[str, str] = Field(
        default_factory=dict,
        description='more OpenAI-compatible providers by name: {"ollama": "http://host:11434/v1"}',
    )
    llm_routes: dict[str, list[str]] = Field(
        default_factory=dict, description='named fallback chains: {"smart": ["anthropic:...", ...]}'
    )
    llm_default: str | None = Field(
        None, description="route or provider:model for steps that name none"
    )
    llm_timeout: float = Field(60.0, gt=0, description="seconds per model call")
    llm_max_retries: int = Field(3, ge=0, le=20)
    llm_retry_initial: float = Field(0.5, ge=0)
    llm_retry_max: float = Field(8.0, ge=0)
    llm_retry_max_wait: float = Field(
        30.0, ge=0, description="a longer Retry-After makes the gateway fall back instead"
    )
    llm_output_retries: int = Field(2, ge=0, le=10)
    llm_breaker_failures: int = Field(5, ge=1)
    llm_breaker_reset_seconds: float = Field(30.0, gt=0)
    llm_redact: list[str] = Field(
        default_factory=list, description="regular expressions removed from stored bodies"
    )
    local_model_path: Path | None = Field(None, description="a GGUF file instead of SmolLM2")
    local_threads: int | None = Field(None, ge=1)
    local_context: int = Field(2048, ge=256)
    price_table: Path | None = None
    run_budget_tokens: int | None = Field(None, ge=1)
    run_budget_usd: Decimal | None = Field(None, gt=0)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'batonflow.db'}"
