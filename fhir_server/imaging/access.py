"""Who may see which studies over DICOMweb: the same SMART token as for FHIR, the same rules.

https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html: ImagingStudy read/search scopes allow QIDO
and WADO, create allows STOW. A token with a patient context sees only that patient's studies (its MRN is the
DICOM PatientID); a token bound to a clinic sees only that clinic's studies. Both are answered from the
ImagingStudy table, which the sync keeps in step with Orthanc: a study the table does not hold for the caller
is, for that caller, not there (404), so no other patient's study can even be confirmed to exist.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from fhir_server.access.context import AccessContext
from fhir_server.db import ImagingStudy, Patient
from fhir_server.errors import FhirError
from fhir_server.imaging.qido_query import forced_patient_id
from fhir_server.imaging.stow import Part

RESOURCE = "ImagingStudy"
SEARCH, READ, CREATE = "search-type", "read", "create"


@dataclass(frozen=True)
class ImagingScope:
    """What the caller may see: everything (``confined`` False), one clinic, or one patient of one clinic."""

    confined: bool
    organization_id: uuid.UUID | None = None
    patient_row: uuid.UUID | None = None
    patient_mrn: str | None = None


def require(access: AccessContext, interaction: str) -> None:
    """401 without credentials, 403 when the token's scopes do not allow ``interaction`` on ImagingStudy."""
    if access.may(RESOURCE, interaction):
        return
    if not access.open and access.user_id is None and access.client_id is None:
        raise FhirError.of(
            401, "login", "DICOMweb needs a bearer token (the same as for FHIR)", headers={"WWW-Authenticate": "Bearer"}
        )
    raise FhirError.of(403, "forbidden", f"the token's scopes do not allow {interaction} on {RESOURCE}")


def scope_of(session: Session, access: AccessContext) -> ImagingScope:
    """The caller's imaging scope; 403 when its patient is unknown or has no MRN usable as a PatientID."""
    known = scope_without_patient(access)
    if known is not None:
        return known
    query = select(Patient).where(Patient.fhir_id == access.patient_id, Patient.deleted_at.is_(None))
    patient = session.scalars(query).first()
    if patient is None or forced_patient_id(patient.mrn) is None:
        raise FhirError.of(403, "forbidden", "the token's patient has no medical record number to match studies by")
    if access.organization_id is not None and patient.organization_id != access.organization_id:
        raise FhirError.of(403, "forbidden", "the token's patient is not of the token's clinic")
    return ImagingScope(True, patient.organization_id, patient.id, patient.mrn)


def scope_without_patient(access: AccessContext) -> ImagingScope | None:
    """The scope of a token without a patient context (known from the token alone); None for a patient's."""
    if access.patient_id is not None:
        return None
    return ImagingScope(confined=access.organization_id is not None, organization_id=access.organization_id)


def scope_checked(session: Session, access: AccessContext, study_uid: str | None) -> ImagingScope:
    """:func:`scope_of`, then :func:`check_study` for ``study_uid`` when the scope is confined (one session)."""
    scope = scope_of(session, access)
    if study_uid is not None and scope.confined:
        check_study(session, scope, study_uid)
    return scope


def visible(session: Session, scope: ImagingScope, study_uids: Iterable[str]) -> set[str]:
    """Those of ``study_uids`` the scope may see (all of them when it is not confined)."""
    uids = set(study_uids)
    if not scope.confined or not uids:
        return uids
    query = select(ImagingStudy.study_instance_uid).where(
        ImagingStudy.study_instance_uid.in_(uids), ImagingStudy.deleted_at.is_(None)
    )
    if scope.organization_id is not None:
        query = query.where(ImagingStudy.organization_id == scope.organization_id)
    if scope.patient_row is not None:
        query = query.where(ImagingStudy.patient_id == scope.patient_row)
    return set(session.scalars(query))


def patient_studies(session: Session, scope: ImagingScope, at_most: int) -> list[str]:
    """Up to ``at_most`` UIDs of the live studies of the scope's patient (none for a scope without a patient)."""
    if scope.patient_row is None:
        return []
    query = (
        select(ImagingStudy.study_instance_uid)
        .where(
            ImagingStudy.patient_id == scope.patient_row,
            ImagingStudy.organization_id == scope.organization_id,
            ImagingStudy.deleted_at.is_(None),
        )
        .limit(at_most)
    )
    return list(session.scalars(query))


def check_study(session: Session, scope: ImagingScope, study_uid: str) -> None:
    """404 unless the scope may see the study (checked before a byte of it is streamed)."""
    if study_uid not in visible(session, scope, [study_uid]):
        raise FhirError.of(404, "not-found", f"no study with StudyInstanceUID {study_uid} is known to this token")


def check_parts(session: Session, scope: ImagingScope, parts: Iterable[Part]) -> None:
    """403 unless the clinic-bound ``scope`` may add every DICOM part to its study: a study no clinic holds yet, or
    one of the scope's clinic (live or deleted rows count). A DICOM part whose StudyInstanceUID could not be read
    from its first bytes cannot be checked, so it is refused too."""
    uids: set[str] = set()
    for number, part in enumerate(parts, start=1):
        if part.dicom and part.study is None:
            raise FhirError.of(
                403,
                "forbidden",
                f"part {number}: its StudyInstanceUID was not found in its first bytes, so the study's clinic cannot "
                "be checked; store it under /studies/{StudyInstanceUID}",
            )
        if part.study is not None:
            uids.add(part.study)
    if not uids:
        return
    query = select(ImagingStudy.study_instance_uid, ImagingStudy.organization_id).where(
        ImagingStudy.study_instance_uid.in_(uids)
    )
    for uid, owner in session.execute(query):
        if owner != scope.organization_id:
            raise FhirError.of(403, "forbidden", f"study {uid} belongs to another clinic", "study")


def owner_clinic(session: Session, study_uid: str) -> uuid.UUID | None:
    """The clinic of the (live or deleted) ImagingStudy with this UID, if any."""
    query = select(ImagingStudy.organization_id).where(ImagingStudy.study_instance_uid == study_uid)
    return session.scalars(query).first()
