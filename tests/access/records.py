"""Records the access tests share: an appointment of a patient with the clinic's doctor, and a patient and a
practitioner of another clinic (ones the caller's clinic may never see)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fhir_server.db import Organization, Patient, Practitioner
from fhir_server.db.engine import Database
from fhir_server.fhir import pipeline


def appointment(patient: str) -> dict[str, Any]:
    """A booked Appointment of ``Patient/{patient}`` with ``Practitioner/doc-1``."""
    return {
        "resourceType": "Appointment",
        "status": "booked",
        "start": "2026-12-01T09:00:00Z",
        "end": "2026-12-01T09:30:00Z",
        "participant": [
            {"actor": {"reference": f"Patient/{patient}"}, "status": "accepted"},
            {"actor": {"reference": "Practitioner/doc-1"}, "status": "accepted"},
        ],
    }


def add_far_patient(database: Database) -> str:
    """Add a clinic "Elsewhere Clinic" with one patient; the patient's id."""
    with database.write() as session:
        org = _elsewhere(session)
        session.add(Patient(organization_id=org.id, mrn="X1", given_name="Far", family_name="Away", fhir_id="far-1"))
    return "far-1"


def add_far_practitioner(database: Database) -> str:
    """Add a practitioner of the clinic "Elsewhere Clinic" (made when missing); the practitioner's id."""
    with database.write() as session:
        org = _elsewhere(session)
        session.add(Practitioner(organization_id=org.id, given_name="Far", family_name="Doc", fhir_id="far-doc"))
    return "far-doc"


def _elsewhere(session: Session) -> Organization:
    """The clinic "Elsewhere Clinic", made when missing."""
    org = session.scalars(select(Organization).where(Organization.fhir_id == "elsewhere")).first()
    if org is None:
        org = Organization(name="Elsewhere Clinic", fhir_id="elsewhere")
        session.add(org)
        pipeline.flush(session)
    return org
