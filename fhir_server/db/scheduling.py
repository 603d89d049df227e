"""Appointments and their cancellations."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fhir_server.db.base import Base, FhirResourceMixin, TenantMixin, one_of, uuid_pk
from fhir_server.db.people import Patient, Practitioner
from fhir_server.db.types import utcnow
from fhir_server.db.vocab import (
    APPOINTMENT_STATUSES,
    CANCELLATION_TYPES,
    INTAKE_STATUSES,
    VISIT_CATEGORIES,
    VISIT_TYPES,
)


class Appointment(TenantMixin, FhirResourceMixin, Base):
    """A visit of a patient with a practitioner (FHIR Appointment); status in the clinic's own words. Patient,
    practitioner, times and visit type or category are empty when the resource has none the columns can hold (a
    proposed appointment has no time yet)."""

    __tablename__ = "appointments"
    __table_args__ = (
        one_of("visit_type", VISIT_TYPES),
        one_of("visit_category", VISIT_CATEGORIES),
        one_of("status", APPOINTMENT_STATUSES),
        one_of("intake_status", INTAKE_STATUSES),
        CheckConstraint("end_at > start_at", name="ends_after_start"),
        CheckConstraint("duration_minutes > 0", name="duration_positive"),
        Index("ix_appointments_org_start", "organization_id", "start_at"),
        Index("ix_appointments_practitioner_start", "practitioner_id", "start_at"),
        Index("ix_appointments_patient_start", "patient_id", "start_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    patient_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("patients.id", ondelete="RESTRICT"))
    practitioner_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("practitioners.id", ondelete="RESTRICT"))
    start_at: Mapped[datetime | None]
    end_at: Mapped[datetime | None]
    duration_minutes: Mapped[int | None] = mapped_column(Integer)
    visit_type: Mapped[str | None] = mapped_column(String(16))
    visit_category: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="unconfirmed")
    intake_status: Mapped[str] = mapped_column(String(16), default="missing")
    arrived_at: Mapped[datetime | None] = mapped_column(default=None)
    meeting_url: Mapped[str | None] = mapped_column(String(500))
    reason: Mapped[str | None] = mapped_column(Text)

    patient: Mapped[Patient | None] = relationship()
    practitioner: Mapped[Practitioner | None] = relationship()
    cancellation: Mapped[Cancellation | None] = relationship(back_populates="appointment", cascade="all, delete-orphan")


class Cancellation(Base):
    """Why, when and by whom an appointment was cancelled (FHIR Appointment.cancelationReason)."""

    __tablename__ = "cancellations"
    __table_args__ = (one_of("type", CANCELLATION_TYPES),)

    id: Mapped[uuid.UUID] = uuid_pk()
    appointment_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("appointments.id", ondelete="CASCADE"), unique=True
    )
    type: Mapped[str] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text)
    cancelled_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    cancelled_at: Mapped[datetime] = mapped_column(default=utcnow)

    appointment: Mapped[Appointment] = relationship(back_populates="cancellation")
