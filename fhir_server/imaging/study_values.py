"""An Orthanc study, read from its REST index, as the values of one ``imaging_studies`` row.

Follows the R4 ImagingStudy notes (http://hl7.org/fhir/R4/imagingstudy.html#notes) as mappings/imaging_study.py
encodes them: the StudyInstanceUID is the ``urn:dicom:uid`` identifier, modalities are DCM codes (one per series
modality, in series order), each series keeps its uid, number, modality, description and instances (uid, SOP
Class, number). ``started`` is StudyDate + StudyTime in the study's TimezoneOffsetFromUTC (0008,0201), else in the
clinic's time zone; a study without a StudyTime has no ``started`` (a date alone is no instant).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fhir_server.imaging.orthanc import OrthancClient

_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")
_OFFSET = re.compile(r"^([+-])(\d{2})(\d{2})$")
OTHER_MODALITY = "OT"
"""DCM ``OT`` (Other): ImagingStudy.series.modality is 1..1, a series without a Modality gets it."""


@dataclass(frozen=True)
class Demographics:
    """The patient module of a study (PatientMainDicomTags), for finding or creating the Patient."""

    patient_id: str
    name: str = ""
    birth_date: str = ""
    sex: str = ""


@dataclass
class StudyValues:
    """What an ``imaging_studies`` row holds about one Orthanc study (``started_at`` needs the clinic's zone)."""

    orthanc_id: str
    study_instance_uid: str
    patient: Demographics
    accession_number: str | None = None
    description: str | None = None
    referrer: str | None = None
    study_date: str = ""
    study_time: str = ""
    timezone_offset: str | None = None
    modalities: list[str] = field(default_factory=list)
    series: list[dict[str, Any]] = field(default_factory=list)

    @property
    def instance_count(self) -> int:
        return sum(len(s.get("instances") or []) for s in self.series)

    def started_at(self, clinic_zone: str) -> datetime | None:
        return dicom_instant(self.study_date, self.study_time, self.timezone_offset, clinic_zone)


def read_study(client: OrthancClient, orthanc_id: str) -> StudyValues | None:
    """The study as Orthanc holds it now (None when it is gone or has no usable StudyInstanceUID)."""
    study = client.study(orthanc_id)
    if study is None:
        return None
    tags: dict[str, str] = study.get("MainDicomTags", {})
    uid = tags.get("StudyInstanceUID", "").strip()
    if not _UID.match(uid) or len(uid) > 64:
        return None
    instances = client.instances_of(orthanc_id)
    values = StudyValues(
        orthanc_id=orthanc_id,
        study_instance_uid=uid,
        patient=_demographics(study.get("PatientMainDicomTags", {})),
        accession_number=_text(tags.get("AccessionNumber"), 64),
        description=_text(tags.get("StudyDescription"), None),
        referrer=_text(tags.get("ReferringPhysicianName"), None),
        study_date=tags.get("StudyDate", "").strip(),
        study_time=tags.get("StudyTime", "").strip(),
        timezone_offset=client.instance_tag(instances[0]["ID"], "0008-0201") if instances else None,
    )
    values.series = [_series(client, s, instances) for s in client.series_of(orthanc_id)]
    values.series.sort(key=lambda s: (s.get("number", 1 << 31), s["uid"]))
    values.modalities = list(dict.fromkeys(s["modality"] for s in values.series))
    return values


def _demographics(tags: dict[str, str]) -> Demographics:
    return Demographics(
        patient_id=tags.get("PatientID", "").strip(),
        name=tags.get("PatientName", "").strip(),
        birth_date=tags.get("PatientBirthDate", "").strip(),
        sex=tags.get("PatientSex", "").strip(),
    )


def _series(client: OrthancClient, series: dict[str, Any], instances: list[dict[str, Any]]) -> dict[str, Any]:
    tags: dict[str, str] = series.get("MainDicomTags", {})
    mine = [i for i in instances if i.get("ParentSeries") == series["ID"]]
    entries = [_instance(client, i) for i in mine]
    entries.sort(key=lambda i: (i.get("number", 1 << 31), i["uid"]))
    return _pruned(
        {
            "uid": tags.get("SeriesInstanceUID", "").strip(),
            "number": _number(tags.get("SeriesNumber")),
            "modality": tags.get("Modality", "").strip() or OTHER_MODALITY,
            "description": _text(tags.get("SeriesDescription"), None),
            "numberOfInstances": len(entries),
            "instances": [e for e in entries if e.get("sopClass")],
        }
    )


def _instance(client: OrthancClient, instance: dict[str, Any]) -> dict[str, Any]:
    tags: dict[str, str] = instance.get("MainDicomTags", {})
    sop_class = client.instance_metadata(instance["ID"], "SopClassUid")
    return _pruned(
        {
            "uid": tags.get("SOPInstanceUID", "").strip(),
            "sopClass": sop_class.strip() if sop_class else None,
            "number": _number(tags.get("InstanceNumber")),
        }
    )


def _pruned(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _number(value: str | None) -> int | None:
    """An IS value as an unsignedInt; a missing, malformed or negative number is dropped."""
    try:
        number = int((value or "").strip())
    except ValueError:
        return None
    return number if number >= 0 else None


def _text(value: str | None, limit: int | None) -> str | None:
    text = (value or "").strip()
    if not text:
        return None
    return text[:limit] if limit else text


def dicom_instant(study_date: str, study_time: str, offset: str | None, clinic_zone: str) -> datetime | None:
    """StudyDate (DA) + StudyTime (TM) as an instant; None without both or when malformed."""
    if len(study_date) != 8 or not study_date.isdigit() or not study_time:
        return None
    whole, _, fraction = study_time.partition(".")
    if not whole.isdigit() or len(whole) not in (2, 4, 6):
        return None
    whole = whole.ljust(6, "0")
    micros = int((fraction + "000000")[:6]) if fraction.isdigit() else 0
    try:
        local = datetime(
            int(study_date[:4]), int(study_date[4:6]), int(study_date[6:]), int(whole[:2]), int(whole[2:4]),
            int(whole[4:6]), micros,
        )  # fmt: skip
    except ValueError:
        return None
    return local.replace(tzinfo=_zone(offset, clinic_zone)).astimezone(UTC)


def _zone(offset: str | None, clinic_zone: str) -> tzinfo:
    match = _OFFSET.match(offset or "")
    if match:
        sign = -1 if match.group(1) == "-" else 1
        return timezone(sign * timedelta(hours=int(match.group(2)), minutes=int(match.group(3))))
    try:
        return ZoneInfo(clinic_zone)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC
