"""What this server needs beyond R4 (the generator's shaping) and what it adds (the round trip's expectation).

Both come from the mapping modules' docstrings (mappings/*.py); nothing else is hand-typed per type.

Required here, not by R4 (issue 14: mapped types take every valid R4 resource, so little is left):

- a mapped Reference that names a Patient, Practitioner or Organization of this server names one of the clinic
  (Patient.managingOrganization and generalPractitioner, Appointment participants, the subjects,
  Endpoint.managingOrganization); versioned (``/_history/1``) and absolute references on this server's base are
  fine. Generated subjects and participants otherwise name anything R4 allows: a contained resource, a Group, a
  display only;
- Organization: ``name`` (a new Organization is a clinic; test_organization_roundtrip.py);
- Appointment: when both ``start`` and ``end`` are there, end after start. Otherwise drawn as R4 allows: no times
  (a proposed, waitlisted or cancelled one, app-3), any number of Patient and Practitioner participants, an
  ``appointmentType`` and visit-type ``serviceType`` coding the ConceptMaps may not know, spans longer than a
  positiveInt of minutes;
- QuestionnaireResponse: the questionnaire named, if any, is one this server does not hold (answers to a held one
  are checked against it; tests/intake/ covers that), stored unchecked as the round-trip server writes with
  ``Prefer: handling=lenient``. Every status, ``entered-in-error`` included;
- ImagingStudy: a Study Instance UID no other study holds (:func:`made_unique`). The Study Instance UID identifier,
  DICOM UIDs as series and instance uids and codes in the modality and sopClass codings are drawn now and then
  only, so that the series column is exercised.

On top of the generated resource, a string a column holds is now and then made longer than the column
(:func:`_too_long_for_columns`): it must be kept as sent.

Set by the server (:func:`expected`):

- Patient: the MRN identifier (appended), ``managingOrganization`` (the clinic) when no reference was given;
- Appointment: ``minutesDuration`` from start and end (when both are there and the span fits a positiveInt),
  ``appointmentType`` (follow-up) when absent, the clinic's visit-type ``serviceType`` (in-clinic) appended when no
  serviceType holds a coding of its systems, and ``supportingInformation`` lists only the intake forms linked to
  the appointment among relative QuestionnaireResponse references;
- ImagingStudy: ``numberOfSeries`` and ``numberOfInstances`` counted from ``series`` when absent (and not zero,
  and the series are ones the column can describe);
- Endpoint: ``managingOrganization`` (the clinic) when no reference was given, as for Patient.

Unique on the server: an ImagingStudy's Study Instance UID (:func:`made_unique`).
"""

from __future__ import annotations

import copy
import math
import re
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from hypothesis import strategies as st
from sqlalchemy import CheckConstraint

from mappings import lens
from mappings.appointment import CATEGORY_MAP, VISIT_TYPE_MAP
from mappings.base import MappingError, ResourceMapping, parse_instant
from mappings.columns import length_limit
from mappings.datatypes import DICOM_DCM_SYSTEM, DICOM_UID_SYSTEM, IDENTIFIER_TYPE_SYSTEM
from mappings.imaging_study import series_of
from mappings.patient import MRN_SYSTEM
from mappings.registry import MAPPINGS
from mappings.terminology import source_codes, source_system, target_system, translate
from tests.roundtrip.generator import Clinic, Scope, complex_value
from tests.roundtrip.primitives import instants, primitive, text

Shape = Callable[[st.DrawFn, dict[str, Any], Clinic], dict[str, Any]]
UNHELD_QUESTIONNAIRES = "https://forms.example.org/Questionnaire/"
_FORM_REFERENCE = re.compile(r"QuestionnaireResponse/[A-Za-z0-9\-.]{1,64}")
_MODALITIES = ("CT", "MR", "US", "DX", "PT", "NM")
MAX_MINUTES = 2_147_483_647
"""The longest appointment the server gives a minutesDuration: it must be a positiveInt."""


# --- shaping: what the server requires ------------------------------------------------------------------------


def _clinic_reference(draw: st.DrawFn, clinic: Clinic, resource_type: str) -> str:
    """A reference to one of the clinic's ``resource_type``: relative, versioned or on this server's base."""
    resource_id = draw(st.sampled_from(clinic.ids(resource_type)))
    form = draw(st.sampled_from(["{t}/{i}", "{t}/{i}", "{t}/{i}/_history/1", "{base}/{t}/{i}"]))
    return form.format(t=resource_type, i=resource_id, base=clinic.base_url)


