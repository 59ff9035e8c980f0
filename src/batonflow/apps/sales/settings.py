"""The sales app's settings, from `BATONFLOW_SALES_*`."""

from __future__ import annotations

from itertools import pairwise

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class SalesSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BATONFLOW_SALES_", extra="ignore")

    smtp_host: str = Field("127.0.0.1", description="the SMTP server outgoing email goes to")
    smtp_port: int = Field(1025, ge=1, le=65535, description="the SMTP server's port")
    smtp_security: str = Field(
        "none",
        pattern="^(none|starttls|tls)$",
        description="none, starttls (upgrade a plain connection) or tls (TLS from the start)",
    )
    smtp_username: str | None = Field(None, description="SMTP login, if the server wants one")
    smtp_password: SecretStr | None = Field(None, description="SMTP password")
    smtp_timeout: float = Field(30.0, gt=0, le=300, description="seconds an SMTP exchange may take")
    mail_from: str = Field(
        "sales@batonflow.localhost", description="the From address of the app's email"
    )
    model: str | None = Field(
        None, description="route or provider:model the sales agents use; unset: the default"
    )
    smtp_catcher: bool = Field(
        False,
        description=(
            "run a local SMTP catcher inside the API process, listening on smtp_host:smtp_port, "
            "that records every message it receives against its email (for demos)"
        ),
    )
    smtp_ca_file: str | None = Field(
        None,
        description=(
            "a PEM file of the certificate authorities to trust for the SMTP server's TLS "
            "certificate (a private CA); unset: the system's"
        ),
    )
    knowledge_base: str = Field(
        "products",
        description="the knowledge base the SDR agent grounds its outreach in, unless told others",
    )
    dunning_days: list[int] = Field(
        [3, 10, 20],
        description="payment reminder levels: days after an invoice's due date, increasing",
    )

    @field_validator("dunning_days")
    @classmethod
    def _increasing(cls, days: list[int]) -> list[int]:
        if not days or days[0] < 1 or any(b <= a for a, b in pairwise(days)):
            raise ValueError(
                "dunning days are increasing whole days after the due date, like [3, 10, 20]"
            )
        return days
