"""What this server needs beyond R4 (the generator's shaping) and what it adds (the round trip's expectation).

Both come from the mapping modules' docstrings (mappings/*.py); nothing else is hand-typed per type.

Required here, not by R4:

- every mapped Reference (Patient.managingOrganization and generalPractitioner, Appointment participants, the
  subjects, Endpoint.managingOrganization) names a resource of the clinic: no contained resource, no other
  server; versioned (``/_history/1``) and absolute references on this server's base are fine;
- Patient: ``name[0].family``; Practitioner: ``name[0].family`` and ``name[0].given[0]``; Organization: ``name``;
- Appointment: ``start`` and ``end`` (end after start, and at most 2^31-1 minutes later when minutesDuration is
  absent); exactly one Patient and one Practitioner participant;
  an ``appointmentType``, when given, holding a coding the ConceptMap ``appointment-visit-category`` knows;
- Endpoint: ``connectionType.code``;
- QuestionnaireResponse: ``questionnaire``, ``subject`` (a Patient), a status the ConceptMap ``intake-status``
  maps (not ``entered-in-error``: a withdrawn form is deleted). The questionnaire named is one this server does not
  hold: answers to a held one are checked against it (tests/intake/ covers that);
- ImagingStudy: the Study Instance UID identifier (``urn:dicom:uid``, ``urn:oid:<uid>``), ``subject`` (a Patient),
  DICOM UIDs as series and instance uids, a code in each series' modality and each instance's sopClass.

Set by the server (:func:`expected`):

- Patient: the MRN identifier (appended), ``managingOrganization`` (the clinic) when no reference was given;
- Appointment: ``minutesDuration`` from start and end, ``appointmentType`` (follow-up) when absent, the clinic's
  visit-type ``serviceType`` (in-clinic) appended when no serviceType holds one, and ``supportingInformation``
  lists only the intake forms linked to the appointment among relative QuestionnaireResponse references;
- ImagingStudy: ``numberOfSeries`` and ``numberOfInstances`` counted from ``series`` when absent (and not zero);
- Endpoint: ``managingOrganization`` (the clinic) when no reference was given, as for Patient.

Unique on the server: an ImagingStudy's Study Instance UID (:func:`made_unique`).
"""

from __future__ import annotations

import copy
import math
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from mappings.appointment import CATEGORY_MAP, VISIT_TYPE_MAP
from mappings.base import reference_target
from mappings.datatypes import DICOM_DCM_SYSTEM, DICOM_UID_SYSTEM, IDENTIFIER_TYPE_SYSTEM
from mappings.patient import MRN_SYSTEM
from mappings.terminology import source_codes, source_system, target_system, translate
from tests.roundtrip.generator import Clinic, Scope, complex_value
from tests.roundtrip.primitives import instants, primitive, text

Shape = Callable[[st.DrawFn, dict[str, Any], Clinic], dict[str, Any]]
UNHELD_QUESTIONNAIRES = "https://forms.example.org/Questionnaire/"
_FORM_REFERENCE = re.compile(r"QuestionnaireResponse/[A-Za-z0-9\-.]{1,64}")
_MODALITIES = ("CT", "MR", "US", "DX", "PT", "NM")
_INTAKE_STATUSES = ("in-progress", "stopped", "completed", "amended")
MAX_MINUTES = 2_147_483_647
MAX_SPAN = timedelta(minutes=MAX_MINUTES)
"""The longest appointment without minutesDuration: the server computes it, and it must be a positiveInt."""


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


def _first_name(draw: st.DrawFn, resource: dict[str, Any], given: bool) -> None:
    names = resource.get("name") or [{}]
    first = names[0]
    first["family"] = first.get("family") or draw(text())
    if given:
        given_names = first.get("given") or []
        first["given"] = [draw(text()) if g is None else g for g in given_names] or [draw(text())]
        if "_given" in first and len(first["_given"]) != len(first["given"]):
            del first["_given"]
    resource["name"] = [first, *names[1:]]


def patient(draw: st.DrawFn, resource: dict[str, Any], clinic: Clinic) -> dict[str, Any]:
    _first_name(draw, resource, given=False)
    if "managingOrganization" in resource and draw(st.booleans()):
        _set_reference(draw, resource, "managingOrganization", clinic, "Organization")
    else:
        resource.pop("managingOrganization", None)
    return resource


def practitioner(draw: st.DrawFn, resource: dict[str, Any], clinic: Clinic) -> dict[str, Any]:
    _first_name(draw, resource, given=True)
    return resource


def organization(draw: st.DrawFn, resource: dict[str, Any], clinic: Clinic) -> dict[str, Any]:
    resource["name"] = resource.get("name") or draw(text())
    return resource


def endpoint(draw: st.DrawFn, resource: dict[str, Any], clinic: Clinic) -> dict[str, Any]:
    connection = resource["connectionType"]
    resource["connectionType"] = {**connection, "code": connection.get("code") or draw(primitive("code"))}
    if "managingOrganization" in resource:
        _set_reference(draw, resource, "managingOrganization", clinic, "Organization")
    return resource


