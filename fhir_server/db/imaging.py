"""Imaging studies held in Orthanc (FHIR ImagingStudy)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fhir_server.db.base import Base, FhirResourceMixin, TenantMixin, one_of, uuid_pk
from fhir_server.db.people import Patient
from fhir_server.db.vocab import IMAGING_STUDY_STATUSES


class ImagingStudy(TenantMixin, FhirResourceMixin, Base):
    """One DICOM study; ``series`` holds the series and instance detail read from Orthanc. Patient and Study
    Instance UID are empty when the resource has none the columns can hold (a Device as subject)."""

    __tablename__ = "imaging_studies"
    __table_args__ = (
        one_of("status", IMAGING_STUDY_STATUSES),
        CheckConstraint("series_count >= 0 AND instance_count >= 0", name="counts_nonnegative"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    patient_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("patients.id", ondelete="RESTRICT"), index=True
    )
    study_instance_uid: Mapped[str | None] = mapped_column(String(64), unique=True)
    accession_number: Mapped[str | None] = mapped_column(String(64), index=True)
    modalities: Mapped[list[str]] = mapped_column(default=list)
    description: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    series_count: Mapped[int] = mapped_column(Integer, default=0)
    instance_count: Mapped[int] = mapped_column(Integer, default=0)
    series: Mapped[list[dict[str, Any]]] = mapped_column(default=list)
    orthanc_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(32), default="available")

    patient: Mapped[Patient | None] = relationship()
