"""Writing the demo patients' clinical records (fhir_server.demo.record) into the resource store.

Each resource is validated (fhir_server.fhir.validation) and mapped with its references resolved
(:func:`fhir_server.fhir.repository.add`), exactly as a FHIR create is; the transaction's end versions and indexes it
(:func:`fhir_server.fhir.pipeline.finish`). A record is built from what the clinic's tables say about the patient: the
general practitioner, the practitioners of their appointments and their last completed visit.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from fhir_server.access.context import OPEN
from fhir_server.db import Appointment, Organization, Patient
from fhir_server.demo.record import PatientFacts, Visit, patient_record
from fhir_server.fhir import pipeline, repository
from fhir_server.fhir.validation import check_resource


def seed_records(session: Session, clinic: Organization, patients: list[Patient], today: date) -> None:
    """The clinical record of each of the ``clinic``'s ``patients`` (numbered in list order), with check-ups before
    ``today``, validated and written as a FHIR write is (validate, map, then version and index as the transaction
    ends), one patient at a time."""
    visits = _completed_visits(session, clinic.id)
    for n, patient in enumerate(patients):
        for resource in patient_record(_facts(n, clinic, patient, visits.get(patient.id, []), today)):
            check_resource(resource)
            repository.add(session, OPEN, resource, resource["id"], base_url=None)
        pipeline.flush(session)  # each patient's rows written before the next's: the pipeline notes new rows only


def _facts(n: int, clinic: Organization, patient: Patient, seen: list[Appointment], today: date) -> PatientFacts:
    """What patient ``n``'s record is built from: their practitioners, last completed visit, a check-up date."""
    own = random.Random(f"checkup-{n}")  # apart from the demo clinic's generator, whose draws stay as they were
    day = today - timedelta(days=own.randint(20, 200))
    checkup = datetime.combine(day, time(own.randint(9, 16)), ZoneInfo(clinic.timezone or "UTC"))
    gp = patient.general_practitioner
    if gp is None:
        raise ValueError(f"demo patient {patient.fhir_id} has no general practitioner")
    last = seen[-1] if seen else None
    return PatientFacts(
        key=str(n),
        patient_id=patient.fhir_id,
        birth_date=patient.birth_date or today,
        clinic_id=clinic.fhir_id,
        gp_id=gp.fhir_id,
        seen=tuple(dict.fromkeys(a.practitioner.fhir_id for a in seen)),
        checkup=checkup,
        visit=_visit(last) if last is not None else None,
    )


def _completed_visits(session: Session, clinic: uuid.UUID) -> dict[uuid.UUID, list[Appointment]]:
    """The clinic's completed appointments, oldest first, by patient row id."""
    query = select(Appointment).where(Appointment.status == "completed").order_by(Appointment.start_at)
    found: dict[uuid.UUID, list[Appointment]] = {}
    for appointment in session.scalars(query.where(Appointment.organization_id == clinic)):
        found.setdefault(appointment.patient_id, []).append(appointment)
    return found


def _visit(appointment: Appointment) -> Visit:
    def aware(moment: datetime) -> datetime:
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)

    return Visit(
        appointment_id=appointment.fhir_id,
        practitioner_id=appointment.practitioner.fhir_id,
        start=aware(appointment.start_at),
        end=aware(appointment.end_at),
        reason=appointment.reason or "Follow-up",
    )
