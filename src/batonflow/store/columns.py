"""Column types: how values are stored the same way on SQLite and PostgreSQL: JSON documents in
their key order, timezone-aware UTC datetimes, exact money as integers of 10^-12 USD, exact
decimals in any currency as canonical text (`Dec`, for the apps), and event ids. The schema that uses them is `store/tables.py`.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Dialect, Integer, String, TypeDecorator

# Plain JSON (not JSONB) on PostgreSQL too: documents keep their key order (a workflow's
# inputs and outputs are shown in the order they were declared).
Json = JSON()
EventId = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """Stored as naive UTC on every database; always returned timezone-aware."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; pass an aware UTC datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)

    def result_processor(self, dialect: Dialect, coltype: Any) -> Any:
        # SQLite hands back the text SQLAlchemy stored ("2026-12-01 12:36:55.641690"); parsing
        # it with the zone appended is one C call, a fifth of the generic chain's cost, and
        # pages of runs parse three of these per row.
        if dialect.name == "sqlite":
            return _sqlite_utc
        return super().result_processor(dialect, coltype)


def _sqlite_utc(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value + "+00:00")


PICO_PER_USD = Decimal(10) ** 12


@functools.lru_cache(maxsize=8192)
def usd(pico: int) -> Decimal:
    """US dollars from an integer of 10^-12 USD, exactly. Pages of runs repeat a few amounts,
    and a Decimal division costs more than the rest of a row, so amounts are remembered."""
    return Decimal(pico) / PICO_PER_USD


class PicoUsd(TypeDecorator[Decimal]):
    """Exact money: a `Decimal` of US dollars stored as an integer of 10^-12 USD, so sums are
    exact in SQL on every database. Prices with up to six decimals per million tokens fit."""

    impl = BigInteger
    cache_ok = True
    SCALE = PICO_PER_USD

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> int | None:
        if value is None:
            return None
        return int((Decimal(value) * self.SCALE).to_integral_value())

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else usd(int(value))


class Dec(TypeDecorator[Decimal]):
    """An exact decimal, stored as its canonical text ("1234.5", "-0.0001")."""

    impl = String(48)
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if not isinstance(value, Decimal):
            raise TypeError(f"a {type(value).__name__} is not stored as a decimal; pass a Decimal")
        if not value.is_finite():
            raise ValueError(f"{value} is not a finite decimal")
        return format(value.normalize(), "f")

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(value)