def _set_reference(draw: st.DrawFn, holder: dict[str, Any], key: str, clinic: Clinic, target: str) -> None:
    """``holder[key]`` a Reference to the clinic's ``target``, keeping what else the generated Reference had."""
    value = holder.get(key)
    current: dict[str, Any] = value if isinstance(value, dict) else {}
    kept = {k: v for k, v in current.items() if k not in {"reference", "_reference", "type"}}
    holder[key] = {**kept, "reference": _clinic_reference(draw, clinic, target)}


def patient(draw: st.DrawFn, resource: dict[str, Any], clinic: Clinic) -> dict[str, Any]:
    if "managingOrganization" in resource and draw(st.booleans()):
        _set_reference(draw, resource, "managingOrganization", clinic, "Organization")
    else:
        resource.pop("managingOrganization", None)
    return resource


def organization(draw: st.DrawFn, resource: dict[str, Any], clinic: Clinic) -> dict[str, Any]:
    resource["name"] = resource.get("name") or draw(text())
    return resource


def endpoint(draw: st.DrawFn, resource: dict[str, Any], clinic: Clinic) -> dict[str, Any]:
    connection = resource["connectionType"]
    if draw(st.booleans()):  # else as generated: R4's Coding.code is optional
        resource["connectionType"] = {**connection, "code": connection.get("code") or draw(primitive("code"))}
    if "managingOrganization" in resource:
        _set_reference(draw, resource, "managingOrganization", clinic, "Organization")
    return resource


def questionnaire_response(draw: st.DrawFn, resource: dict[str, Any], clinic: Clinic) -> dict[str, Any]:
    """Any status (the required binding's codes, drawn by the generator); no questionnaire or one this server does
    not hold; the subject one of the clinic's Patients, or as generated (any type, contained, or none)."""
    if draw(st.booleans()):
        resource["questionnaire"] = UNHELD_QUESTIONNAIRES + draw(st.uuids()).hex
    else:
        resource.pop("questionnaire", None)
        resource.pop("_questionnaire", None)
    if draw(st.booleans()):
        _set_reference(draw, resource, "subject", clinic, "Patient")
    return resource


def appointment(draw: st.DrawFn, resource: dict[str, Any], clinic: Clinic) -> dict[str, Any]:
    """Start and end (any span), or none for a status R4 lets go without them (app-3); one or two more
    participants naming the clinic's Patients and Practitioners, or none; a visit category and type the
    ConceptMaps know, or not."""
    if resource["status"] in _UNTIMED and draw(st.booleans()):
        for key in ("start", "_start", "end", "_end"):
            resource.pop(key, None)
    else:
        start, end = sorted(draw(st.lists(instants(), min_size=2, max_size=2, unique_by=_instant)), key=_instant)
        resource["start"], resource["end"] = start, end
    others = resource["participant"]
    scope = Scope(clinic, "Appointment", depth=1)
    participants = complex_value("Appointment", "Appointment.participant", scope)
    for target in draw(st.lists(st.sampled_from(["Patient", "Practitioner"]), max_size=3)):
        mapped = draw(participants)
        _set_reference(draw, mapped, "actor", clinic, target)
        others.insert(draw(st.integers(0, len(others))), mapped)
    if "appointmentType" in resource and draw(st.booleans()):
        known = draw(st.sampled_from(_known_codings(CATEGORY_MAP)))
        codings = resource["appointmentType"].get("coding", [])
        resource["appointmentType"] = {**resource["appointmentType"], "coding": [known, *codings[:1]]}
        resource["appointmentType"].pop("_coding", None)
    if draw(st.integers(0, 3)) == 0:
        coding = {"system": target_system(VISIT_TYPE_MAP), "code": draw(st.sampled_from(_ENCOUNTER_CLASSES))}
        resource["serviceType"] = [*resource.get("serviceType", []), {"coding": [coding]}]
        resource.pop("_serviceType", None)
    return resource


_UNTIMED = ("proposed", "cancelled", "waitlist")
"""The statuses an Appointment may have without start and end (R4 invariant app-3)."""
_ENCOUNTER_CLASSES = ("AMB", "VR", "HH", "EMER", "IMP")
"""v3 ActCode encounter classes: two the ConceptMap appointment-visit-type knows, three it does not."""


def _instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _known_codings(conceptmap_id: str) -> list[dict[str, str]]:
    """The codings a ConceptMap reads back: the clinic's own codes and the FHIR codes they translate to."""
    own = [{"system": source_system(conceptmap_id), "code": code} for code in source_codes(conceptmap_id)]
    fhir = [{"system": target_system(conceptmap_id), "code": translate(conceptmap_id, c["code"]).code} for c in own]
    return own + fhir


