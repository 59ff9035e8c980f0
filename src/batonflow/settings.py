"""Settings: read from the environment (`BATONFLOW_*`) once, in the entry point, then passed down."""

from __future__ import annotations

import json
import os
import socket
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from platformdirs import user_data_dir
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEV_SECRET = SecretStr("batonflow-dev-secret-do-not-use-in-production")


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

    apps: Annotated[list[str] | None, NoDecode] = Field(
        None,
        description="enabled apps, comma separated (sales,scoping); unset: every installed app",
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
    local_context: int = Field(
        8192, ge=256, description="tokens of prompt and reply together; SmolLM2 is trained on 8192"
    )
    price_table: Path | None = None
    run_budget_tokens: int | None = Field(None, ge=1)
    run_budget_usd: Decimal | None = Field(None, gt=0)

    # -- retrieval (see docs/retrieval.md) ----------------------------------------------------
    embeddings_base_url: str | None = Field(
        None,
        description="an OpenAI-compatible embeddings API (https://host/v1) for openai:<model> "
        "knowledge bases",
    )
    embeddings_api_key: SecretStr | None = None
    rerank_base_url: str | None = Field(
        None, description="a rerank API (Cohere or Jina, https://host/v1) for `rerank: hosted`"
    )
    rerank_api_key: SecretStr | None = None
    rerank_model: str = Field("rerank-v3.5", description="the hosted reranker's model")

    # -- the HTTP API (see README "The HTTP API") ----------------------------------------------
    dev: bool = Field(False, description="development mode: allows the built-in secret key")
    secret_key: SecretStr = Field(
        DEV_SECRET, description="signs access tokens (HS256); at least 32 characters"
    )
    jwt_issuer: str = "batonflow"
    jwt_audience: str = "batonflow-api"
    access_token_seconds: int = Field(900, ge=30, le=86_400)
    refresh_token_seconds: int = Field(30 * 86_400, ge=60)
    invitation_seconds: int = Field(7 * 86_400, ge=60)
    refresh_reuse_grace_seconds: float = Field(
        0.0,
        ge=0,
        le=60,
        description="0: any reuse of a refresh token revokes its sign-in; above 0, a reuse this "
        "soon after the rotation is taken for a race (two tabs) and only refused",
    )
    refresh_cookie_secure: Literal["auto", "always", "never"] = Field(
        "auto",
        description="the Secure flag of the refresh-token cookie: auto sets it when the request "
        "came over https (as the trusted proxy says), always sets it, never leaves it off",
    )
    open_registration: bool = Field(
        True,
        description="true: anyone may register a new tenant; false: only invited people register",
    )
    argon2_time_cost: int = Field(2, ge=1, description="OWASP: m=19 MiB, t=2, p=1")
    argon2_memory_kib: int = Field(19_456, ge=8)
    argon2_parallelism: int = Field(1, ge=1)
    cors_origins: str = Field(
        "",
        description="comma-separated origins (https://app.example.com) whose browser scripts may "
        "call the API; empty: none (the dashboard is served from the API's own origin)",
    )
    trusted_proxies: str = Field(
        "",
        description="comma-separated addresses of the reverse proxies whose X-Forwarded-For "
        "names the client (`*` for any); empty: the header is ignored and the peer is the client",
    )
    host: str = "127.0.0.1"
    port: int = Field(8420, ge=0, le=65_535)
    executor: str = Field(
        "inprocess",
        description="inprocess: `serve` runs the executor; none: polling workers do; celery: "
        "`batonflow worker --queues` processes do, woken through the broker",
    )
    broker_url: str | None = Field(
        None,
        description="redis://host:6379/1 or amqp://host:5672// (credentials in the URL): the Celery broker",
    )
    queue_routes: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=dict,
        description="steps to Celery queues by agent, capability, tool or step kind: "
        "sdr=agents.sdr,invoice.issue=agents.finance (or a JSON object)",
    )
    default_queue: str = Field("batonflow", description="the queue of steps no route names")
    republish_seconds: float = Field(
        30.0,
        gt=0,
        description="a ready step published this long ago and still unclaimed is published again",
    )
    scheduler: bool = Field(
        True,
        description="whether `serve` (with the in-process executor) and `worker` fire schedules",
    )
    scheduler_poll_seconds: float = Field(1.0, gt=0, description="how often schedulers look")
    redis_url: str | None = Field(
        None, description="redis://host:6379/0: rate limits shared across replicas"
    )
    rate_limit_user: str = Field("600/minute", description="requests per user or API key")
    rate_limit_tenant: str = Field("3000/minute", description="requests per tenant")
    rate_limit_global: str = Field("30000/minute", description="requests to this API, in all")
    rate_limit_login: str = Field(
        "10/minute", description="login and refresh attempts per account and per client address"
    )
    rate_limit_register: str = Field(
        "20/hour", description="registration attempts per email address and per client address"
    )
    max_body_bytes: int = Field(1_048_576, ge=1024, description="larger request bodies get 413")
    max_page_size: int = Field(200, ge=1, le=10_000)
    tenant_max_active_runs: int = Field(
        200, ge=1, description="queued, running or waiting runs a tenant may have at once"
    )
    max_map_items: int = Field(1000, ge=1, description="items one `map` step may have")
    max_workflow_depth: int = Field(5, ge=0, description="how deep sub-workflows may nest")
    max_runs_per_root: int = Field(
        200, ge=1, description="runs one top-level run may make, its sub-workflow runs included"
    )

    # -- tools and outbound HTTP (see docs/security.md) ----------------------------------------
    allow_private_hosts: str = Field(
        "",
        description="comma-separated hosts or networks (127.0.0.1, 10.0.0.0/8, intranet.example) "
        "that tools may reach although private, loopback or link-local (`*` for all); empty: none",
    )
    outbound_max_bytes: int = Field(
        10 * 1024 * 1024, ge=1024, description="the largest answer a tool or provider may send"
    )

    # -- observability (see README "Operating Batonflow") --------------------------------------
    log_format: Literal["json", "console"] | None = Field(
        None, description="json or console; default: console on a terminal (or in dev), else json"
    )
    log_level: str | None = Field(
        None, description="DEBUG, INFO, WARNING...; default: INFO for serve, WARNING otherwise"
    )
    otlp_endpoint: str | None = Field(
        None, description="OTLP/HTTP collector (http://host:4318): traces on; unset: off"
    )
    service_name: str = Field("batonflow", description="service.name of traces and Sentry")
    sentry_dsn: SecretStr | None = Field(None, description="report unexpected errors to Sentry")
    sentry_environment: str | None = None
    metrics_token: SecretStr | None = Field(
        None, description="bearer token that may read /metrics; unset: /metrics answers 404"
    )
    worker_metrics_port: int | None = Field(
        None, ge=0, le=65_535, description="`batonflow worker` serves /metrics on host:port"
    )

    @field_validator("apps", mode="before")
    @classmethod
    def _split_apps(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [name.strip() for name in value.split(",") if name.strip()]
        return value

    @field_validator("queue_routes", mode="before")
    @classmethod
    def _parse_routes(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        if value.lstrip().startswith("{"):
            return json.loads(value)
        routes: dict[str, str] = {}
        for pair in value.split(","):
            name, sep, queue = pair.partition("=")
            if pair.strip() and (not sep or not name.strip() or not queue.strip()):
                raise ValueError(f"a queue route is name=queue, got '{pair.strip()}'")
            if sep:
                routes[name.strip()] = queue.strip()
        return routes

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'batonflow.db'}"
