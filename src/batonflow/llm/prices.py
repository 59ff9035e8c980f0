"""Exact cost of a model call in `Decimal` USD from a versioned price table (`prices.json`,
prices per million tokens, or `BATONFLOW_PRICE_TABLE`). Each part of the normalised `Usage` is
priced at its own rate; a missing cache price falls back to the input price, a missing reasoning
price to the output price. A model not in the table has no cost (`cost()` is None): never a guess.
"""

from __future__ import annotations

import json
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from batonflow.errors import ConfigError
from batonflow.llm.messages import Usage

MILLION = Decimal(1_000_000)


class ModelPrice(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    input: Decimal
    output: Decimal
    cached_input: Decimal | None = None
    cache_write: Decimal | None = None
    reasoning: Decimal | None = None

    def cost(self, usage: Usage) -> Decimal:
        cached = usage.cached_input_tokens
        written = usage.cache_write_tokens
        plain_in = max(0, usage.input_tokens - cached - written)
        plain_out = max(0, usage.output_tokens - usage.reasoning_tokens)
        total = (
            plain_in * self.input
            + cached * (self.cached_input if self.cached_input is not None else self.input)
            + written * (self.cache_write if self.cache_write is not None else self.input)
            + plain_out * self.output
            + usage.reasoning_tokens
            * (self.reasoning if self.reasoning is not None else self.output)
        )
        return total / MILLION


class PriceTable(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str
    currency: str = "USD"
    unit: str = "per million tokens"
    note: str = ""
    models: dict[str, ModelPrice]

    def price(self, model: str) -> ModelPrice | None:
        return self.models.get(model)

    def cost(self, model: str, usage: Usage) -> Decimal | None:
        price = self.models.get(model)
        return None if price is None else price.cost(usage)


def load_prices(path: Path | None = None) -> PriceTable:
    """The shipped table, or the one at `path`."""
    if path is None:
        text = resources.files("batonflow.llm").joinpath("prices.json").read_text("utf-8")
        source = "the shipped price table"
    else:
        try:
            text = path.read_text("utf-8")
        except OSError as exc:
            raise ConfigError(f"BATONFLOW_PRICE_TABLE: cannot read {path}: {exc}") from exc
        source = str(path)
    try:
        raw: Any = json.loads(text)
        return PriceTable.model_validate(raw)
    except (ValueError, ValidationError) as exc:
        raise ConfigError(f"{source} is not a valid price table: {exc}") from exc