def imaging_study(draw: st.DrawFn, resource: dict[str, Any], clinic: Clinic) -> dict[str, Any]:
    """A Study Instance UID identifier (mostly a DICOM UID, now and then another value, or none); the subject one
    of the clinic's Patients or as generated (a Device, a Group); series with DICOM UIDs and codes, or as
    generated."""
    identifiers = [i for i in resource.get("identifier", []) if i.get("system") != DICOM_UID_SYSTEM]
    uid = draw(st.sampled_from(["dicom", "dicom", "other", "none"]))
    if uid != "none":
        value = f"urn:oid:{draw(_dicom_uids())}" if uid == "dicom" else draw(text())
        identifiers.insert(draw(st.integers(0, len(identifiers))), {"system": DICOM_UID_SYSTEM, "value": value})
    if identifiers:
        resource["identifier"] = identifiers
    else:
        resource.pop("identifier", None)
    resource.pop("_identifier", None)
    if draw(st.integers(0, 3)) > 0:
        _set_reference(draw, resource, "subject", clinic, "Patient")
    if draw(st.integers(0, 3)) > 0:
        _dicom_series(draw, resource)
    return resource


def _dicom_series(draw: st.DrawFn, resource: dict[str, Any]) -> None:
    """Series and instances the ``series`` column can describe: DICOM UIDs, a modality and sopClass code each;
    now and then DCM modality codings on the study."""
    if draw(st.booleans()):
        codes = draw(st.lists(st.sampled_from(_MODALITIES), min_size=1, max_size=2, unique=True))
        modality = [{"system": DICOM_DCM_SYSTEM, "code": code} for code in codes]
        if draw(st.booleans()):  # R4's Coding.code is optional: a DCM coding may name no modality
            modality.insert(draw(st.integers(0, len(modality))), {"system": DICOM_DCM_SYSTEM, "display": draw(text())})
        resource["modality"] = modality + resource.get("modality", [])[:1]
        resource.pop("_modality", None)
    for series in resource.get("series", []):
        series["uid"] = draw(_dicom_uids())
        series.pop("_uid", None)
        series["modality"] = {
            **series["modality"],
            "code": series["modality"].get("code") or draw(st.sampled_from(_MODALITIES)),
        }
        for instance in series.get("instance", []):
            instance["uid"] = draw(_dicom_uids())
            instance.pop("_uid", None)
            instance["sopClass"] = {
                **instance["sopClass"],
                "code": instance["sopClass"].get("code") or f"urn:oid:{draw(_dicom_uids())}",
            }


def _dicom_uids() -> st.SearchStrategy[str]:
    """DICOM UIDs derived from a UUID (PS3.5 B.2: ``2.25.<the UUID as an integer>``)."""
    return st.uuids().map(lambda u: f"2.25.{u.int}")


SHAPES: dict[str, Shape] = {
    "Patient": patient,
    "Organization": organization,
    "Endpoint": endpoint,
    "QuestionnaireResponse": questionnaire_response,
    "Appointment": appointment,
    "ImagingStudy": imaging_study,
}


def shape(resource_type: str) -> Shape | None:
    """What the server needs of a generated ``resource_type``, then (for a mapping that keeps what its columns
    cannot hold) strings made longer than their columns now and then."""
    shaped = SHAPES.get(resource_type)
    mapping = MAPPINGS.get(resource_type)
    if mapping is None or not mapping.keeps_unheld:
        return shaped

    def shaped_and_long(draw: st.DrawFn, resource: dict[str, Any], clinic: Clinic) -> dict[str, Any]:
        resource = shaped(draw, resource, clinic) if shaped is not None else resource
        return _too_long_for_columns(draw, resource, mapping)

    return shaped_and_long


def _too_long_for_columns(draw: st.DrawFn, resource: dict[str, Any], mapping: type[ResourceMapping]) -> dict[str, Any]:
    """``resource`` with, now and then, a string a column holds made one character longer than the column (an
    open vocabulary's: a CHECK-constrained column holds codes of a required binding, which have their length)."""
    for field in mapping.fields:
        limit = length_limit(mapping.model, field.attr)
        current = lens.get(resource, field.path)
        if limit is None or not isinstance(current, str) or _checked_column(mapping, field.attr):
            continue
        if draw(st.integers(0, 3)) == 0:
            resource = lens.put(resource, field.path, current + "x" * max(1, limit + 1 - len(current)))
    return resource


def _checked_column(mapping: type[ResourceMapping], attr: str) -> bool:
    table: Any = mapping.model.__table__  # type: ignore[attr-defined]
    return any(isinstance(c, CheckConstraint) and attr in str(c.sqltext) for c in table.constraints)


FAVOURED = {"Questionnaire": frozenset({"item"})}
"""Unmapped members drawn as often as mapped ones: a Questionnaire's items are the form itself (mappings/
questionnaire.py keeps them verbatim)."""


def favoured(resource_type: str) -> frozenset[str]:
    return FAVOURED.get(resource_type, frozenset())


