"""The clinics: the tenant every other row belongs to."""

from __future__ import annotations

import contextlib
import uuid
from typing import Any

from sqlalchemy import ColumnElement, String, or_
from sqlalchemy.orm import Mapped, mapped_column

from fhir_server.db.base import Base, FhirResourceMixin, one_of, uuid_pk
from fhir_server.db.vocab import ORGANIZATION_TYPES


class Organization(FhirResourceMixin, Base):
    """A clinic (FHIR Organization)."""

    __tablename__ = "organizations"
    __table_args__ = (one_of("type", ORGANIZATION_TYPES),)

    id: Mapped[uuid.UUID] = uuid_pk()
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    type: Mapped[str] = mapped_column(String(32), default="clinic")
    npi: Mapped[str | None] = mapped_column(String(10), unique=True)
    phone: Mapped[str | None] = mapped_column(String(40))
    address: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    active: Mapped[bool] = mapped_column(default=True)


def organization_lookup(ref: str) -> ColumnElement[bool]:
    """A WHERE clause finding a clinic by id, FHIR id, NPI or exact name (what a CLI user may type)."""
    clauses: list[ColumnElement[bool]] = [
        Organization.fhir_id == ref,
        Organization.npi == ref,
        Organization.name == ref,
    ]
    with contextlib.suppress(ValueError):
        clauses.append(Organization.id == uuid.UUID(ref))
    return or_(*clauses)
