"""FHIR plumbing shared by every served type: the version history and the typed search index tables.

The index tables follow HAPI FHIR's design: one row per (resource, search parameter, value), typed so that the
query builder can compare strings, tokens, date ranges, references, numbers, quantities and URIs in SQL.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Index, Integer, Numeric, String, UniqueConstraint, Uuid, and_
from sqlalchemy.orm import Mapped, mapped_column

from fhir_server.db.base import Base, one_of

BigId = BigInteger().with_variant(Integer(), "sqlite")
"""A 64-bit autoincrement key (SQLite only autoincrements INTEGER PRIMARY KEY)."""


class ResourceHistory(Base):
    """Every version of every resource: the full FHIR JSON as served (none for a delete)."""

    __tablename__ = "resource_history"
    __table_args__ = (
        UniqueConstraint("resource_type", "resource_id", "version_id"),
        one_of("method", ("create", "update", "delete")),
        Index("ix_resource_history_type_updated", "resource_type", "last_updated"),
        Index("ix_resource_history_updated", "last_updated"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    resource_type: Mapped[str] = mapped_column(String(64))
    resource_id: Mapped[str] = mapped_column(String(64))
    version_id: Mapped[int] = mapped_column(Integer)
    organization_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    last_updated: Mapped[datetime]
    method: Mapped[str] = mapped_column(String(8))
    resource: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    superseded_at: Mapped[datetime | None] = mapped_column(default=None)
    """When the next version replaced this one (None: this is the current version)."""


class _IndexRow:
    """Columns every search index row has: which version of which resource, which parameter."""

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    resource_type: Mapped[str] = mapped_column(String(64))
    resource_id: Mapped[str] = mapped_column(String(64))
    version_id: Mapped[int] = mapped_column(Integer)
    param: Mapped[str] = mapped_column(String(64))
    repetition: Mapped[int | None] = mapped_column(Integer, default=None)
    """For a composite parameter's component (``param`` is ``<composite>$<n>``): which repetition of the composite's
    element the value came from, so that components match within one repetition (migration 0008); else None."""


class SearchString(_IndexRow, Base):
    """string parameters: ``normalized`` is lower-cased and accent-free for the default starts-with match."""

    __tablename__ = "search_string"
    __table_args__ = (
        # varchar_pattern_ops: LIKE 'prefix%' is an index range under any collation on PostgreSQL
        Index(
            "ix_search_string_lookup",
            "resource_type",
            "param",
            "normalized",
            postgresql_ops={"normalized": "varchar_pattern_ops"},
        ),
        # param and normalized: a walk in id order tests a name prefix inside the index (migration 0005)
        Index("ix_search_string_resource", "resource_type", "resource_id", "version_id", "param", "normalized"),
    )

    normalized: Mapped[str] = mapped_column(String(255))
    exact: Mapped[str] = mapped_column(String(1000))


class SearchToken(_IndexRow, Base):
    """token parameters: a system|code pair, with the display text for ``:text``."""

    __tablename__ = "search_token"
    __table_args__ = (
        Index("ix_search_token_lookup", "resource_type", "param", "code", "system"),
        Index("ix_search_token_resource", "resource_type", "resource_id", "version_id"),
    )

    system: Mapped[str | None] = mapped_column(String(500))
    code: Mapped[str | None] = mapped_column(String(500))
    text: Mapped[str | None] = mapped_column(String(1000))


class SearchDate(_IndexRow, Base):
    """date parameters: every value is the closed range [low, high] its precision implies."""

    __tablename__ = "search_date"
    __table_args__ = (
        Index("ix_search_date_lookup", "resource_type", "param", "low", "high"),
        Index("ix_search_date_resource", "resource_type", "resource_id", "version_id"),
    )

    low: Mapped[datetime]
    high: Mapped[datetime]


class SearchReference(_IndexRow, Base):
    """reference parameters: a local target (type and id) or an absolute/canonical URL."""

    __tablename__ = "search_reference"
    __table_args__ = (
        Index("ix_search_reference_lookup", "resource_type", "param", "target_id", "target_type"),
        # the referring versions in (type, id) order, with the parameter (migration 0005)
        Index(
            "ix_search_reference_target",
            "target_type",
            "target_id",
            "resource_type",
            "resource_id",
            "version_id",
            "param",
        ),
        Index("ix_search_reference_resource", "resource_type", "resource_id", "version_id"),
    )

    target_type: Mapped[str | None] = mapped_column(String(64))
    target_id: Mapped[str | None] = mapped_column(String(64))
    url: Mapped[str | None] = mapped_column(String(1000))


class SearchNumber(_IndexRow, Base):
    """number parameters."""

    __tablename__ = "search_number"
    __table_args__ = (
        Index("ix_search_number_lookup", "resource_type", "param", "value"),
        Index("ix_search_number_resource", "resource_type", "resource_id", "version_id"),
    )

    value: Mapped[Decimal] = mapped_column(Numeric(38, 10))


class SearchQuantity(_IndexRow, Base):
    """quantity parameters: value with its unit system and code."""

    __tablename__ = "search_quantity"
    __table_args__ = (
        Index("ix_search_quantity_lookup", "resource_type", "param", "value"),
        Index("ix_search_quantity_resource", "resource_type", "resource_id", "version_id"),
    )

    value: Mapped[Decimal] = mapped_column(Numeric(38, 10))
    system: Mapped[str | None] = mapped_column(String(500))
    code: Mapped[str | None] = mapped_column(String(100))


class SearchUri(_IndexRow, Base):
    """uri parameters (canonical URLs, endpoint addresses)."""

    __tablename__ = "search_uri"
    __table_args__ = (
        Index("ix_search_uri_lookup", "resource_type", "param", "uri"),
        Index("ix_search_uri_resource", "resource_type", "resource_id", "version_id"),
    )

    uri: Mapped[str] = mapped_column(String(1000))


def same_version(left: Any, right: Any) -> ColumnElement[bool]:
    """The condition that ``left`` and ``right`` (a version of ``resource_history``, an index row, or any selectable
    with ``resource_type``, ``resource_id`` and ``version_id`` columns) are of the same version of one resource."""
    return and_(
        left.resource_type == right.resource_type,
        left.resource_id == right.resource_id,
        left.version_id == right.version_id,
    )
