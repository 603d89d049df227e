"""The clinics (the tenant every other row belongs to) and the other Organizations they work with.

Every row of ``organizations`` is a FHIR Organization. A clinic's own Organization is a clinic: its
``organization_id`` is its own id. Any other Organization (a lab, a pharmacy, a payer, a referring practice) is
ordinary data of the clinic that wrote it: its ``organization_id`` is that clinic's id. A clinic is created by an
operator (``fhir-server clinics create``, :func:`new_clinic`), never through the FHIR API.
"""

from __future__ import annotations

import contextlib
import uuid
from typing import Any

from sqlalchemy import ColumnElement, ForeignKey, String, UniqueConstraint, Uuid, and_, or_, select
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, Session, mapped_column

from fhir_server.db.base import Base, FhirResourceMixin, one_of, uuid_pk
from fhir_server.db.vocab import ORGANIZATION_TYPES


def _own_id(context: DefaultExecutionContext) -> Any:
    """A row inserted without a clinic is a clinic: its own id (what internal code and the seed create)."""
    return context.get_current_parameters()["id"]  # type: ignore[no-untyped-call]


class Organization(FhirResourceMixin, Base):
    """A FHIR Organization: a clinic (``organization_id`` is its own id) or data of the clinic ``organization_id``."""

    __tablename__ = "organizations"
    __table_args__ = (one_of("type", ORGANIZATION_TYPES), UniqueConstraint("organization_id", "npi"))

    id: Mapped[uuid.UUID] = uuid_pk()
    organization_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("organizations.id", ondelete="RESTRICT"), index=True, default=_own_id
    )
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    type: Mapped[str] = mapped_column(String(32), default="clinic")
    npi: Mapped[str | None] = mapped_column(String(10))  # unique within a clinic (its own and its data)
    phone: Mapped[str | None] = mapped_column(String(40))
    address: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    active: Mapped[bool] = mapped_column(default=True)

    @hybrid_property
    def is_clinic(self) -> bool:
        """True for a clinic's own Organization (a tenant); False for an Organization a clinic works with. A row
        not yet flushed without a clinic set becomes a clinic when inserted."""
        return self.organization_id is None or self.organization_id == self.id

    @is_clinic.inplace.expression
    @classmethod
    def _is_clinic_expression(cls) -> ColumnElement[bool]:
        return cls.organization_id == cls.id


def organization_lookup(ref: str) -> ColumnElement[bool]:
    """A WHERE clause finding a clinic by id, FHIR id, NPI or exact name (what a CLI user may type); only clinics
    match, never an Organization a clinic merely works with."""
    clauses: list[ColumnElement[bool]] = [
        Organization.fhir_id == ref,
        Organization.npi == ref,
        Organization.name == ref,
    ]
    with contextlib.suppress(ValueError):
        clauses.append(Organization.id == uuid.UUID(ref))
    return and_(Organization.is_clinic, or_(*clauses))


def new_clinic(name: str, npi: str | None = None, timezone: str = "UTC", fhir_id: str | None = None) -> Organization:
    """A new clinic's Organization row (a tenant: its own clinic) under ``fhir_id`` (None: a new one), for the caller
    to add to a write session, whose write pipeline then versions and indexes it."""
    clinic_id = uuid.uuid4()
    return Organization(
        id=clinic_id,
        organization_id=clinic_id,
        fhir_id=fhir_id or str(uuid.uuid4()),
        name=name,
        npi=npi,
        timezone=timezone,
        type="clinic",
        active=True,
    )


def live_clinics(session: Session, limit: int | None = None) -> list[uuid.UUID]:
    """The ids of the clinics not deleted (at most ``limit``), by name."""
    query = select(Organization.id).where(Organization.is_clinic, Organization.deleted_at.is_(None))
    return list(session.scalars(query.order_by(Organization.name).limit(limit)))


def only_clinic(session: Session) -> uuid.UUID | None:
    """The database's clinic when it has exactly one; None when it has none or several."""
    clinics = live_clinics(session, limit=2)
    return clinics[0] if len(clinics) == 1 else None