def questionnaire_response(draw: st.DrawFn, resource: dict[str, Any], clinic: Clinic) -> dict[str, Any]:
    resource["questionnaire"] = UNHELD_QUESTIONNAIRES + draw(st.uuids()).hex
    resource["status"] = draw(st.sampled_from(_INTAKE_STATUSES))
    _set_reference(draw, resource, "subject", clinic, "Patient")
    return resource


def appointment(draw: st.DrawFn, resource: dict[str, Any], clinic: Clinic) -> dict[str, Any]:
    start, end = sorted(draw(st.lists(instants(), min_size=2, max_size=2, unique_by=_instant)), key=_instant)
    if "minutesDuration" not in resource and _instant(end) - _instant(start) > MAX_SPAN:
        end = _later(_instant(start), draw(st.integers(1, MAX_MINUTES)))
    resource["start"], resource["end"] = start, end
    others = [p for p in resource["participant"] if not _is_mapped_participant(p)]
    scope = Scope(clinic, "Appointment", depth=1)
    participants = complex_value("Appointment", "Appointment.participant", scope)
    for target in draw(st.permutations(["Patient", "Practitioner"])):
        mapped = draw(participants)
        _set_reference(draw, mapped, "actor", clinic, target)
        others.insert(draw(st.integers(0, len(others))), mapped)
    resource["participant"] = others
    if "appointmentType" in resource:
        known = draw(st.sampled_from(_known_codings(CATEGORY_MAP)))
        codings = resource["appointmentType"].get("coding", [])
        resource["appointmentType"] = {**resource["appointmentType"], "coding": [known, *codings[:1]]}
        resource["appointmentType"].pop("_coding", None)
    return resource


def _is_mapped_participant(participant: dict[str, Any]) -> bool:
    """A participant the server would take for the appointment's Patient or Practitioner."""
    named = reference_target((participant.get("actor") or {}).get("reference"))
    return named is not None and named[0] in {"Patient", "Practitioner"}


def _instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _later(start: datetime, minutes: int) -> str:
    """``minutes`` after ``start`` in UTC (or before the end of the calendar, whichever comes first)."""
    try:
        end = start.astimezone(UTC) + timedelta(minutes=minutes)
    except OverflowError:
        end = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
    return end.isoformat().replace("+00:00", "Z")


def _known_codings(conceptmap_id: str) -> list[dict[str, str]]:
    """The codings a ConceptMap reads back: the clinic's own codes and the FHIR codes they translate to."""
    own = [{"system": source_system(conceptmap_id), "code": code} for code in source_codes(conceptmap_id)]
    fhir = [{"system": target_system(conceptmap_id), "code": translate(conceptmap_id, c["code"]).code} for c in own]
    return own + fhir


def imaging_study(draw: st.DrawFn, resource: dict[str, Any], clinic: Clinic) -> dict[str, Any]:
    identifiers = [i for i in resource.get("identifier", []) if i.get("system") != DICOM_UID_SYSTEM]
    study_uid = {"system": DICOM_UID_SYSTEM, "value": f"urn:oid:{draw(_dicom_uids())}"}
    identifiers.insert(draw(st.integers(0, len(identifiers))), study_uid)
    resource["identifier"] = identifiers
    resource.pop("_identifier", None)
    _set_reference(draw, resource, "subject", clinic, "Patient")
    if draw(st.booleans()):
        codes = draw(st.lists(st.sampled_from(_MODALITIES), min_size=1, max_size=2, unique=True))
        modality = [{"system": DICOM_DCM_SYSTEM, "code": code} for code in codes]
        if draw(st.booleans()):  # R4's Coding.code is optional: a DCM coding may name no modality
            modality.insert(draw(st.integers(0, len(modality))), {"system": DICOM_DCM_SYSTEM, "display": draw(text())})
        resource["modality"] = modality + resource.get("modality", [])[:1]
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
    return resource


def _dicom_uids() -> st.SearchStrategy[str]:
    """DICOM UIDs derived from a UUID (PS3.5 B.2: ``2.25.<the UUID as an integer>``)."""
    return st.uuids().map(lambda u: f"2.25.{u.int}")


SHAPES: dict[str, Shape] = {
    "Patient": patient,
    "Practitioner": practitioner,
    "Organization": organization,
    "Endpoint": endpoint,
    "QuestionnaireResponse": questionnaire_response,
    "Appointment": appointment,
    "ImagingStudy": imaging_study,
}


def shape(resource_type: str) -> Shape | None:
    return SHAPES.get(resource_type)


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
    if "minutesDuration" not in result:
        minutes = (_instant(result["end"]) - _instant(result["start"])).total_seconds() / 60
        result["minutesDuration"] = math.ceil(minutes)
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


def _codings_of(concept: dict[str, Any]) -> set[tuple[Any, Any]]:
    return {(c.get("system"), c.get("code")) for c in concept.get("coding", [])}


def _imaging_study(result: dict[str, Any], served: dict[str, Any], clinic_id: str) -> dict[str, Any]:
    series = result.get("series", [])
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
        if identifier.get("system") == DICOM_UID_SYSTEM:
            identifier["value"] = f"urn:oid:2.25.{uuid.uuid4().int}"
    return resource
