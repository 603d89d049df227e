"""Intake forms a patient fills in before a visit, and their AI-written summaries."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fhir_server.db.base import Base, FhirResourceMixin, TenantMixin, one_of, uuid_pk
from fhir_server.db.people import Patient
from fhir_server.db.scheduling import Appointment
from fhir_server.db.types import utcnow
from fhir_server.db.vocab import AI_SUMMARY_STATUSES, INTAKE_FORM_STATUSES


class IntakeForm(TenantMixin, FhirResourceMixin, Base):
    """One patient's answers to an intake questionnaire (FHIR QuestionnaireResponse). Patient, questionnaire and
    status are empty when the resource has none the columns can hold (a Group as subject, ``entered-in-error``)."""

    __tablename__ = "intake_forms"
    __table_args__ = (
        one_of("status", INTAKE_FORM_STATUSES),
        Index("ix_intake_forms_patient", "patient_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    patient_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("patients.id", ondelete="RESTRICT"))
    appointment_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("appointments.id", ondelete="SET NULL"), index=True
    )
    questionnaire: Mapped[str | None] = mapped_column(String(500))
    answers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str | None] = mapped_column(String(16))
    submitted_at: Mapped[datetime | None] = mapped_column(default=None)

    patient: Mapped[Patient | None] = relationship()
    appointment: Mapped[Appointment | None] = relationship()
    summary: Mapped[AiIntakeSummary | None] = relationship(back_populates="intake_form", cascade="all, delete-orphan")


class AiIntakeSummary(Base):
    """A model's summary of one intake form, for the doctor."""

    __tablename__ = "ai_intake_summaries"
    __table_args__ = (one_of("status", AI_SUMMARY_STATUSES),)

    id: Mapped[uuid.UUID] = uuid_pk()
    intake_form_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("intake_forms.id", ondelete="CASCADE"), unique=True
    )
    summary: Mapped[str | None] = mapped_column(Text)
    concerns: Mapped[list[str]] = mapped_column(default=list)
    medications: Mapped[list[str]] = mapped_column(default=list)
    allergies: Mapped[list[str]] = mapped_column(default=list)
    key_notes: Mapped[list[str]] = mapped_column(default=list)
    model: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16), default="generating")
    generated_at: Mapped[datetime | None] = mapped_column(default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    intake_form: Mapped[IntakeForm] = relationship(back_populates="summary")
