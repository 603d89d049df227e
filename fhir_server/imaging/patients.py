"""The Patient of a study: found by MRN (the DICOM PatientID) within the clinic, or made from the DICOM
demographics when ``imaging_create_unknown_patients`` allows it.

PatientName is a DICOM PN (``Family^Given^Middle^Prefix^Suffix``, PS3.5 6.2); PatientSex ``M``/``F``/``O`` maps
to FHIR administrative-gender male/female/other (http://hl7.org/fhir/R4/valueset-administrative-gender.html).
"""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from fhir_server.db import Patient
from fhir_server.imaging.study_values import Demographics

_GENDERS = {"M": "male", "F": "female", "O": "other"}
UNKNOWN_NAME = "Unknown"


def find_patient(session: Session, organization_id: uuid.UUID, mrn: str) -> Patient | None:
    """The clinic's live patient with this MRN."""
    query = select(Patient).where(
        Patient.organization_id == organization_id, Patient.mrn == mrn, Patient.deleted_at.is_(None)
    )
    return session.scalars(query).first()


def clinics_with_mrn(session: Session, mrn: str) -> list[uuid.UUID]:
    """The clinics that have a live patient with this MRN."""
    query = select(Patient.organization_id).where(Patient.mrn == mrn, Patient.deleted_at.is_(None)).distinct()
    return list(session.scalars(query))


def new_patient(organization_id: uuid.UUID, demographics: Demographics) -> Patient:
    """A Patient made from the study's patient module, with the PatientID as its MRN."""
    family, given = person_name(demographics.name)
    return Patient(
        id=uuid.uuid4(),
        fhir_id=str(uuid.uuid4()),
        organization_id=organization_id,
        mrn=demographics.patient_id[:32],
        family_name=family[:100],
        given_name=given[:100],
        birth_date=dicom_date(demographics.birth_date),
        gender=_GENDERS.get(demographics.sex.upper()),
    )


def person_name(pn: str) -> tuple[str, str]:
    """(family, given) of the alphabetic group of a DICOM PN; Unknown for a missing family name."""
    alphabetic = pn.split("=", 1)[0]
    parts = [p.strip() for p in alphabetic.split("^")]
    family = parts[0] if parts and parts[0] else UNKNOWN_NAME
    given = " ".join(p for p in parts[1:3] if p)
    return family, given or UNKNOWN_NAME


def dicom_date(value: str) -> date | None:
    """A DA value (YYYYMMDD) as a date; None when missing or malformed."""
    if len(value) != 8 or not value.isdigit():
        return None
    try:
        return date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        return None