# --- what the server adds --------------------------------------------------------------------------------------


def expected(sent: dict[str, Any], served: dict[str, Any], clinic_id: str) -> dict[str, Any]:
    """``sent`` with the elements the server sets (taken from ``served`` after checking their form), without
    ``id`` and ``meta``."""
    result = {k: copy.deepcopy(v) for k, v in sent.items() if k not in {"id", "meta"}}
    added = _SERVER_SET.get(sent["resourceType"])
    return added(result, served, clinic_id) if added else result


def _patient(result: dict[str, Any], served: dict[str, Any], clinic_id: str) -> dict[str, Any]:
    mrns = [i for i in served.get("identifier", []) if i.get("system") == MRN_SYSTEM]
    assert len(mrns) == 1, served.get("identifier")
    mr_type = {"coding": [{"system": IDENTIFIER_TYPE_SYSTEM, "code": "MR"}]}
    assert mrns[0]["type"] == mr_type and mrns[0]["use"] == "usual" and mrns[0]["value"], mrns
    result["identifier"] = [*result.get("identifier", []), mrns[0]]
    return _managed_by_clinic(result, clinic_id)


def _endpoint(result: dict[str, Any], served: dict[str, Any], clinic_id: str) -> dict[str, Any]:
    return _managed_by_clinic(result, clinic_id)


def _managed_by_clinic(result: dict[str, Any], clinic_id: str) -> dict[str, Any]:
    """``managingOrganization``: the clinic's, when the client gave no reference (a display, an identifier)."""
    organization = result.get("managingOrganization") or {}
    if "reference" not in organization:
        result["managingOrganization"] = {**organization, "reference": f"Organization/{clinic_id}"}
    return result


def _appointment(result: dict[str, Any], served: dict[str, Any], clinic_id: str) -> dict[str, Any]:
    start, end = _held_instant(result.get("start")), _held_instant(result.get("end"))
    if "minutesDuration" not in result and start is not None and end is not None:
        minutes = math.ceil((end - start).total_seconds() / 60)
        if minutes <= MAX_MINUTES:
            result["minutesDuration"] = minutes
    if "appointmentType" not in result:
        assert (source_system(CATEGORY_MAP), "follow-up") in _codings_of(served["appointmentType"])
        result["appointmentType"] = served["appointmentType"]
    visit_systems = {source_system(VISIT_TYPE_MAP), target_system(VISIT_TYPE_MAP)}
    concepts = result.get("serviceType", [])
    if not any(c.get("system") in visit_systems for concept in concepts for c in concept.get("coding", [])):
        added = served["serviceType"][-1]
        assert (source_system(VISIT_TYPE_MAP), "in-clinic") in _codings_of(added)
        result["serviceType"] = [*concepts, added]
    kept = [
        e for e in result.get("supportingInformation", []) if not _FORM_REFERENCE.fullmatch(str(e.get("reference")))
    ]
    result.pop("supportingInformation", None)
    if kept:
        result["supportingInformation"] = kept
    return result


def _held_instant(value: Any) -> datetime | None:
    """The instant a column holds (None when absent, or outside the years 1 to 9999 in UTC)."""
    try:
        return parse_instant(value)
    except (TypeError, ValueError):
        return None


def _codings_of(concept: dict[str, Any]) -> set[tuple[Any, Any]]:
    return {(c.get("system"), c.get("code")) for c in concept.get("coding", [])}


def _imaging_study(result: dict[str, Any], served: dict[str, Any], clinic_id: str) -> dict[str, Any]:
    series = result.get("series", [])
    try:
        series_of(series)
    except MappingError:
        return result  # series the column cannot describe: nothing is counted
    if "numberOfSeries" not in result and series:
        result["numberOfSeries"] = len(series)
    instances = sum(s.get("numberOfInstances", len(s.get("instance", []))) for s in series)
    if "numberOfInstances" not in result and instances:
        result["numberOfInstances"] = instances
    return result


_SERVER_SET: dict[str, Callable[[dict[str, Any], dict[str, Any], str], dict[str, Any]]] = {
    "Patient": _patient,
    "Appointment": _appointment,
    "ImagingStudy": _imaging_study,
    "Endpoint": _endpoint,
}


def made_unique(resource: dict[str, Any]) -> dict[str, Any]:
    """``resource`` with a new value wherever the server wants one no other resource has: an ImagingStudy's
    Study Instance UID (hypothesis may draw the same one in two examples)."""
    for identifier in resource.get("identifier", []) if resource["resourceType"] == "ImagingStudy" else []:
        if identifier.get("system") == DICOM_UID_SYSTEM and str(identifier.get("value")).startswith("urn:oid:"):
            identifier["value"] = f"urn:oid:2.25.{uuid.uuid4().int}"
    return resource
