"""Keeping ImagingStudy rows in step with Orthanc (http://hl7.org/fhir/R4/imagingstudy.html).

One study at a time, each in its own write transaction: read it from Orthanc's REST index, find its clinic and
patient, and write only the columns that differ (an unchanged study makes no new FHIR version; the write
pipeline, which ends every write transaction, turns every real change into one). A study Orthanc no longer has is
deleted (FHIR delete: reads answer 410).

The clinic of a new study: the one given (a STOW through the proxy: the caller's clinic), else the only clinic
with a patient of that MRN, else ``imaging_organization``, else the only clinic there is; otherwise the study is
skipped and reported. Orthanc's change feed reports no deletions, hence :func:`reconcile`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fhir_server.db import ImagingStudy, Organization
from fhir_server.db.clinic import only_clinic, organization_lookup
from fhir_server.db.engine import Database
from fhir_server.db.types import utcnow
from fhir_server.imaging.endpoints import clinic_endpoint, dicomweb_base
from fhir_server.imaging.orthanc import OrthancClient
from fhir_server.imaging.patients import clinics_with_mrn, find_patient, new_patient
from fhir_server.imaging.study_values import StudyValues, read_study
from fhir_server.settings import Settings

logger = logging.getLogger("fhir_server.imaging.sync")
Outcome = Literal["created", "updated", "unchanged", "deleted", "skipped"]
SYNCED_CHANGES = frozenset({"NewStudy", "StableStudy"})


@dataclass
class SyncReport:
    """What one pass did, per outcome, and why studies were skipped."""

    counts: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def add(self, outcome: Outcome) -> None:
        self.counts[outcome] = self.counts.get(outcome, 0) + 1

    def summary(self) -> str:
        order = ("created", "updated", "unchanged", "deleted", "skipped")
        return ", ".join(f"{self.counts.get(k, 0)} {k}" for k in order)


class UnplaceableStudyError(Exception):
    """A study that cannot be stored as an ImagingStudy (no clinic, unknown patient...); the message says why."""


@dataclass(frozen=True)
class StudySync:
    """Syncs studies of one Orthanc into one database."""

    database: Database
    settings: Settings
    client: OrthancClient

    def study(self, orthanc_id: str, clinic: uuid.UUID | None = None, report: SyncReport | None = None) -> Outcome:
        """Bring one study's row in line with Orthanc (retried once when a concurrent sync raced it)."""
        report = report if report is not None else SyncReport()
        values = read_study(self.client, orthanc_id)
        try:
            outcome = self._write(lambda s: self._study(s, orthanc_id, values, clinic))
        except UnplaceableStudyError as exc:
            outcome = "skipped"
            report.problems.append(f"study {orthanc_id}: {exc}")
            logger.warning("imaging study skipped", extra={"orthanc_id": orthanc_id, "reason": str(exc)})
        report.add(outcome)
        return outcome

    def study_by_uid(self, study_instance_uid: str, clinic: uuid.UUID | None, report: SyncReport) -> Outcome | None:
        orthanc_id = self.client.lookup_study(study_instance_uid)
        return None if orthanc_id is None else self.study(orthanc_id, clinic, report)

    def _write(self, work: Callable[[Session], Outcome]) -> Outcome:
        for attempt in (1, 2):
            try:
                with self.database.write() as session:
                    return work(session)
            except IntegrityError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _study(
        self, session: Session, orthanc_id: str, values: StudyValues | None, clinic: uuid.UUID | None
    ) -> Outcome:
        if values is None:
            row = session.scalars(select(ImagingStudy).where(ImagingStudy.orthanc_id == orthanc_id)).first()
            return _delete(row) if row is not None else "skipped"
        row = session.scalars(
            select(ImagingStudy).where(ImagingStudy.study_instance_uid == values.study_instance_uid)
        ).first()
        organization_id = row.organization_id if row is not None else self._clinic_of(session, values, clinic)
        desired = self._columns(session, organization_id, values, row.extra if row is not None else {})
        if row is None:
            session.add(ImagingStudy(id=uuid.uuid4(), fhir_id=str(uuid.uuid4()), **desired))
            return "created"
        changed = {k: v for k, v in desired.items() if getattr(row, k) != v}
        for name, value in changed.items():
            setattr(row, name, value)
        return "updated" if changed else "unchanged"

    def _clinic_of(self, session: Session, values: StudyValues, given: uuid.UUID | None) -> uuid.UUID:
        if given is not None:
            return given
        with_mrn = clinics_with_mrn(session, values.patient.patient_id)
        if len(with_mrn) == 1:
            return with_mrn[0]
        configured = self.settings.imaging_organization
        if configured:
            found = session.scalars(select(Organization.id).where(organization_lookup(configured))).first()
            if found is None:
                raise UnplaceableStudyError(f"FHIR_SERVER_IMAGING_ORGANIZATION={configured!r} matches no clinic")
            return found
        only = only_clinic(session)
        if only is not None:
            return only
        raise UnplaceableStudyError("cannot tell which clinic it belongs to: set FHIR_SERVER_IMAGING_ORGANIZATION")

    def _columns(
        self, session: Session, organization_id: uuid.UUID, values: StudyValues, extra: dict[str, Any] | None
    ) -> dict[str, Any]:
        clinic = session.get(Organization, organization_id)
        patient_id = self._patient_of(session, organization_id, values)
        endpoint = clinic_endpoint(session, organization_id, dicomweb_base(self.settings.base_url))
        return {
            "organization_id": organization_id,
            "patient_id": patient_id,
            "study_instance_uid": values.study_instance_uid,
            "accession_number": values.accession_number,
            "modalities": values.modalities,
            "description": values.description,
            "started_at": values.started_at(clinic.timezone if clinic else "UTC"),
            "series_count": len(values.series),
            "instance_count": values.instance_count,
            "series": values.series,
            "orthanc_id": values.orthanc_id,
            "status": "available",
            "deleted_at": None,
            "extra": _extra(extra or {}, values, endpoint.fhir_id),
        }

    def _patient_of(self, session: Session, organization_id: uuid.UUID, values: StudyValues) -> uuid.UUID:
        mrn = values.patient.patient_id
        if not mrn:
            raise UnplaceableStudyError("the study has no PatientID")
        found = find_patient(session, organization_id, mrn)
        if found is not None:
            return found.id
        if not self.settings.imaging_create_unknown_patients:
            raise UnplaceableStudyError(
                f"PatientID {mrn!r} is no patient of the clinic (FHIR_SERVER_IMAGING_CREATE_UNKNOWN_PATIENTS)"
            )
        patient = new_patient(organization_id, values.patient)
        session.add(patient)
        logger.info("patient created from DICOM demographics", extra={"mrn": mrn, "patient": patient.fhir_id})
        return patient.id


def _extra(current: dict[str, Any], values: StudyValues, endpoint_id: str) -> dict[str, Any]:
    """The row's verbatim document with the Endpoint reference (and the referrer's name) merged in."""
    extra: dict[str, Any] = dict(current)
    reference = {"reference": f"Endpoint/{endpoint_id}"}
    endpoints = [e for e in extra.get("endpoint") or [] if isinstance(e, dict)]
    if reference not in endpoints:
        extra["endpoint"] = [*endpoints, reference]
    if values.referrer and "referrer" not in extra:
        extra["referrer"] = {"display": values.referrer.replace("^", " ").strip()}
    return extra


def _delete(row: ImagingStudy) -> Outcome:
    if row.deleted_at is not None:
        return "unchanged"
    row.deleted_at = utcnow()
    return "deleted"


def live_orthanc_ids(session: Session) -> set[str]:
    """The Orthanc ids of every live ImagingStudy row that came from Orthanc."""
    query = select(ImagingStudy.orthanc_id).where(
        ImagingStudy.orthanc_id.is_not(None), ImagingStudy.deleted_at.is_(None)
    )
    return {i for i in session.scalars(query) if i}
