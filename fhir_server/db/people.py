"""Users (logins with roles), practitioners (the doctors) and patients."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fhir_server.db.base import Base, FhirResourceMixin, TenantMixin, one_of, uuid_pk
from fhir_server.db.vocab import GENDERS, USER_ROLES


class User(TenantMixin, Base):
    """A login of the clinic system. Emails are stored lower-cased, so uniqueness is case-insensitive."""

    __tablename__ = "users"
    __table_args__ = (
        one_of("role", USER_ROLES),
        CheckConstraint("email = lower(email)", name="email_lowercase"),
        CheckConstraint("failed_logins >= 0", name="failed_logins_nonnegative"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))
    full_name: Mapped[str] = mapped_column(String(200))
    practitioner_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("practitioners.id", ondelete="SET NULL"), index=True
    )
    patient_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("patients.id", ondelete="SET NULL"), index=True
    )
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(default=None)
    last_login_at: Mapped[datetime | None] = mapped_column(default=None)
    active: Mapped[bool] = mapped_column(default=True)
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)

    practitioner: Mapped[Practitioner | None] = relationship()
    patient: Mapped[Patient | None] = relationship()


class Practitioner(TenantMixin, FhirResourceMixin, Base):
    """A doctor (FHIR Practitioner). The names are empty when the resource has none the columns can hold; the NPI
    is not unique (two Practitioner resources may describe one person)."""

    __tablename__ = "practitioners"

    id: Mapped[uuid.UUID] = uuid_pk()
    given_name: Mapped[str | None] = mapped_column(String(100))
    family_name: Mapped[str | None] = mapped_column(String(100))
    prefix: Mapped[str | None] = mapped_column(String(20))
    suffix: Mapped[str | None] = mapped_column(String(40))
    initials: Mapped[str | None] = mapped_column(String(8))
    specialty: Mapped[str | None] = mapped_column(String(100))
    npi: Mapped[str | None] = mapped_column(String(10), index=True)
    identifiers: Mapped[list[dict[str, Any]]] = mapped_column(default=list)
    calendar_color: Mapped[str | None] = mapped_column(String(7))
    phone: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(320))
    active: Mapped[bool] = mapped_column(default=True)


class Patient(TenantMixin, FhirResourceMixin, Base):
    """A patient of one clinic (FHIR Patient), known by a medical record number unique in that clinic; the names
    are empty when the resource has none the columns can hold."""

    __tablename__ = "patients"
    __table_args__ = (
        UniqueConstraint("organization_id", "mrn"),
        one_of("gender", GENDERS),
        Index("ix_patients_org_family_given", "organization_id", "family_name", "given_name"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    mrn: Mapped[str] = mapped_column(String(32))
    given_name: Mapped[str | None] = mapped_column(String(100))
    family_name: Mapped[str | None] = mapped_column(String(100))
    birth_date: Mapped[date | None] = mapped_column(Date)
    gender: Mapped[str | None] = mapped_column(String(16))
    phone: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(320))
    address: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    preferred_language: Mapped[str | None] = mapped_column(String(35))
    general_practitioner_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("practitioners.id", ondelete="SET NULL"), index=True
    )
    active: Mapped[bool] = mapped_column(default=True)
    deceased: Mapped[bool] = mapped_column(default=False)
    deceased_at: Mapped[datetime | None] = mapped_column(default=None)

    general_practitioner: Mapped[Practitioner | None] = relationship()


class MrnCounter(Base):
    """The last MRN sequence number handed out per clinic and year; it only grows, so MRNs are never reused."""

    __tablename__ = "mrn_counters"
    __table_args__ = (CheckConstraint("last_value > 0", name="last_value_positive"),)

    organization_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_value: Mapped[int] = mapped_column(Integer)
