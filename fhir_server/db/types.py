"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Dialect
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator

JsonDocument = JSON().with_variant(JSONB(), "postgresql")
"""A JSON document column: JSONB on PostgreSQL, JSON text on SQLite."""


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware instant, stored as UTC.

    PostgreSQL keeps ``timestamptz``; SQLite has no time zones, so values are normalised to UTC on the way in and
    marked UTC on the way out. Naive datetimes are refused: every instant in this server has a zone.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: every stored instant needs a time zone")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def copy(self, **kw: Any) -> UtcDateTime:
        return UtcDateTime()


def utcnow() -> datetime:
    """The current instant, in UTC."""
    return datetime.now(UTC)
