"""imaging_studies <-> ImagingStudy (http://hl7.org/fhir/R4/imagingstudy.html).

Columns, following the R4 ImagingStudy notes (DICOM tags in brackets):

- ``study_instance_uid`` [0020,000D]: the identifier of system ``urn:dicom:uid``, value ``urn:oid:<uid>``;
- ``accession_number`` [0008,0050]: the identifier typed ``ACSN`` (http://terminology.hl7.org/CodeSystem/v2-0203);
- ``status`` (FHIR's own codes), ``subject`` (when it is a Patient), ``started_at`` (``started``), ``description``;
- ``modalities`` [0008,0061]: the codes of the ``modality`` codings of system DCM;
- ``series_count`` / ``instance_count``: ``numberOfSeries`` / ``numberOfInstances``; when absent they are counted
  from ``series`` (and then served, as the server's count);
- ``series``: the series and instance detail, one object per series::

      {"uid": "1.2.3", "number": 1, "modality": "CT", "description": "...", "numberOfInstances": 2,
       "bodySite": {<Coding>}, "instances": [{"uid": "1.2.3.4", "sopClass": "1.2.840.10008.5.1.4.1.1.2",
       "number": 1}]}

  ``modality`` is a DCM code, ``sopClass`` the bare SOP Class UID (served as the Coding
  ``urn:ietf:rfc:3986`` / ``urn:oid:<uid>``); ``number``, ``description``, ``numberOfInstances``, ``bodySite``
  and ``instances`` may be absent. Series are matched to the client's by ``uid`` (instances likewise), so what the
  column does not hold (laterality, performer, started, instance titles...) survives an internal change.
  Series the column cannot describe (a uid that is no DICOM UID, a modality or sopClass without a code: valid R4)
  leave it empty, and the client's series are served as sent.

The Study Instance UID stays unique: it links the record to the study in the DICOM store, and DICOMweb access
(fhir_server.imaging.access) is decided from the clinic and patient of the one ImagingStudy holding it. So a second
ImagingStudy naming a study another one holds is refused (update that one, or use a conditional update on the
identifier); a study identifier that is not a DICOM UID leaves the column empty and is kept as sent.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from fhir_server.db import ImagingStudy
from fhir_server.db.vocab import IMAGING_STUDY_STATUSES
from mappings import lens
from mappings.base import Field, MappingError, ResourceMapping, UnheldValueError, fhir_instant, reference_field
from mappings.datatypes import (
    DICOM_DCM_SYSTEM,
    DICOM_UID_SYSTEM,
    IDENTIFIER_TYPE_SYSTEM,
    URI_SYSTEM,
    dicom_uid,
    one_of,
    parse_datetime,
    text,
    urn_oid,
)

_ACSN = lens.Pick(
    lambda e: (
        isinstance(e, dict)
        and any(
            isinstance(c, dict) and c.get("system") == IDENTIFIER_TYPE_SYSTEM and c.get("code") == "ACSN"
            for c in (e.get("type") or {}).get("coding") or []
        )
    ),
    {"type": {"coding": [{"system": IDENTIFIER_TYPE_SYSTEM, "code": "ACSN"}]}},
)


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("expected a string")
    return value


def _count(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError("expected a count (an unsigned integer)")
    return value


def _dcm(code: str) -> dict[str, Any]:
    return {"system": DICOM_DCM_SYSTEM, "code": code}


def _coding_code(coding: Any, expression: str) -> str:
    if not isinstance(coding, dict) or not isinstance(coding.get("code"), str):
        raise MappingError(f"{expression}: a code is required", expression)
    return str(coding["code"])


def _uid(element: dict[str, Any], expression: str) -> str:
    try:
        return dicom_uid(element.get("uid"))
    except (TypeError, ValueError) as exc:
        raise MappingError(f"{expression}.uid: {exc}", f"{expression}.uid") from None


def _pruned(entries: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in entries.items() if v is not None and v != []}


# --- series and instances ----------------------------------------------------------------------------------


def _instance_of(element: Any, expression: str) -> dict[str, Any]:
    if not isinstance(element, dict):
        raise MappingError(f"{expression}: expected an object", expression)
    sop_class = _coding_code(element.get("sopClass"), f"{expression}.sopClass")
    return _pruned(
        {
            "uid": _uid(element, expression),
            "sopClass": sop_class.removeprefix("urn:oid:"),
            "number": element.get("number"),
        }
    )


def _series_of(element: Any, expression: str) -> dict[str, Any]:
    if not isinstance(element, dict):
        raise MappingError(f"{expression}: expected an object", expression)
    instances = element.get("instance") or []
    return _pruned(
        {
            "uid": _uid(element, expression),
            "number": element.get("number"),
            "modality": _coding_code(element.get("modality"), f"{expression}.modality"),
            "description": element.get("description"),
            "numberOfInstances": element.get("numberOfInstances"),
            "bodySite": element.get("bodySite"),
            "instances": [_instance_of(e, f"{expression}.instance[{i}]") for i, e in enumerate(instances)],
        }
    )


def series_of(elements: Any) -> list[dict[str, Any]]:
    """The ``series`` column value of ImagingStudy.series."""
    if elements is None:
        return []
    if not isinstance(elements, list):
        raise MappingError("ImagingStudy.series: expected an array", "ImagingStudy.series")
    return [_series_of(e, f"ImagingStudy.series[{i}]") for i, e in enumerate(elements)]


def _normal(series: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [_pruned({**s, "instances": [_pruned(i) for i in s.get("instances") or []]}) for s in series]


def _set(element: dict[str, Any], key: str, value: Any) -> None:
    if value is None or value == []:
        element.pop(key, None)
    elif element.get(key) != value:
        element[key] = value


def _keep_coding(current: Any, code: str, render: Callable[[str], dict[str, Any]], strip: str = "") -> Any:
    """The current coding when it still holds ``code`` (display and all), else a new one."""
    held = current.get("code") if isinstance(current, dict) else None
    if isinstance(held, str) and held.removeprefix(strip) == code:
        return current
    return render(code)


def _sop_class(uid: str) -> dict[str, Any]:
    return {"system": URI_SYSTEM, "code": urn_oid(uid)}


def _instance_element(current: dict[str, Any] | None, instance: dict[str, Any]) -> dict[str, Any]:
    element = copy.deepcopy(current) if current else {}
    element["uid"] = instance["uid"]
    element["sopClass"] = _keep_coding(element.get("sopClass"), instance["sopClass"], _sop_class, "urn:oid:")
    _set(element, "number", instance.get("number"))
    return element


def _series_element(current: dict[str, Any] | None, series: dict[str, Any]) -> dict[str, Any]:
    element = copy.deepcopy(current) if current else {}
    element["uid"] = series["uid"]
    _set(element, "number", series.get("number"))
    element["modality"] = _keep_coding(element.get("modality"), series["modality"], _dcm)
    for key in ("description", "numberOfInstances", "bodySite"):
        _set(element, key, series.get(key))
    known = _by_uid(element.get("instance"))
    instances = [_instance_element(known.get(i["uid"]), i) for i in series.get("instances") or []]
    _set(element, "instance", instances)
    return element


def _by_uid(elements: Any) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for element in elements if isinstance(elements, list) else []:
        if isinstance(element, dict) and isinstance(element.get("uid"), str):
            found.setdefault(element["uid"], element)
    return found


@dataclass(frozen=True)
class SeriesField(Field):
    """The ``series`` column: read from ImagingStudy.series, merged back into it by series and instance uid."""

    unheld: ClassVar[Any] = []

    def read(self, resource: Any) -> Any:
        try:
            return series_of(resource.get("series"))
        except MappingError as exc:
            raise UnheldValueError(str(exc), exc.expression) from None

    def write(self, doc: dict[str, Any], row: Any) -> dict[str, Any]:
        series = row.series or []
        current = doc.get("series")
        try:
            if _normal(series_of(current)) == _normal(series):
                return doc
        except MappingError:
            if not series:
                return doc  # series the column could not describe: the client's, as sent
        known = _by_uid(current)
        return lens.put(doc, self.path, [_series_element(known.get(s["uid"]), s) for s in series] or None)


@dataclass(frozen=True)
class ModalitiesField(Field):
    """The ``modalities`` column: the DCM codes of ImagingStudy.modality (other codings stay as they are)."""

    def read(self, resource: Any) -> Any:
        """The codes of the DCM codings (a DCM coding without a code, as R4 allows, names no modality)."""
        codings = resource.get("modality") or []
        return [
            c["code"]
            for c in codings
            if isinstance(c, dict) and c.get("system") == DICOM_DCM_SYSTEM and isinstance(c.get("code"), str)
        ]

    def write(self, doc: dict[str, Any], row: Any) -> dict[str, Any]:
        modalities = list(row.modalities or [])
        if self.read(doc) == modalities:
            return doc
        codings = [c for c in doc.get("modality") or [] if isinstance(c, dict)]
        known = {c.get("code"): c for c in codings if c.get("system") == DICOM_DCM_SYSTEM}
        others = [c for c in codings if c.get("system") != DICOM_DCM_SYSTEM or not isinstance(c.get("code"), str)]
        return lens.put(doc, self.path, [known.get(m) or _dcm(m) for m in modalities] + others or None)


@dataclass(frozen=True)
class CountField(Field):
    """A count column; when the element is absent the count is taken from the resource (``counted``)."""

    counted: Callable[[Any], int] = len

    def read(self, resource: Any) -> Any:
        if lens.get(resource, self.path) is None:
            try:
                return self.counted(series_of(resource.get("series")))
            except MappingError:
                return self.default  # series the server cannot count: no count is served
        return super().read(resource)


def _instances(series: list[dict[str, Any]]) -> int:
    return sum(s.get("numberOfInstances", len(s.get("instances") or [])) for s in series)


class ImagingStudyMapping(ResourceMapping):
    resource_type = "ImagingStudy"
    model = ImagingStudy
    keeps_unheld = True
    fields: ClassVar[tuple[Field, ...]] = (
        Field(
            "study_instance_uid",
            lens.path("identifier", lens.where(system=DICOM_UID_SYSTEM), "value"),
            f"ImagingStudy.identifier.where(system='{DICOM_UID_SYSTEM}').value",
            parse=lambda value: dicom_uid(value, prefixed=True),
            render=urn_oid,
        ),
        Field(
            "accession_number",
            lens.path("identifier", _ACSN, "value"),
            "ImagingStudy.identifier.where(type.coding.code='ACSN').value",
            parse=text(64),
        ),
        Field(
            "status", lens.path("status"), "ImagingStudy.status", parse=one_of(IMAGING_STUDY_STATUSES), required=True
        ),
        ModalitiesField("modalities", lens.path("modality"), "ImagingStudy.modality", default=[]),
        reference_field(
            "patient",
            "Patient",
            lens.path("subject", "reference"),
            "ImagingStudy.subject",
            foreign_key="patient_id",
        ),
        Field("started_at", lens.path("started"), "ImagingStudy.started", parse=parse_datetime, render=fhir_instant),
        CountField("series_count", lens.path("numberOfSeries"), "ImagingStudy.numberOfSeries", parse=_count, default=0),
        CountField(
            "instance_count",
            lens.path("numberOfInstances"),
            "ImagingStudy.numberOfInstances",
            parse=_count,
            default=0,
            counted=_instances,
        ),
        Field("description", lens.path("description"), "ImagingStudy.description", parse=_string),
        SeriesField("series", lens.path("series"), "ImagingStudy.series", default=[]),
    )
